//! A decoded column value that may still borrow its text from the record it came from.

use crate::value::Value;

/// One column of a decoded record: an owned value, or a string borrowed from the record's bytes
/// (the common case for JSON text without escapes, copied once, straight into the Arrow array).
#[derive(Debug, Clone, PartialEq)]
pub enum Cell<'a> {
    Value(Value),
    Str(&'a str),
}

impl Cell<'_> {
    /// True for NULL.
    pub fn is_null(&self) -> bool {
        matches!(self, Cell::Value(Value::Null))
    }

    /// The owned value.
    pub fn into_value(self) -> Value {
        match self {
            Cell::Value(v) => v,
            Cell::Str(s) => Value::String(s.to_string()),
        }
    }
}

impl From<Value> for Cell<'_> {
    fn from(v: Value) -> Self {
        Cell::Value(v)
    }
}
