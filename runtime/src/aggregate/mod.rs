//! Aggregate functions (UDAFs) with ksqlDB's semantics as row-wise accumulators, and the state of
//! aggregations: plain groups, tumbling/hopping windows and sessions.

mod accumulator;
mod group_key;
mod groups;
mod sessions;
mod time_windows;

pub use accumulator::{
    resolve_aggregate, resolve_offset_aggregate, resolve_topk, Accumulator, AggregateFunction, AGGREGATE_NAMES,
};
pub use group_key::GroupKey;
pub use groups::{Change, Group, GroupRow, Groups, TableGroups};
pub use sessions::Sessions;
pub use time_windows::TimeWindows;
