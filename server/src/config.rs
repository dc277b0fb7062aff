//! Server configuration: flags, `EDDY_*` environment variables and a TOML file, in that precedence.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Parser;
use serde::Deserialize;

/// Command-line flags of `eddy-server`.
#[derive(Debug, Parser)]
#[command(
    name = "eddy-server",
    version,
    about = "Eddy: streaming SQL over Kafka, spoken over the Postgres wire protocol"
)]
pub struct Flags {
    /// Address for Postgres clients.
    #[arg(long, env = "EDDY_PG_LISTEN")]
    pub pg_listen: Option<String>,
    /// Kafka bootstrap servers; absent: start the embedded in-memory broker.
    #[arg(long, env = "EDDY_KAFKA")]
    pub kafka: Option<String>,
    /// TOML configuration file.
    #[arg(long, env = "EDDY_CONFIG")]
    pub config: Option<PathBuf>,
    /// Log level or filter (error, warn, info, debug, trace, or a tracing filter).
    #[arg(long, env = "EDDY_LOG")]
    pub log: Option<String>,
    /// Service id: names the command topic and consumer groups, so servers can share a cluster.
    #[arg(long, env = "EDDY_SERVICE_ID")]
    pub service_id: Option<String>,
}

/// The TOML file's shape; every flag can be set here too.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub pg_listen: Option<String>,
    pub kafka: Option<String>,
    pub log: Option<String>,
    pub service_id: Option<String>,
    /// Pass-through librdkafka properties (e.g. `"security.protocol" = "SASL_SSL"`).
    #[serde(default)]
    pub kafka_properties: BTreeMap<String, String>,
}

/// The effective configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub pg_listen: String,
    pub kafka: Option<String>,
    pub log: String,
    pub service_id: String,
    pub kafka_properties: BTreeMap<String, String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            pg_listen: "127.0.0.1:5433".into(),
            kafka: None,
            log: "info".into(),
            service_id: "default".into(),
            kafka_properties: BTreeMap::new(),
        }
    }
}

impl Config {
    /// Flags (and their env vars) override the file, which overrides defaults.
    pub fn load(flags: Flags) -> Result<Self, String> {
        let file = match &flags.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                toml::from_str::<FileConfig>(&text).map_err(|e| format!("invalid config {}: {e}", path.display()))?
            }
            None => FileConfig::default(),
        };
        let d = Config::default();
        let mut kafka_properties = file.kafka_properties;
        for (k, v) in std::env::vars() {
            if let Some(rest) = k.strip_prefix("EDDY_KAFKA_PROPERTY_") {
                kafka_properties.insert(rest.to_lowercase().replace('_', "."), v);
            }
        }
        Ok(Self {
            pg_listen: flags.pg_listen.or(file.pg_listen).unwrap_or(d.pg_listen),
            kafka: flags.kafka.or(file.kafka),
            log: flags.log.or(file.log).unwrap_or(d.log),
            service_id: flags.service_id.or(file.service_id).unwrap_or(d.service_id),
            kafka_properties,
        })
    }

    /// The command topic this server's catalog lives in.
    pub fn command_topic(&self) -> String {
        format!("_eddy_{}_command_topic", self.service_id)
    }
}
