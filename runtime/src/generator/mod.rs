//! Data generators: deterministic event sources for benchmarks and demos.

mod nexmark;
mod random;

pub use nexmark::{Auction, Bid, NexmarkConfig, NexmarkEvent, NexmarkGenerator, Person};
