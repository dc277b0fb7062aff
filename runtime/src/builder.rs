//! Typed Arrow builders that decoded rows are appended to, one per column, with no row-wise detour
//! for the primitive types; nested types are collected as values and converted at the end.

use std::sync::Arc;

use arrow::array::*;
use eddy_catalog::SqlType;

use crate::cell::Cell;
use crate::columnar::values_to_array;
use crate::error::{Result, RuntimeError};
use crate::value::Value;

/// The builder of one column.
pub enum ColumnBuilder {
    Boolean(BooleanBuilder),
    Int(Int32Builder),
    Bigint(Int64Builder),
    Double(Float64Builder),
    Date(Date32Builder),
    Time(Time32MillisecondBuilder),
    Timestamp(TimestampMillisecondBuilder),
    String(StringBuilder),
    /// Decimals, bytes and nested types.
    Values(SqlType, Vec<Value>),
}

impl ColumnBuilder {
    /// A builder for `ty` with room for `rows` rows.
    pub fn new(ty: &SqlType, rows: usize) -> Self {
        match ty {
            SqlType::Boolean => Self::Boolean(BooleanBuilder::with_capacity(rows)),
            SqlType::Int => Self::Int(Int32Builder::with_capacity(rows)),
            SqlType::Bigint => Self::Bigint(Int64Builder::with_capacity(rows)),
            SqlType::Double => Self::Double(Float64Builder::with_capacity(rows)),
            SqlType::Date => Self::Date(Date32Builder::with_capacity(rows)),
            SqlType::Time => Self::Time(Time32MillisecondBuilder::with_capacity(rows)),
            SqlType::Timestamp => Self::Timestamp(TimestampMillisecondBuilder::with_capacity(rows)),
            SqlType::String => Self::String(StringBuilder::with_capacity(rows, rows * 16)),
            other => Self::Values(other.clone(), Vec::with_capacity(rows)),
        }
    }

    /// Appends one value; it must already have the column's type (or be NULL).
    pub fn push(&mut self, cell: Cell<'_>) -> Result<()> {
        // Primitive cells hold nothing to free: they are forgotten rather than run through drop glue.
        macro_rules! primitive {
            ($b:expr, $variant:ident) => {
                match &cell {
                    Cell::Value(Value::Null) => {
                        $b.append_null();
                        std::mem::forget(cell);
                    }
                    Cell::Value(Value::$variant(v)) => {
                        $b.append_value(*v);
                        std::mem::forget(cell);
                    }
                    _ => return Err(mismatch(self.type_name(), cell)),
                }
            };
        }
        match self {
            Self::Boolean(b) => primitive!(b, Boolean),
            Self::Int(b) => primitive!(b, Int),
            Self::Bigint(b) => primitive!(b, Bigint),
            Self::Double(b) => primitive!(b, Double),
            Self::Date(b) => primitive!(b, Date),
            Self::Time(b) => primitive!(b, Time),
            Self::Timestamp(b) => primitive!(b, Timestamp),
            Self::String(b) => match cell {
                Cell::Str(s) => b.append_value(s),
                Cell::Value(Value::String(s)) => b.append_value(s),
                Cell::Value(Value::Null) => {
                    b.append_null();
                    std::mem::forget(cell);
                }
                other => return Err(mismatch("STRING", other)),
            },
            Self::Values(_, values) => values.push(cell.into_value()),
        }
        Ok(())
    }

    /// The finished array.
    pub fn finish(self) -> Result<ArrayRef> {
        Ok(match self {
            Self::Boolean(mut b) => Arc::new(b.finish()),
            Self::Int(mut b) => Arc::new(b.finish()),
            Self::Bigint(mut b) => Arc::new(b.finish()),
            Self::Double(mut b) => Arc::new(b.finish()),
            Self::Date(mut b) => Arc::new(b.finish()),
            Self::Time(mut b) => Arc::new(b.finish()),
            Self::Timestamp(mut b) => Arc::new(b.finish()),
            Self::String(mut b) => Arc::new(b.finish()),
            Self::Values(ty, values) => values_to_array(&values, &ty)?,
        })
    }

    fn type_name(&self) -> &'static str {
        match self {
            Self::Boolean(_) => "BOOLEAN",
            Self::Int(_) => "INT",
            Self::Bigint(_) => "BIGINT",
            Self::Double(_) => "DOUBLE",
            Self::Date(_) => "DATE",
            Self::Time(_) => "TIME",
            Self::Timestamp(_) => "TIMESTAMP",
            Self::String(_) => "STRING",
            Self::Values(..) => "nested",
        }
    }
}

fn mismatch(ty: &str, cell: Cell<'_>) -> RuntimeError {
    RuntimeError::Internal(format!("value {:?} does not fit {ty}", cell.into_value()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_each_primitive_and_nested_type() {
        let mut s = ColumnBuilder::new(&SqlType::String, 2);
        s.push(Cell::Str("a")).unwrap();
        s.push(Cell::Value(Value::Null)).unwrap();
        s.push(Cell::Value(Value::String("b".into()))).unwrap();
        let a = s.finish().unwrap();
        assert_eq!(a.len(), 3);
        assert!(a.is_null(1));

        let mut n = ColumnBuilder::new(&SqlType::Bigint, 1);
        n.push(Cell::Value(Value::Bigint(7))).unwrap();
        assert!(n.push(Cell::Str("x")).is_err());

        let list = SqlType::Array(Box::new(SqlType::Int));
        let mut l = ColumnBuilder::new(&list, 1);
        l.push(Cell::Value(Value::Array(vec![Value::Int(1), Value::Int(2)]))).unwrap();
        assert_eq!(
            crate::columnar::array_value(l.finish().unwrap().as_ref(), 0),
            Value::Array(vec![Value::Int(1), Value::Int(2)])
        );
    }
}
