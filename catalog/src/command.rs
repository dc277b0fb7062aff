//! A command-log record: one successful DDL or persistent-query statement, replayed on start.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Source;

/// The version of command records this build writes and the newest it reads. Version 1 records
/// (written before versions were recorded) hold only the statement, its properties and query id;
/// version 2 adds the created stream or table ([`Command::sink`]).
pub const COMMAND_VERSION: u32 = 2;

/// What the command topic holds for each statement that changed the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Command {
    /// The statement text as the user wrote it.
    pub statement: String,
    /// Session properties in force when it ran (they shape planning).
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
    /// The id given to the persistent query it started, if any.
    #[serde(default)]
    pub query_id: Option<String>,
    /// The record's version ([`COMMAND_VERSION`] when written by this build; 1 when absent). A
    /// server refuses to replay a record newer than it reads, and says so.
    #[serde(default = "first_version")]
    pub version: u32,
    /// The stream or table a `CREATE ... AS SELECT` created, as planned when it first ran:
    /// replay checks that planning the statement again gives the same columns, formats, topic and
    /// partitions, and keeps this entry in the catalog when the query cannot be replayed (so later
    /// commands that read it still replay).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sink: Option<Source>,
}

fn first_version() -> u32 {
    1
}

impl Command {
    /// A record of this build's version.
    pub fn new(statement: impl Into<String>, properties: BTreeMap<String, String>, query_id: Option<String>) -> Self {
        Self { statement: statement.into(), properties, query_id, version: COMMAND_VERSION, sink: None }
    }

    /// Serializes the command for the command topic.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Reads a command from the command topic.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Column, ColumnKind, Format, FormatSpec, SourceKind, SqlType, WindowKind};

    #[test]
    fn a_record_keeps_its_sink_and_an_old_record_reads_as_version_1() {
        let mut command = Command::new("CREATE TABLE t AS SELECT ...", BTreeMap::new(), Some("CTAS_T_0".into()));
        command.sink = Some(Source {
            name: "T".into(),
            kind: SourceKind::Table,
            columns: vec![
                Column::new(
                    "ID",
                    SqlType::Struct(vec![("A".into(), SqlType::Decimal { precision: 4, scale: 2 })]),
                    ColumnKind::Key,
                ),
                Column::new("N", SqlType::Map(Box::new(SqlType::String), Box::new(SqlType::Bigint)), ColumnKind::Value),
            ],
            topic: "T".into(),
            key_format: FormatSpec::new(Format::Json),
            value_format: FormatSpec::new(Format::Json),
            timestamp: None,
            partitions: 3,
            window: Some(WindowKind::Hopping { size_ms: 1000 }),
            is_source: false,
            statement: "CREATE TABLE t AS SELECT ...".into(),
        });
        let read = Command::from_bytes(&command.to_bytes()).expect("read back");
        assert_eq!(read, command);
        assert_eq!(read.version, COMMAND_VERSION);

        let old = Command::from_bytes(br#"{"statement":"CREATE STREAM s AS SELECT * FROM x;","query_id":"CSAS_S_0"}"#)
            .expect("an old record");
        assert_eq!((old.version, old.sink), (1, None));
    }
}
