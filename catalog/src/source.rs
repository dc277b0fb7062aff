//! Streams and tables: their columns, topic, formats and timestamp extraction.

use serde::{Deserialize, Serialize};

use crate::{FormatSpec, SourceKind, SqlType, WindowKind};

/// The pseudo-columns every source has, with their types.
pub const PSEUDO_COLUMNS: &[(&str, SqlType)] =
    &[("ROWTIME", SqlType::Bigint), ("ROWPARTITION", SqlType::Int), ("ROWOFFSET", SqlType::Bigint)];

/// Where a column's value comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ColumnKind {
    Key,
    Value,
    /// All headers, as `ARRAY<STRUCT<KEY STRING, VALUE BYTES>>`.
    Headers,
    /// The last header with this key, as BYTES.
    Header(String),
}

/// A column of a source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    pub ty: SqlType,
    pub kind: ColumnKind,
}

impl Column {
    /// A column of the given kind.
    pub fn new(name: impl Into<String>, ty: SqlType, kind: ColumnKind) -> Self {
        Self { name: name.into(), ty, kind }
    }

    /// True for key columns.
    pub fn is_key(&self) -> bool {
        self.kind == ColumnKind::Key
    }
}

/// `TIMESTAMP='col'` with an optional `TIMESTAMP_FORMAT`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimestampSpec {
    pub column: String,
    pub format: Option<String>,
}

/// Most partitions a topic Eddy creates may have (`PARTITIONS`): Kafka's guidance is a few
/// thousand per broker, and the embedded broker keeps memory per partition. Default 10,000; the
/// server sets it from its configuration (`eddy.limit.topic.partitions`).
pub static MAX_PARTITIONS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(10_000);

/// [`MAX_PARTITIONS`] now.
pub fn max_partitions() -> i32 {
    i32::try_from(MAX_PARTITIONS.load(std::sync::atomic::Ordering::Relaxed)).unwrap_or(i32::MAX)
}

/// A stream or table registered in the catalog (serialized in the command log, see [`crate::Command`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    pub name: String,
    pub kind: SourceKind,
    /// Columns in schema order: keys first, then values and headers.
    pub columns: Vec<Column>,
    pub topic: String,
    pub key_format: FormatSpec,
    pub value_format: FormatSpec,
    pub timestamp: Option<TimestampSpec>,
    pub partitions: i32,
    /// Windowed sources (`WINDOW_TYPE`, or a windowed aggregation's result) carry windows in their keys.
    pub window: Option<WindowKind>,
    /// `CREATE SOURCE ...`: read-only.
    pub is_source: bool,
    /// The statement that created it.
    pub statement: String,
}

impl Source {
    /// Key columns in order.
    pub fn key_columns(&self) -> impl Iterator<Item = &Column> {
        self.columns.iter().filter(|c| c.is_key())
    }

    /// Value columns (not keys, not headers) in order.
    pub fn value_columns(&self) -> impl Iterator<Item = &Column> {
        self.columns.iter().filter(|c| c.kind == ColumnKind::Value)
    }

    /// Finds a column by exact name.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// What a column is besides a value, in DDL words: `KEY`, `PRIMARY KEY`, `HEADERS`, `HEADER('k')`.
    pub fn constraint(&self, c: &Column) -> Option<String> {
        match (&c.kind, self.kind) {
            (ColumnKind::Key, SourceKind::Stream) => Some("KEY".into()),
            (ColumnKind::Key, SourceKind::Table) => Some("PRIMARY KEY".into()),
            (ColumnKind::Headers, _) => Some("HEADERS".into()),
            (ColumnKind::Header(k), _) => Some(format!("HEADER('{k}')")),
            (ColumnKind::Value, _) => None,
        }
    }

    /// The schema as ksqlDB prints it: "`ID` BIGINT KEY, `NAME` STRING".
    pub fn schema_string(&self) -> String {
        self.columns
            .iter()
            .map(|c| {
                let suffix = self.constraint(c).map(|w| format!(" {w}")).unwrap_or_default();
                format!("`{}` {}{}", c.name, c.ty, suffix)
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}
