//! Engine errors with a SQLSTATE and, for SQL errors, the position in the statement text.

use eddy_parser::ParseError;
use eddy_planner::PlanError;
use eddy_runtime::RuntimeError;

/// An error returned to a client.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct EngineError {
    pub message: String,
    /// Five-character SQLSTATE.
    pub sqlstate: &'static str,
    /// 1-based character position in the submitted text.
    pub position: Option<usize>,
    /// Where a planner error points, converted to `position` by `locate`.
    location: Option<sqlparser::tokenizer::Location>,
}

/// SQLSTATE codes used by the engine.
pub mod sqlstate {
    pub const SYNTAX_ERROR: &str = "42601";
    pub const UNDEFINED_OBJECT: &str = "42704";
    pub const UNDEFINED_TABLE: &str = "42P01";
    pub const DUPLICATE_OBJECT: &str = "42710";
    pub const DATATYPE_MISMATCH: &str = "42804";
    pub const INVALID_PARAMETER: &str = "22023";
    pub const FEATURE_NOT_SUPPORTED: &str = "0A000";
    pub const DEPENDENT_OBJECTS: &str = "2BP01";
    pub const SYSTEM_ERROR: &str = "58000";
    pub const INTERNAL: &str = "XX000";
}

impl EngineError {
    /// An error with a SQLSTATE.
    pub fn new(sqlstate: &'static str, message: impl Into<String>) -> Self {
        Self { message: message.into(), sqlstate, position: None, location: None }
    }

    /// A syntax error from the parser.
    pub fn syntax(e: ParseError) -> Self {
        Self { message: e.message, sqlstate: sqlstate::SYNTAX_ERROR, position: e.position, location: None }
    }

    /// A planning error: invalid names, types or statements.
    pub fn plan(e: PlanError) -> Self {
        let state = if e.message.contains("does not exist") || e.message.contains("cannot be resolved") {
            sqlstate::UNDEFINED_OBJECT
        } else if e.message.contains("not supported") || e.message.contains("don't support") {
            sqlstate::FEATURE_NOT_SUPPORTED
        } else {
            sqlstate::SYNTAX_ERROR
        };
        Self { message: e.message, sqlstate: state, position: e.position, location: e.location }
    }

    /// Converts a planner location into a position in `text`.
    pub fn locate(mut self, text: &str) -> Self {
        if let Some(loc) = self.location.take() {
            self.position = eddy_parser::location_to_position(text, loc);
        }
        self
    }
}

impl From<RuntimeError> for EngineError {
    fn from(e: RuntimeError) -> Self {
        let state = match &e {
            RuntimeError::Serde(_) | RuntimeError::Eval(_) => sqlstate::INVALID_PARAMETER,
            RuntimeError::Kafka(_) => sqlstate::SYSTEM_ERROR,
            RuntimeError::TopicNotFound(_) => sqlstate::UNDEFINED_OBJECT,
            RuntimeError::Unsupported(_) => sqlstate::FEATURE_NOT_SUPPORTED,
            RuntimeError::Internal(_) => sqlstate::INTERNAL,
        };
        Self::new(state, e.to_string())
    }
}

impl From<PlanError> for EngineError {
    fn from(e: PlanError) -> Self {
        Self::plan(e)
    }
}
