//! Aggregate functions (UDAFs) with ksqlDB's semantics, as row-wise accumulators.

mod accumulator;

pub use accumulator::{resolve_aggregate, Accumulator, AggregateFunction, AGGREGATE_NAMES};
