//! Parse errors, located by a 1-based character position in the statement text.

/// A syntax error in statement text.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    /// What went wrong, in ksqlDB's words where they are known.
    pub message: String,
    /// 1-based character offset in the submitted text, when known.
    pub position: Option<usize>,
}

impl ParseError {
    /// An error at a known position.
    pub fn at(message: impl Into<String>, position: Option<usize>) -> Self {
        Self { message: message.into(), position }
    }
}

/// Result alias of the parser crate.
pub type Result<T, E = ParseError> = std::result::Result<T, E>;
