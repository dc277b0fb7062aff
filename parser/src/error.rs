//! Parse errors, located by a 1-based character position in the statement text.

/// Why a text could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseErrorKind {
    /// Not the language's syntax (PostgreSQL's 42601).
    Syntax,
    /// Nested deeper than the parser recurses (sqlparser's recursion limit): PostgreSQL's 54001,
    /// "statement too complex".
    TooComplex,
}

/// A syntax error in statement text.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    pub kind: ParseErrorKind,
    /// What went wrong, in ksqlDB's words where they are known.
    pub message: String,
    /// 1-based character offset in the submitted text, when known.
    pub position: Option<usize>,
}

impl ParseError {
    /// A syntax error at a known position.
    pub fn at(message: impl Into<String>, position: Option<usize>) -> Self {
        Self { kind: ParseErrorKind::Syntax, message: message.into(), position }
    }

    /// A statement nested deeper than the parser goes, at a known position.
    pub fn too_complex(message: impl Into<String>, position: Option<usize>) -> Self {
        Self { kind: ParseErrorKind::TooComplex, message: message.into(), position }
    }
}

/// Result alias of the parser crate.
pub type Result<T, E = ParseError> = std::result::Result<T, E>;
