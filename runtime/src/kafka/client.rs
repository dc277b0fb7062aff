//! Client settings shared by every producer, consumer and admin client of the server.

use std::collections::BTreeMap;

use rdkafka::ClientConfig;

/// Kafka's default largest message (librdkafka's `message.max.bytes`; brokers accept about as
/// much by default): a record over it is refused by the producer before it reaches the broker,
/// which also keeps one record from filling the embedded broker's 5 MiB partitions.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 1_000_000;

/// Bootstrap servers plus pass-through `kafka.*` properties (SASL, SSL, ...).
#[derive(Debug, Clone, Default)]
pub struct ClientSettings {
    pub bootstrap: String,
    pub properties: BTreeMap<String, String>,
}

impl ClientSettings {
    /// Settings for a bootstrap address.
    pub fn new(bootstrap: impl Into<String>) -> Self {
        Self { bootstrap: bootstrap.into(), properties: BTreeMap::new() }
    }

    /// A base client config.
    pub fn config(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.bootstrap);
        c.set("log_level", "3");
        for (k, v) in &self.properties {
            c.set(k, v);
        }
        c
    }

    /// The largest record (key, value and headers with Kafka's framing) the producer sends: the
    /// `message.max.bytes` property when given, else [`DEFAULT_MAX_MESSAGE_BYTES`].
    pub fn max_message_bytes(&self) -> usize {
        self.properties.get("message.max.bytes").and_then(|v| v.parse().ok()).unwrap_or(DEFAULT_MAX_MESSAGE_BYTES)
    }

    /// A producer config: Java's murmur2 partitioner so keys land where ksqlDB puts them.
    pub fn producer(&self) -> ClientConfig {
        let mut c = self.config();
        c.set("message.max.bytes", self.max_message_bytes().to_string());
        c.set("partitioner", "murmur2_random");
        c.set("linger.ms", "1");
        c.set("message.timeout.ms", "30000");
        c
    }

    /// A consumer config for a group.
    pub fn consumer(&self, group: &str, earliest: bool) -> ClientConfig {
        let mut c = self.config();
        c.set("group.id", group);
        c.set("enable.partition.eof", "false");
        c.set("enable.auto.commit", "false");
        c.set("auto.offset.reset", if earliest { "earliest" } else { "latest" });
        c.set("fetch.wait.max.ms", "5");
        c.set("session.timeout.ms", "10000");
        c.set("topic.metadata.refresh.interval.ms", "2000");
        c
    }
}
