//! Data generators: deterministic event sources for benchmarks and demos.

mod connector;
mod datagen;
mod nexmark;
mod random;
mod task;

pub use connector::{ConnectorSpec, GeneratedRow, NexmarkKind, RowSource, CONNECTOR_PROPERTIES};
pub use datagen::Datagen;
pub use nexmark::{Auction, Bid, NexmarkConfig, NexmarkEvent, NexmarkGenerator, Person};
pub use task::{ConnectorProgress, ConnectorTask};
