//! Planning errors, located in the statement text where possible.

use sqlparser::tokenizer::Location;

/// Why a statement cannot be planned.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct PlanError {
    pub message: String,
    /// Where in the submitted text, when known.
    pub location: Option<Location>,
    /// A 1-based character position, when known directly (e.g. from the parser's AST).
    pub position: Option<usize>,
}

impl PlanError {
    /// An error without a location.
    pub fn new(message: impl Into<String>) -> Self {
        Self { message: message.into(), location: None, position: None }
    }

    /// An error at a 1-based character position.
    pub fn at_position(message: impl Into<String>, position: Option<usize>) -> Self {
        Self { message: message.into(), location: None, position }
    }

    /// An error at a location (ignored when empty).
    pub fn at(message: impl Into<String>, location: Location) -> Self {
        Self { message: message.into(), location: (location.line > 0).then_some(location), position: None }
    }
}

impl From<eddy_runtime::RuntimeError> for PlanError {
    fn from(e: eddy_runtime::RuntimeError) -> Self {
        Self::new(e.to_string())
    }
}

impl From<eddy_catalog::CatalogError> for PlanError {
    fn from(e: eddy_catalog::CatalogError) -> Self {
        Self::new(e.to_string())
    }
}

/// Result alias of the planner crate.
pub type Result<T, E = PlanError> = std::result::Result<T, E>;
