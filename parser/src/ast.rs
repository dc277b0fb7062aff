//! The statements of Eddy's SQL dialect: ksqlDB's statements plus the Postgres ones clients send.

use std::collections::BTreeMap;
use std::fmt;

use sqlparser::ast::Expr;

use crate::types::SqlType;

/// A parsed statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    /// `CREATE [OR REPLACE] STREAM|TABLE [IF NOT EXISTS] name (cols) WITH (...)`.
    CreateSource(CreateSource),
    /// `CREATE [OR REPLACE] STREAM|TABLE name [WITH (...)] AS SELECT ...`.
    CreateAsSelect(CreateAsSelect),
    /// `INSERT INTO name [WITH (...)] SELECT ...`.
    InsertSelect {
        target: String,
        /// Where the target name starts in the submitted text.
        target_at: sqlparser::tokenizer::Location,
        properties: Properties,
        query: Box<Select>,
    },
    /// `INSERT INTO name [(cols)] VALUES (...)`.
    InsertValues { target: String, columns: Option<Vec<String>>, values: Vec<Expr> },
    /// A push (`EMIT CHANGES`) or pull query.
    Select(Box<Select>),
    /// `SELECT expr, ...` without FROM (constants, `version()`, ...).
    SelectValues(Vec<SelectItem>),
    /// `SHOW ...` / `LIST ...`.
    Show(ShowKind),
    /// `DESCRIBE name [EXTENDED]`.
    Describe { name: String, extended: bool },
    /// `DROP STREAM|TABLE [IF EXISTS] name [DELETE TOPIC]`.
    Drop { kind: SourceKind, name: String, if_exists: bool, delete_topic: bool },
    /// `TERMINATE query_id` or `TERMINATE ALL`.
    Terminate(Option<String>),
    /// `PRINT 'topic' [FROM BEGINNING] [INTERVAL n] [LIMIT n]`.
    Print { topic: String, from_beginning: bool, interval: Option<u64>, limit: Option<u64> },
    /// `SET 'name' = 'value'` (ksqlDB) or `SET name TO value` (Postgres).
    Set { name: String, value: String },
    /// `UNSET 'name'`.
    Unset { name: String },
    /// `EXPLAIN statement`.
    Explain(Box<Statement>),
    /// `EXPLAIN query_id`: the plan of a running query.
    ExplainQuery(String),
}

/// A stream or a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum SourceKind {
    Stream,
    Table,
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Stream => "STREAM",
            Self::Table => "TABLE",
        })
    }
}

/// What `SHOW` lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShowKind {
    Streams {
        extended: bool,
    },
    Tables {
        extended: bool,
    },
    Topics {
        extended: bool,
    },
    Queries {
        extended: bool,
    },
    Properties,
    Functions,
    /// The generator connectors (`CONNECTOR='nexmark' | 'datagen'` streams).
    Connectors,
    /// A Postgres setting, e.g. `SHOW server_version`.
    Variable(String),
}

/// `CREATE STREAM|TABLE` with an explicit schema.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateSource {
    pub kind: SourceKind,
    pub name: String,
    pub or_replace: bool,
    pub if_not_exists: bool,
    /// `CREATE SOURCE STREAM|TABLE`: read-only.
    pub is_source: bool,
    pub columns: Vec<ColumnDef>,
    pub properties: Properties,
}

/// A column in a `CREATE STREAM|TABLE` schema.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnDef {
    pub name: String,
    pub ty: SqlType,
    pub constraint: ColumnConstraint,
    /// Where the column starts in the submitted text (line and column from 1).
    pub at: sqlparser::tokenizer::Location,
}

/// What a column is besides a value column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnConstraint {
    None,
    /// `KEY` (streams).
    Key,
    /// `PRIMARY KEY` (tables).
    PrimaryKey,
    /// `HEADERS`: all headers as `ARRAY<STRUCT<KEY STRING, VALUE BYTES>>`.
    Headers,
    /// `HEADER('key')`: the last header with that key, as BYTES.
    Header(String),
}

/// `CREATE STREAM|TABLE ... AS SELECT`.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateAsSelect {
    pub kind: SourceKind,
    pub name: String,
    pub or_replace: bool,
    pub if_not_exists: bool,
    pub properties: Properties,
    pub query: Box<Select>,
}

/// A `WITH (...)` property value.
#[derive(Debug, Clone, PartialEq)]
pub enum PropertyValue {
    String(String),
    Number(String),
    Boolean(bool),
}

impl PropertyValue {
    /// The value as text, however it was written.
    pub fn as_text(&self) -> String {
        match self {
            Self::String(s) | Self::Number(s) => s.clone(),
            Self::Boolean(b) => b.to_string(),
        }
    }
}

/// `WITH (...)` properties, keyed by upper-cased name, each with its position.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Properties(pub BTreeMap<String, PropertyValue>);

impl Properties {
    /// The property's text, if set.
    pub fn get(&self, name: &str) -> Option<String> {
        self.0.get(name).map(PropertyValue::as_text)
    }
}

/// A SELECT in ksqlDB's grammar.
#[derive(Debug, Clone, PartialEq)]
pub struct Select {
    pub projection: Vec<SelectItem>,
    pub from: FromClause,
    pub window: Option<WindowSpec>,
    pub selection: Option<Expr>,
    pub group_by: Vec<Expr>,
    pub partition_by: Vec<Expr>,
    pub having: Option<Expr>,
    pub emit: Option<EmitMode>,
    pub limit: Option<u64>,
    /// 1-based position of the SELECT keyword.
    pub position: Option<usize>,
}

/// One item of a SELECT list.
#[derive(Debug, Clone, PartialEq)]
pub enum SelectItem {
    /// `*` or `alias.*`.
    Wildcard { qualifier: Option<String> },
    /// An expression with an optional alias.
    Expr { expr: Box<Expr>, alias: Option<String> },
}

/// The FROM clause: one source or a chain of joins.
#[derive(Debug, Clone, PartialEq)]
pub struct FromClause {
    pub source: SourceRef,
    pub joins: Vec<Join>,
}

/// A named source with an optional alias.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceRef {
    pub name: String,
    pub alias: Option<String>,
    pub position: Option<usize>,
}

/// `[INNER|LEFT|RIGHT|FULL [OUTER]] JOIN source [WITHIN ...] ON expr`.
#[derive(Debug, Clone, PartialEq)]
pub struct Join {
    pub kind: JoinKind,
    pub source: SourceRef,
    pub within: Option<JoinWindow>,
    pub on: Expr,
}

/// The kind of a join.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinKind {
    Inner,
    Left,
    Right,
    Full,
}

/// `WITHIN n UNIT` or `WITHIN (before, after)` with an optional grace period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinWindow {
    pub before_ms: u64,
    pub after_ms: u64,
    pub grace_ms: Option<u64>,
}

/// A `WINDOW` clause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WindowSpec {
    Tumbling { size_ms: u64, retention_ms: Option<u64>, grace_ms: Option<u64> },
    Hopping { size_ms: u64, advance_ms: u64, retention_ms: Option<u64>, grace_ms: Option<u64> },
    Session { gap_ms: u64, retention_ms: Option<u64>, grace_ms: Option<u64> },
}

/// `EMIT CHANGES` or `EMIT FINAL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmitMode {
    Changes,
    Final,
}
