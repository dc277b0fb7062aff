//! The migrations metadata on the server: a stream of events (one per state change of a version, written
//! twice: under the version's key and under `CURRENT`) and a table of each key's latest event,
//! materialized from it (as ksql-migrations keeps them). The tool reads the events stream with a pull
//! query: its writes are acknowledged before INSERT returns, so a command always sees the previous one's
//! effects, while the table catches up asynchronously (it is there for users to query).

use std::collections::BTreeMap;

use tokio_postgres::{Client, SimpleQueryMessage, SimpleQueryRow};

use super::config::MigrationConfig;
use crate::error::ShellError;

/// The key of the event that repeats the latest state change.
pub const CURRENT: &str = "CURRENT";

/// Where a version stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MigrationState {
    Pending,
    Running,
    Migrated,
    Error,
}

impl MigrationState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Running => "RUNNING",
            Self::Migrated => "MIGRATED",
            Self::Error => "ERROR",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "PENDING" => Self::Pending,
            "RUNNING" => Self::Running,
            "MIGRATED" => Self::Migrated,
            "ERROR" => Self::Error,
            _ => return None,
        })
    }
}

/// One version's latest recorded event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionRecord {
    pub version: u32,
    pub name: String,
    pub state: MigrationState,
    pub checksum: String,
    pub started_on: Option<String>,
    pub completed_on: Option<String>,
    /// The latest migrated version when this one started (`<none>` for the first).
    pub previous: String,
    pub error_reason: Option<String>,
}

/// What the server knows: each version's latest event, and the latest event overall.
#[derive(Debug, Clone, Default)]
pub struct History {
    pub versions: BTreeMap<u32, VersionRecord>,
    pub current: Option<VersionRecord>,
}

impl History {
    /// The highest version in MIGRATED state.
    pub fn latest_migrated(&self) -> Option<u32> {
        self.versions.values().filter(|r| r.state == MigrationState::Migrated).map(|r| r.version).max()
    }
}

const COLUMNS: &str = "VERSION_KEY, VERSION, NAME, STATE, CHECKSUM, STARTED_ON, COMPLETED_ON, PREVIOUS, ERROR_REASON";

/// The metadata of one project on one connection.
pub struct Metadata<'a> {
    pub client: &'a Client,
    pub config: &'a MigrationConfig,
}

/// Runs statements and returns their rows.
pub async fn simple(client: &Client, sql: &str) -> Result<Vec<SimpleQueryRow>, ShellError> {
    let messages = client.simple_query(sql).await.map_err(ShellError::from_pg)?;
    Ok(messages
        .into_iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some(r),
            _ => None,
        })
        .collect())
}

/// A SQL string literal.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn quote_opt(s: &Option<String>) -> String {
    s.as_deref().map(quote).unwrap_or_else(|| "NULL".into())
}

