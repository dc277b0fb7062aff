//! Kafka I/O: the embedded mock cluster, topic admin, and the tokio drivers of queries.

mod admin;
mod broker;
mod capacity;
mod client;
mod continuity;
mod embedded;
mod partition_group;
mod print;
mod push;
mod query_task;
mod restore;
mod view_feed;

pub use admin::{KafkaAdmin, MockAdmin, TopicAdmin};
pub use broker::{KafkaBroker, MAX_SCAN_BYTES};
pub use capacity::{PartitionCapacity, EMBEDDED_PARTITION_BYTES};
pub use client::ClientSettings;
pub use embedded::EmbeddedKafka;
