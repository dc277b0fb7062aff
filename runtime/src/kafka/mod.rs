//! Kafka I/O: the embedded mock cluster, topic admin, and the tokio drivers of queries.

mod admin;
mod broker;
mod client;
mod embedded;
mod print;
mod push;
mod query_task;
mod view_feed;

pub use admin::{KafkaAdmin, MockAdmin, TopicAdmin};
pub use broker::KafkaBroker;
pub use client::ClientSettings;
pub use embedded::EmbeddedKafka;
