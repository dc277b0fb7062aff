//! Catalog errors.

/// An error from a catalog lookup or change.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CatalogError {
    #[error("{kind} {name} does not exist.")]
    NotFound { kind: &'static str, name: String },
    #[error("Cannot add {kind} '{name}': A {existing} with the same name already exists")]
    AlreadyExists { kind: String, name: String, existing: String },
    #[error("{0}")]
    Invalid(String),
}

/// Result alias of the catalog crate.
pub type Result<T, E = CatalogError> = std::result::Result<T, E>;
