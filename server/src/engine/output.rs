//! What a statement returns: a completion tag, a table of rows, or an unbounded row stream.

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use eddy_catalog::SqlType;
use eddy_runtime::Value;
use tokio::sync::mpsc;

use super::error::EngineError;

/// A result column.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultColumn {
    pub name: String,
    pub ty: SqlType,
}

impl ResultColumn {
    /// A column of a type.
    pub fn new(name: impl Into<String>, ty: SqlType) -> Self {
        Self { name: name.into(), ty }
    }

    /// A STRING column.
    pub fn text(name: impl Into<String>) -> Self {
        Self::new(name, SqlType::String)
    }
}

/// Rows that arrive over time (push queries, PRINT); the channel closes when the stream ends.
pub struct RowChannel {
    pub columns: Vec<ResultColumn>,
    pub rows: mpsc::Receiver<Result<Vec<Value>, EngineError>>,
    /// Stop after this many rows.
    pub limit: Option<u64>,
}

/// The result of one statement.
pub enum Output {
    /// A statement that returns no rows; `tag` is the command tag (e.g. `CREATE STREAM`), `status`
    /// the settings whose new values Postgres reports to the client (ParameterStatus).
    Done { tag: String, message: Option<String>, status: Vec<(String, String)> },
    /// A finite table of Eddy's values.
    Rows { columns: Vec<ResultColumn>, rows: Vec<Vec<Value>> },
    /// A finite table from the SQL engine, in Arrow batches.
    Batches { schema: SchemaRef, batches: Vec<RecordBatch> },
    /// An unbounded stream of rows.
    Stream(RowChannel),
    /// `DECLARE name CURSOR`: the cursor is also a portal clients may describe by name.
    CursorDeclared(String),
    /// Another output with its own completion tag (`FETCH 5`).
    Tagged { tag: String, output: Box<Output> },
    /// `COPY ... TO STDOUT`: the rows of `output` in a COPY format.
    CopyOut { options: super::copy::CopyOptions, output: Box<Output> },
    /// `COPY ... FROM STDIN`: the client sends the rows next.
    CopyIn(super::copy::CopyIn),
}

impl Output {
    /// A completion without message.
    pub fn done(tag: impl Into<String>) -> Self {
        Self::Done { tag: tag.into(), message: None, status: Vec::new() }
    }

    /// A completion with a message for the user.
    pub fn done_with(tag: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Done { tag: tag.into(), message: Some(message.into()), status: Vec::new() }
    }

    /// A completion reporting changed settings.
    pub fn done_reporting(tag: impl Into<String>, status: Vec<(String, String)>) -> Self {
        Self::Done { tag: tag.into(), message: None, status }
    }

    /// A table of text columns.
    pub fn text_table(names: &[&str], rows: Vec<Vec<String>>) -> Self {
        Self::Rows {
            columns: names.iter().map(|n| ResultColumn::text(*n)).collect(),
            rows: rows.into_iter().map(|r| r.into_iter().map(Value::String).collect()).collect(),
        }
    }
}
