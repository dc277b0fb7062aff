//! Server configuration: flags, `EDDY_*` environment variables and a TOML file, in that precedence.

use std::collections::BTreeMap;
use std::path::PathBuf;

use std::time::Duration;

use clap::Parser;
use serde::Deserialize;

use crate::engine::PushLimits;
use crate::wire::{AuthMethod, Users};

/// Whether an address (`host:port`) only takes connections from this machine.
pub fn is_loopback(address: &str) -> bool {
    let host = address.rsplit_once(':').map_or(address, |(h, _)| h).trim_matches(['[', ']']);
    match host.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    }
}

/// A size in bytes written as Postgres writes memory settings: a number with an optional unit
/// `B`, `kB`, `MB`, `GB` (powers of 1024; any case).
pub fn byte_size(text: &str) -> Option<usize> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: usize = number.parse().ok()?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "kb" => 10,
        "mb" => 20,
        "gb" => 30,
        _ => return None,
    };
    number.checked_mul(1 << shift)
}

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
    /// Address for HTTP (Prometheus metrics at /metrics, /healthcheck, /info); `none` turns it off.
    #[arg(long, env = "EDDY_HTTP_LISTEN")]
    pub http_listen: Option<String>,
    /// The processing log's stream name (its topic is `<service id>_processing_log`); `none` turns
    /// it off.
    #[arg(long, env = "EDDY_PROCESSING_LOG")]
    pub processing_log: Option<String>,
    /// Write each failed record's bytes (base64) to the processing log.
    #[arg(long, env = "EDDY_PROCESSING_LOG_INCLUDE_ROWS")]
    pub processing_log_include_rows: bool,
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
    /// How clients authenticate: trust (loopback only), password or scram-sha-256 (users and
    /// their SCRAM verifiers in the config file's [users] table).
    #[arg(long, env = "EDDY_AUTH")]
    pub auth: Option<String>,
    /// PEM certificate chain for TLS (with --tls-key).
    #[arg(long, env = "EDDY_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for TLS (with --tls-cert).
    #[arg(long, env = "EDDY_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// Most clients connected at once (default 100; 0: no limit).
    #[arg(long, env = "EDDY_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Close sessions idle this long (e.g. 30s, 10min; default: never). Sessions may SET their own.
    #[arg(long, env = "EDDY_IDLE_SESSION_TIMEOUT")]
    pub idle_session_timeout: Option<String>,
    /// Largest message a client may send (e.g. 64MB, 512kB; default 64MB): a longer one is refused
    /// from its length header, before it is read.
    #[arg(long, env = "EDDY_MAX_MESSAGE_SIZE")]
    pub max_message_size: Option<String>,
    /// Most push queries (`EMIT CHANGES`) running at once on the server (default 100, as ksqlDB's
    /// ksql.max.push.queries; 0: no limit).
    #[arg(long, env = "EDDY_MAX_PUSH_QUERIES")]
    pub max_push_queries: Option<usize>,
    /// Most push queries one session runs at once (default 50; 0: no limit).
    #[arg(long, env = "EDDY_MAX_SESSION_PUSH_QUERIES")]
    pub max_session_push_queries: Option<usize>,
    /// Sets a statement or result limit (repeatable; `SHOW PROPERTIES` lists them), e.g.
    /// `--limit eddy.limit.pull.result.rows=10000` or `--limit query.memory.bytes=2GB`.
    #[arg(long = "limit", value_name = "NAME=VALUE", env = "EDDY_LIMITS", value_delimiter = ',')]
    pub limits: Vec<String>,
    /// Print the SCRAM-SHA-256 verifier of the password read from standard input (for [users]) and exit.
    #[arg(long)]
    pub hash_password: bool,
}

