//! What a statement returns: a completion tag, a table of rows, or an unbounded row stream.

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
    /// A statement that returns no rows; `tag` is the command tag (e.g. `CREATE STREAM`).
    Done { tag: String, message: Option<String> },
    /// A finite table.
    Rows { columns: Vec<ResultColumn>, rows: Vec<Vec<Value>> },
    /// An unbounded stream of rows.
    Stream(RowChannel),
}

impl Output {
    /// A completion without message.
    pub fn done(tag: impl Into<String>) -> Self {
        Self::Done { tag: tag.into(), message: None }
    }

    /// A completion with a message for the user.
    pub fn done_with(tag: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Done { tag: tag.into(), message: Some(message.into()) }
    }

    /// A table of text columns.
    pub fn text_table(names: &[&str], rows: Vec<Vec<String>>) -> Self {
        Self::Rows {
            columns: names.iter().map(|n| ResultColumn::text(*n)).collect(),
            rows: rows.into_iter().map(|r| r.into_iter().map(Value::String).collect()).collect(),
        }
    }
}
