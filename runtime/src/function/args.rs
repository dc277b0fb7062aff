//! Reading scalar function arguments.

use crate::value::Value;

/// The text of a STRING argument; None for NULL (or another type).
pub(crate) fn text(v: &Value) -> Option<&str> {
    match v {
        Value::String(s) => Some(s),
        _ => None,
    }
}

/// The elements of an ARRAY argument; None for NULL (or another type).
pub(crate) fn items(v: &Value) -> Option<&[Value]> {
    match v {
        Value::Array(items) => Some(items),
        _ => None,
    }
}
