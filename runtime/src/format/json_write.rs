//! Writes a JSON object straight from a row of Arrow arrays: primitive columns (and decimals that
//! print exactly) are formatted in place, nested columns go through `value_to_json`. Same bytes as building the object and
//! serializing it.

use arrow::array::*;
use arrow::buffer::NullBuffer;
use arrow::datatypes::{DataType, TimeUnit};
use eddy_catalog::SqlType;

use super::json::value_to_json;
use crate::columnar::array_value;
use crate::error::{Result, RuntimeError};

/// The object writer of a wrapped JSON codec.
pub(super) struct ObjectWriter {
    /// `"NAME":`, escaped once.
    prefixes: Vec<Vec<u8>>,
    types: Vec<SqlType>,
}

impl ObjectWriter {
    /// None when column names repeat (an object keeps one of them: the general path decides which).
    pub fn new(columns: &[(String, SqlType)]) -> Option<Self> {
        let mut names: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
        names.sort_unstable();
        if names.windows(2).any(|w| w.first() == w.last()) {
            return None;
        }
        let prefixes = columns
            .iter()
            .map(|(n, _)| {
                let mut p = serde_json::to_vec(n).unwrap_or_default();
                p.push(b':');
                p
            })
            .collect();
        Some(Self { prefixes, types: columns.iter().map(|(_, t)| t.clone()).collect() })
    }

    /// The writer of rows of `columns` (one per codec column), each array's type looked at once.
    pub fn bind<'c>(&'c self, columns: &'c [ArrayRef]) -> BoundWriter<'c> {
        let fields = self
            .prefixes
            .iter()
            .zip(&self.types)
            .zip(columns)
            .map(|((prefix, ty), array)| Field {
                prefix,
                nulls: array.nulls().cloned(),
                column: Column::of(array.as_ref()),
                array: array.as_ref(),
                ty,
            })
            .collect();
        BoundWriter { fields }
    }
}

/// An object writer bound to one batch's arrays.
pub(super) struct BoundWriter<'c> {
    fields: Vec<Field<'c>>,
}

struct Field<'c> {
    prefix: &'c [u8],
    nulls: Option<NullBuffer>,
    column: Column<'c>,
    array: &'c dyn Array,
    ty: &'c SqlType,
}

