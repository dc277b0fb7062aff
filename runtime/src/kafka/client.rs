//! Client settings shared by every producer, consumer and admin client of the server.

use std::collections::BTreeMap;

use rdkafka::ClientConfig;

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

    /// A producer config: Java's murmur2 partitioner so keys land where ksqlDB puts them.
    pub fn producer(&self) -> ClientConfig {
        let mut c = self.config();
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