impl Metadata<'_> {
    /// Names of the sources of a kind (`STREAMS` / `TABLES`).
    async fn names(&self, kind: &str) -> Result<Vec<String>, ShellError> {
        let rows = simple(self.client, &format!("SHOW {kind};")).await?;
        Ok(rows.iter().filter_map(|r| r.get(0).map(str::to_ascii_uppercase)).collect())
    }

    /// Creates the events stream and the versions table, each unless it exists; says what it did.
    pub async fn initialize(&self) -> Result<Vec<String>, ShellError> {
        let c = self.config;
        let mut done = Vec::new();
        if self.names("STREAMS").await?.contains(&c.events_stream.to_ascii_uppercase()) {
            done.push(format!("Stream {} already exists.", c.events_stream));
        } else {
            simple(
                self.client,
                &format!(
                    "CREATE STREAM {} (VERSION_KEY STRING KEY, VERSION STRING, NAME STRING, STATE STRING, \
                     CHECKSUM STRING, STARTED_ON STRING, COMPLETED_ON STRING, PREVIOUS STRING, ERROR_REASON STRING) \
                     WITH (KAFKA_TOPIC={}, VALUE_FORMAT='JSON', PARTITIONS=1);",
                    c.events_stream,
                    quote(&c.events_topic)
                ),
            )
            .await?;
            done.push(format!("Created stream {} (topic {}).", c.events_stream, c.events_topic));
        }
        if self.names("TABLES").await?.contains(&c.versions_table.to_ascii_uppercase()) {
            done.push(format!("Table {} already exists.", c.versions_table));
        } else {
            let latest: Vec<String> =
                COLUMNS.split(", ").skip(1).map(|col| format!("LATEST_BY_OFFSET({col}) AS {col}")).collect();
            simple(
                self.client,
                &format!(
                    "SET 'auto.offset.reset'='earliest'; CREATE TABLE {} WITH (KAFKA_TOPIC={}) AS SELECT VERSION_KEY, {} \
                     FROM {} GROUP BY VERSION_KEY;",
                    c.versions_table,
                    quote(&c.versions_topic),
                    latest.join(", "),
                    c.events_stream
                ),
            )
            .await?;
            done.push(format!("Created table {} (topic {}).", c.versions_table, c.versions_topic));
        }
        Ok(done)
    }

    /// Terminates the query that fills the table, then drops the table and the stream with their topics.
    pub async fn destroy(&self) -> Result<Vec<String>, ShellError> {
        let c = self.config;
        let mut done = Vec::new();
        for row in simple(self.client, "SHOW QUERIES;").await? {
            let (Some(id), Some(kind), Some(sink)) = (row.get(0), row.get(1), row.get(3)) else { continue };
            if kind == "PERSISTENT" && sink.eq_ignore_ascii_case(&c.versions_table) {
                simple(self.client, &format!("TERMINATE {id};")).await?;
                done.push(format!("Terminated query {id}."));
            }
        }
        if self.names("TABLES").await?.contains(&c.versions_table.to_ascii_uppercase()) {
            simple(self.client, &format!("DROP TABLE {} DELETE TOPIC;", c.versions_table)).await?;
            done.push(format!("Dropped table {} and its topic.", c.versions_table));
        }
        if self.names("STREAMS").await?.contains(&c.events_stream.to_ascii_uppercase()) {
            simple(self.client, &format!("DROP STREAM {} DELETE TOPIC;", c.events_stream)).await?;
            done.push(format!("Dropped stream {} and its topic.", c.events_stream));
        }
        if done.is_empty() {
            done.push("No migrations metadata found: nothing to destroy.".into());
        }
        Ok(done)
    }

    /// Reads every event (a pull query over the stream) and keeps each key's latest.
    pub async fn read(&self) -> Result<History, ShellError> {
        let sql = format!("SELECT {COLUMNS} FROM {};", self.config.events_stream);
        let rows = match simple(self.client, &sql).await {
            Ok(rows) => rows,
            Err(ShellError::Server { message, .. }) if message.contains("does not exist") => {
                return Err(ShellError::Usage(format!(
                    "The migrations metadata is not initialized on this server ({message}): run `eddy migrate initialize-metadata` first."
                )))
            }
            Err(e) => return Err(e),
        };
        let mut history = History::default();
        for row in rows {
            let get = |i: usize| row.get(i).map(str::to_string);
            let (Some(key), Some(version), Some(state)) = (get(0), get(1), get(3)) else { continue };
            let (Ok(version), Some(state)) = (version.parse::<u32>(), MigrationState::parse(&state)) else {
                continue;
            };
            let record = VersionRecord {
                version,
                name: get(2).unwrap_or_default(),
                state,
                checksum: get(4).unwrap_or_default(),
                started_on: get(5),
                completed_on: get(6),
                previous: get(7).unwrap_or_default(),
                error_reason: get(8),
            };
            if key == CURRENT {
                history.current = Some(record);
            } else {
                history.versions.insert(version, record);
            }
        }
        Ok(history)
    }

    /// Appends a version's new state, under its key and under `CURRENT`.
    pub async fn record(&self, r: &VersionRecord) -> Result<(), ShellError> {
        let values = |key: &str| {
            format!(
                "INSERT INTO {} ({COLUMNS}) VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {});",
                self.config.events_stream,
                quote(key),
                quote(&r.version.to_string()),
                quote(&r.name),
                quote(r.state.as_str()),
                quote(&r.checksum),
                quote_opt(&r.started_on),
                quote_opt(&r.completed_on),
                quote(&r.previous),
                quote_opt(&r.error_reason),
            )
        };
        simple(self.client, &values(&r.version.to_string())).await?;
        simple(self.client, &values(CURRENT)).await?;
        Ok(())
    }
}