/// A column's values, by how they are written.
enum Column<'c> {
    Boolean(&'c BooleanArray),
    Int32(&'c [i32]),
    Int64(&'c [i64]),
    Double(&'c [f64]),
    String(&'c StringArray),
    Decimal(&'c [i128], i8),
    /// Nested values, bytes and anything else: through `value_to_json`.
    Other,
}

impl<'c> Column<'c> {
    fn of(array: &'c dyn Array) -> Self {
        let any = array.as_any();
        let column = match array.data_type() {
            DataType::Boolean => any.downcast_ref::<BooleanArray>().map(Column::Boolean),
            DataType::Int32 => any.downcast_ref::<Int32Array>().map(|a| Column::Int32(a.values())),
            DataType::Date32 => any.downcast_ref::<Date32Array>().map(|a| Column::Int32(a.values())),
            DataType::Time32(TimeUnit::Millisecond) => {
                any.downcast_ref::<Time32MillisecondArray>().map(|a| Column::Int32(a.values()))
            }
            DataType::Int64 => any.downcast_ref::<Int64Array>().map(|a| Column::Int64(a.values())),
            DataType::Timestamp(TimeUnit::Millisecond, _) => {
                any.downcast_ref::<TimestampMillisecondArray>().map(|a| Column::Int64(a.values()))
            }
            DataType::Float64 => any.downcast_ref::<Float64Array>().map(|a| Column::Double(a.values())),
            DataType::Utf8 => any.downcast_ref::<StringArray>().map(Column::String),
            DataType::Decimal128(_, scale) => {
                any.downcast_ref::<Decimal128Array>().map(|a| Column::Decimal(a.values(), *scale))
            }
            _ => None,
        };
        column.unwrap_or(Column::Other)
    }
}

impl BoundWriter<'_> {
    /// Writes row `row` as an object.
    pub fn write(&self, row: usize, out: &mut Vec<u8>) -> Result<()> {
        out.push(b'{');
        for (i, field) in self.fields.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(field.prefix);
            if field.nulls.as_ref().is_some_and(|n| n.is_null(row)) {
                out.extend_from_slice(b"null");
                continue;
            }
            write_value(field, row, out)?;
        }
        out.push(b'}');
        Ok(())
    }
}

/// Writes the non-null value at `row` as `value_to_json` and serde_json would.
fn write_value(field: &Field<'_>, row: usize, out: &mut Vec<u8>) -> Result<()> {
    let serde = |e: serde_json::Error| RuntimeError::Serde(e.to_string());
    fn at<T: Copy>(values: &[T], row: usize) -> Result<T> {
        values.get(row).copied().ok_or_else(|| RuntimeError::Internal(format!("row {row} outside the batch")))
    }
    match &field.column {
        Column::Boolean(a) => out.extend_from_slice(if a.value(row) { b"true" } else { b"false" }),
        Column::Int32(v) => out.extend_from_slice(itoa::Buffer::new().format(at(v, row)?).as_bytes()),
        Column::Int64(v) => out.extend_from_slice(itoa::Buffer::new().format(at(v, row)?).as_bytes()),
        Column::Double(v) if v.get(row).is_some_and(|d| d.is_finite()) => {
            serde_json::to_writer(out, &at(v, row)?).map_err(serde)?
        }
        Column::String(a) => serde_json::to_writer(out, a.value(row)).map_err(serde)?,
        Column::Decimal(v, scale) if v.get(row).is_some_and(|&d| write_decimal(d, *scale, out)) => {}
        // Non-finite doubles, inexact decimals, nested values, bytes.
        _ => serde_json::to_writer(out, &value_to_json(&array_value(field.array, row), field.ty)).map_err(serde)?,
    }
    Ok(())
}

/// Writes a decimal as `value_to_json` does (its text read back as a JSON number, that is, through
/// f64): digits with the fraction's trailing zeros dropped (`3.40` -> `3.4`, `3.00` -> `3.0`). Only
/// when that is exact: at most 15 significant digits and a non-zero integer part; false otherwise.
fn write_decimal(unscaled: i128, scale: i8, out: &mut Vec<u8>) -> bool {
    let Ok(scale) = usize::try_from(scale) else { return false };
    let Ok(magnitude) = u64::try_from(unscaled.unsigned_abs()) else { return false };
    // The digits, formatted on the stack.
    let mut buffer = itoa::Buffer::new();
    let digits = buffer.format(magnitude).as_bytes();
    let without_zeros = |d: &[u8]| d.len() - d.iter().rev().take_while(|&&b| b == b'0').count();
    if digits.len() <= scale || without_zeros(digits) > 15 || digits.len() > 15 + scale {
        return false;
    }
    if unscaled < 0 {
        out.push(b'-');
    }
    let (int, frac) = digits.split_at(digits.len() - scale);
    out.extend_from_slice(int);
    if scale > 0 {
        let frac = frac.get(..without_zeros(frac)).unwrap_or(frac);
        out.push(b'.');
        out.extend_from_slice(if frac.is_empty() { b"0" } else { frac });
    }
    true
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)] // Tests index what they just built.
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::value::Value;

    #[test]
    fn writes_what_the_object_path_writes() {
        let columns = vec![
            ("ID".to_string(), SqlType::Bigint),
            ("N\"AME".to_string(), SqlType::String),
            ("PRICE".to_string(), SqlType::Double),
            ("OK".to_string(), SqlType::Boolean),
            ("TAGS".to_string(), SqlType::Array(Box::new(SqlType::Int))),
            ("AMOUNT".to_string(), SqlType::Decimal { precision: 4, scale: 2 }),
        ];
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(vec![Some(1), None])),
            Arc::new(StringArray::from(vec![Some("a\"b\n\u{e9}"), Some("")])),
            Arc::new(Float64Array::from(vec![Some(1.0), Some(f64::NAN)])),
            Arc::new(BooleanArray::from(vec![Some(true), None])),
            crate::columnar::values_to_array(
                &[Value::Array(vec![Value::Int(1), Value::Null]), Value::Null],
                &columns[4].1,
            )
            .unwrap(),
            crate::columnar::values_to_array(&[Value::Decimal(1234), Value::Decimal(-5)], &columns[5].1).unwrap(),
        ];
        let writer = ObjectWriter::new(&columns).unwrap();
        let bound = writer.bind(&arrays);
        for row in 0..2 {
            let mut fast = Vec::new();
            bound.write(row, &mut fast).unwrap();
            let object: serde_json::Map<String, serde_json::Value> = columns
                .iter()
                .zip(&arrays)
                .map(|((n, t), a)| (n.clone(), value_to_json(&array_value(a.as_ref(), row), t)))
                .collect();
            let slow = serde_json::to_vec(&serde_json::Value::Object(object)).unwrap();
            assert_eq!(String::from_utf8(fast).unwrap(), String::from_utf8(slow).unwrap());
        }
        assert!(ObjectWriter::new(&[("A".into(), SqlType::Int), ("A".into(), SqlType::Int)]).is_none());
    }

    #[test]
    fn decimals_print_as_the_value_path_prints_them() {
        let unscaled: [i128; 12] =
            [0, 5, -5, 100, 1234, -120, 999_999_999_999_999, 1_000_000_000_000_000, 10_234_443_912, 7, 40_000, -3];
        for scale in [0u8, 1, 2, 3, 5] {
            let ty = SqlType::Decimal { precision: 38, scale };
            for v in unscaled {
                let mut fast = Vec::new();
                if write_decimal(v, scale as i8, &mut fast) {
                    let slow = serde_json::to_vec(&value_to_json(&Value::Decimal(v), &ty)).unwrap();
                    assert_eq!(String::from_utf8(fast).unwrap(), String::from_utf8(slow).unwrap(), "{v} scale {scale}");
                }
            }
        }
        assert!(!write_decimal(5, 2, &mut Vec::new()), "0.05 takes the general path");
    }
}
