//! ksqlDB identifier rules: unquoted identifiers fold to upper case, quoted ones keep their case.

use sqlparser::ast::{Ident, ObjectName};

/// The catalog name of an identifier.
pub fn fold_ident(ident: &Ident) -> String {
    match ident.quote_style {
        Some(_) => ident.value.clone(),
        None => ident.value.to_uppercase(),
    }
}

/// The catalog name of a (possibly qualified) object name: the last part, folded.
pub fn object_name(name: &ObjectName) -> String {
    name.0.last().and_then(|part| part.as_ident()).map(fold_ident).unwrap_or_default()
}