/// The TOML file's shape; every flag can be set here too.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub pg_listen: Option<String>,
    pub http_listen: Option<String>,
    pub processing_log: Option<String>,
    pub processing_log_include_rows: Option<bool>,
    pub kafka: Option<String>,
    pub log: Option<String>,
    pub service_id: Option<String>,
    pub auth: Option<String>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub max_connections: Option<usize>,
    pub idle_session_timeout: Option<String>,
    pub max_message_size: Option<String>,
    pub max_push_queries: Option<usize>,
    pub max_session_push_queries: Option<usize>,
    /// Pass-through librdkafka properties (e.g. `"security.protocol" = "SASL_SSL"`).
    #[serde(default)]
    pub kafka_properties: BTreeMap<String, String>,
    /// Users who may connect: `name = "SCRAM-SHA-256$..."` (`eddy-server --hash-password` makes one).
    #[serde(default)]
    pub users: BTreeMap<String, String>,
    /// Statement and result limits: `eddy.limit.pull.result.rows = 10000`, `"query.memory.bytes" = "2GB"`
    /// (names as `SHOW PROPERTIES` lists them, with or without `eddy.limit.`).
    #[serde(default)]
    pub limits: toml::Table,
}

/// A `[limits]` table's entries as (name, value) text, nested tables (unquoted dotted keys)
/// joined with `.`, names completed with `eddy.limit.`.
fn limit_entries(table: &toml::Table, prefix: &str, out: &mut Vec<(String, String)>) -> Result<(), String> {
    for (key, value) in table {
        let name = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        match value {
            toml::Value::Table(inner) => limit_entries(inner, &name, out)?,
            toml::Value::Integer(n) => out.push((full_limit_name(&name), n.to_string())),
            toml::Value::String(s) => out.push((full_limit_name(&name), s.clone())),
            other => {
                return Err(format!(
                    "invalid value {other} for {}: expected a whole number, or a size such as \"512MB\"",
                    full_limit_name(&name)
                ))
            }
        }
    }
    Ok(())
}

/// A limit's name with the `eddy.limit.` prefix.
fn full_limit_name(name: &str) -> String {
    let name = name.trim();
    if name.to_ascii_lowercase().starts_with("eddy.limit.") {
        name.to_string()
    } else {
        format!("eddy.limit.{name}")
    }
}

/// The processing log's stream name unless configured (ksqlDB's is `KSQL_PROCESSING_LOG`).
pub const DEFAULT_PROCESSING_LOG: &str = "EDDY_PROCESSING_LOG";

/// A processing-log stream name: an identifier (letters, digits, `_`, not starting with a digit),
/// folded to upper case as an unquoted name is.
fn processing_log_name(name: &str) -> Result<String, String> {
    let name = name.trim();
    let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(format!("invalid --processing-log '{name}': use a stream name of letters, digits and _, or none"));
    }
    Ok(name.to_ascii_uppercase())
}

/// ksqlDB's port, on loopback.
pub const DEFAULT_HTTP_LISTEN: &str = "127.0.0.1:8088";

