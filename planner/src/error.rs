//! Planning errors, located in the statement text where possible, each of a kind.

use sqlparser::tokenizer::Location;

/// What kind of fault a planning error is: what a caller may match on (never the message).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PlanErrorKind {
    /// Not classified yet.
    #[default]
    Other,
    /// A stream or table that does not exist.
    UnknownSource,
    /// A column that cannot be resolved.
    UnknownColumn,
    /// Valid SQL that Eddy does not support.
    Unsupported,
    /// SQL that ksqlDB refuses in a pull query (JOIN, GROUP BY, aggregates, ...) and that a full SQL
    /// engine can still answer.
    PullUnsupported,
    /// A statement over one of the limits on what a statement may ask for (windows per record,
    /// partitions, ...).
    LimitExceeded,
    /// A key join of sources whose topics have different partition counts.
    NotCopartitioned,
}

/// Why a statement cannot be planned.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct PlanError {
    pub message: String,
    /// Where in the submitted text, when known.
    pub location: Option<Location>,
    /// A 1-based character position, when known directly (e.g. from the parser's AST).
    pub position: Option<usize>,
    pub kind: PlanErrorKind,
}

impl PlanError {
    /// An error without a location.
    pub fn new(message: impl Into<String>) -> Self {
        Self { message: message.into(), location: None, position: None, kind: PlanErrorKind::Other }
    }

    /// An error at a 1-based character position.
    pub fn at_position(message: impl Into<String>, position: Option<usize>) -> Self {
        Self { position, ..Self::new(message) }
    }

    /// An error at a location (ignored when empty).
    pub fn at(message: impl Into<String>, location: Location) -> Self {
        Self { location: (location.line > 0).then_some(location), ..Self::new(message) }
    }

    /// The same error, of a kind.
    pub fn of_kind(self, kind: PlanErrorKind) -> Self {
        Self { kind, ..self }
    }
}

impl From<eddy_runtime::RuntimeError> for PlanError {
    fn from(e: eddy_runtime::RuntimeError) -> Self {
        Self::new(e.to_string())
    }
}

impl From<eddy_catalog::CatalogError> for PlanError {
    fn from(e: eddy_catalog::CatalogError) -> Self {
        let kind = match e {
            eddy_catalog::CatalogError::NotFound { .. } => PlanErrorKind::UnknownSource,
            eddy_catalog::CatalogError::AlreadyExists { .. } | eddy_catalog::CatalogError::Invalid(_) => {
                PlanErrorKind::Other
            }
        };
        Self::new(e.to_string()).of_kind(kind)
    }
}

/// Result alias of the planner crate.
pub type Result<T, E = PlanError> = std::result::Result<T, E>;