/// The effective configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub pg_listen: String,
    /// The HTTP listener's address; None when turned off (`none`).
    pub http_listen: Option<String>,
    /// Whether `http_listen` was chosen (flag, env or file) rather than the default: a chosen
    /// address that cannot be bound stops the start, the default one only logs why.
    pub http_listen_chosen: bool,
    /// The processing log's stream name (upper-case), None when turned off.
    pub processing_log: Option<String>,
    /// Failed records' bytes go to the processing log (`processing.log.include.rows`).
    pub processing_log_include_rows: bool,
    pub kafka: Option<String>,
    pub log: String,
    pub service_id: String,
    pub kafka_properties: BTreeMap<String, String>,
    pub auth: AuthMethod,
    pub users: Users,
    pub tls: Option<(PathBuf, PathBuf)>,
    pub max_connections: usize,
    pub idle_session_timeout: Option<Duration>,
    /// Bytes (see `--max-message-size`).
    pub max_message_bytes: usize,
    /// See `--max-push-queries` and `--max-session-push-queries`.
    pub push_limits: PushLimits,
    /// Statement and result limits set (`--limit`, `[limits]`), validated; `limits::configure`
    /// applies them.
    pub limits: Vec<(String, String)>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            pg_listen: "127.0.0.1:5433".into(),
            http_listen: Some(DEFAULT_HTTP_LISTEN.into()),
            http_listen_chosen: false,
            processing_log: Some(DEFAULT_PROCESSING_LOG.into()),
            processing_log_include_rows: false,
            kafka: None,
            log: "info".into(),
            service_id: "default".into(),
            kafka_properties: BTreeMap::new(),
            auth: AuthMethod::Trust,
            users: Users::default(),
            tls: None,
            max_connections: 100,
            idle_session_timeout: None,
            max_message_bytes: crate::server::DEFAULT_MAX_MESSAGE_BYTES,
            push_limits: PushLimits::default(),
            limits: Vec::new(),
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
        let auth = match flags.auth.or(file.auth) {
            Some(a) => a.parse()?,
            None => d.auth,
        };
        // Paths in the file are relative to the file's folder; flags' to the working directory.
        let beside_file = |p: PathBuf| match flags.config.as_ref().and_then(|c| c.parent()) {
            Some(dir) if p.is_relative() => dir.join(p),
            _ => p,
        };
        let tls = match (
            flags.tls_cert.clone().or(file.tls_cert.map(beside_file)),
            flags.tls_key.clone().or(file.tls_key.map(beside_file)),
        ) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            _ => return Err("TLS needs both --tls-cert and --tls-key".into()),
        };
        let idle_session_timeout = match flags.idle_session_timeout.or(file.idle_session_timeout) {
            None => None,
            Some(text) => match crate::session::settings::duration_ms(&text) {
                Some(0) => None,
                Some(ms) => Some(Duration::from_millis(ms)),
                None => return Err(format!("invalid --idle-session-timeout '{text}': use e.g. 30s, 10min, 1h")),
            },
        };
        let max_message_bytes = match flags.max_message_size.or(file.max_message_size) {
            None => d.max_message_bytes,
            Some(text) => match byte_size(&text) {
                Some(n) if n >= 1024 && n <= i32::MAX as usize => n,
                _ => return Err(format!("invalid --max-message-size '{text}': use e.g. 64MB, 512kB (1kB to 2GB)")),
            },
        };
        // The file's limits, then the flags' (which win, coming later).
        let mut limits = Vec::new();
        limit_entries(&file.limits, "", &mut limits)?;
        // A limit the file sets twice (`a.b` and `"a.b"`, or names differing in case) is a mistake.
        let mut seen = std::collections::BTreeSet::new();
        for (name, _) in &limits {
            if !seen.insert(name.to_ascii_lowercase()) {
                return Err(format!("limit {name} is set more than once in [limits]"));
            }
        }
        for entry in flags.limits.iter().filter(|e| !e.trim().is_empty()) {
            let (name, value) = entry.split_once('=').ok_or_else(|| {
                format!(
                    "invalid limit '{entry}' (--limit or EDDY_LIMITS): use NAME=VALUE (commas separate several; \
                     write numbers without them)"
                )
            })?;
            limits.push((full_limit_name(name), value.trim().to_string()));
        }
        for (name, value) in &limits {
            crate::limits::parse(name, value)?;
        }
        let http_listen = flags.http_listen.or(file.http_listen);
        let config = Self {
            pg_listen: flags.pg_listen.or(file.pg_listen).unwrap_or(d.pg_listen),
            http_listen_chosen: http_listen.is_some(),
            processing_log: match flags.processing_log.or(file.processing_log) {
                Some(name) if name.trim().eq_ignore_ascii_case("none") => None,
                Some(name) => Some(processing_log_name(&name)?),
                None => d.processing_log,
            },
            processing_log_include_rows: flags.processing_log_include_rows
                || file.processing_log_include_rows.unwrap_or(d.processing_log_include_rows),
            http_listen: match http_listen {
                Some(a) if a.trim().eq_ignore_ascii_case("none") => None,
                Some(a) => Some(a),
                None => d.http_listen,
            },
            kafka: flags.kafka.or(file.kafka),
            log: flags.log.or(file.log).unwrap_or(d.log),
            service_id: flags.service_id.or(file.service_id).unwrap_or(d.service_id),
            kafka_properties,
            auth,
            users: Users::from_entries(&file.users)?,
            tls,
            max_connections: flags.max_connections.or(file.max_connections).unwrap_or(d.max_connections),
            idle_session_timeout,
            max_message_bytes,
            push_limits: PushLimits {
                server: flags.max_push_queries.or(file.max_push_queries).unwrap_or(d.push_limits.server),
                session: flags
                    .max_session_push_queries
                    .or(file.max_session_push_queries)
                    .unwrap_or(d.push_limits.session),
            },
            limits,
        };
        config.check()?;
        Ok(config)
    }

    /// Refuses configurations that would let anyone in from the network, or no one at all.
    fn check(&self) -> Result<(), String> {
        if let Some(http) = self.http_listen.as_deref().filter(|a| self.auth == AuthMethod::Trust && !is_loopback(a)) {
            return Err(format!(
                "refusing to serve HTTP on {http} with --auth trust: anyone who can reach it could read the server's                  metrics. Use --auth password or scram-sha-256 (HTTP then asks for the same users), or listen on                  127.0.0.1, or --http-listen none"
            ));
        }
        match self.auth {
            AuthMethod::Trust if !is_loopback(&self.pg_listen) => Err(format!(
                "refusing to listen on {} with --auth trust: anyone who can reach it could connect as any user. \
                 Use --auth scram-sha-256 with users in the config file's [users] table \
                 (eddy-server --hash-password makes their verifiers), or listen on 127.0.0.1",
                self.pg_listen
            )),
            AuthMethod::Password | AuthMethod::ScramSha256 if self.users.is_empty() => Err(format!(
                "--auth {} needs users: add `name = \"SCRAM-SHA-256$...\"` lines to the config file's [users] table \
                 (eddy-server --hash-password makes them)",
                self.auth
            )),
            _ => Ok(()),
        }
    }

    /// The processing log's topic: `<service id>_processing_log`.
    pub fn processing_log_topic(&self) -> String {
        format!("{}_processing_log", self.service_id)
    }

    /// The command topic this server's catalog lives in.
    pub fn command_topic(&self) -> String {
        format!("_eddy_{}_command_topic", self.service_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_come_from_nested_or_quoted_keys_and_flags() {
        let file: FileConfig = toml::from_str(
            "[limits]\neddy.limit.pull.result.rows = 10\n\"query.memory.bytes\" = \"2GB\"\nstatement.operators = 99\n",
        )
        .expect("config");
        let mut entries = Vec::new();
        limit_entries(&file.limits, "", &mut entries).expect("entries");
        entries.sort();
        assert_eq!(
            entries,
            vec![
                ("eddy.limit.pull.result.rows".to_string(), "10".to_string()),
                ("eddy.limit.query.memory.bytes".to_string(), "2GB".to_string()),
                ("eddy.limit.statement.operators".to_string(), "99".to_string()),
            ]
        );
        let flags = Flags::parse_from(["eddy-server", "--limit", "pull.result.rows=5", "--limit", "nope=1"]);
        let e = Config::load(flags).expect_err("unknown limit");
        assert!(e.contains("unknown limit 'eddy.limit.nope'"), "{e}");
        let flags = Flags::parse_from(["eddy-server", "--limit", "pull.result.rows=5"]);
        let config = Config::load(flags).expect("config");
        assert_eq!(config.limits, vec![("eddy.limit.pull.result.rows".to_string(), "5".to_string())]);
        let flags = Flags::parse_from(["eddy-server", "--limit", "pull.result.rows"]);
        assert!(Config::load(flags).expect_err("no value").contains("NAME=VALUE"));
    }
}
