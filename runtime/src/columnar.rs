//! Conversions between row-wise `Value`s and Arrow arrays.

use std::sync::Arc;

use arrow::array::*;
use arrow::buffer::{NullBuffer, OffsetBuffer};
use arrow::datatypes::{DataType, Field, TimeUnit};
use eddy_catalog::{arrow_type, SqlType};

use crate::error::{Result, RuntimeError};
use crate::value::Value;

/// Builds an array of `ty` from values; values must already have the column's type (or be NULL).
pub fn values_to_array(values: &[Value], ty: &SqlType) -> Result<ArrayRef> {
    let mismatch = |v: &Value| RuntimeError::Internal(format!("value {v:?} does not fit {ty}"));
    macro_rules! primitive {
        ($array:ty, $variant:ident) => {{
            let mut out = Vec::with_capacity(values.len());
            for v in values {
                out.push(match v {
                    Value::Null => None,
                    Value::$variant(x) => Some(*x),
                    other => return Err(mismatch(other)),
                });
            }
            Arc::new(<$array>::from(out)) as ArrayRef
        }};
    }
    Ok(match ty {
        SqlType::Boolean => primitive!(BooleanArray, Boolean),
        SqlType::Int => primitive!(Int32Array, Int),
        SqlType::Bigint => primitive!(Int64Array, Bigint),
        SqlType::Double => primitive!(Float64Array, Double),
        SqlType::Date => primitive!(Date32Array, Date),
        SqlType::Time => primitive!(Time32MillisecondArray, Time),
        SqlType::Timestamp => primitive!(TimestampMillisecondArray, Timestamp),
        SqlType::Decimal { precision, scale } => {
            let a = primitive!(Decimal128Array, Decimal);
            let a = a
                .as_any()
                .downcast_ref::<Decimal128Array>()
                .cloned()
                .unwrap_or_else(|| Decimal128Array::from(Vec::<i128>::new()));
            Arc::new(
                a.with_precision_and_scale(*precision, *scale as i8)
                    .map_err(|e| RuntimeError::Internal(e.to_string()))?,
            )
        }
        SqlType::String => {
            let mut b = StringBuilder::with_capacity(values.len(), values.len() * 8);
            for v in values {
                match v {
                    Value::Null => b.append_null(),
                    Value::String(s) => b.append_value(s),
                    other => return Err(mismatch(other)),
                }
            }
            Arc::new(b.finish())
        }
        SqlType::Bytes => {
            let mut b = BinaryBuilder::new();
            for v in values {
                match v {
                    Value::Null => b.append_null(),
                    Value::Bytes(s) => b.append_value(s),
                    other => return Err(mismatch(other)),
                }
            }
            Arc::new(b.finish())
        }
        SqlType::Array(item) => {
            let mut offsets = vec![0i32];
            let mut valid = Vec::with_capacity(values.len());
            let mut children = Vec::new();
            for v in values {
                match v {
                    Value::Null => valid.push(false),
                    Value::Array(items) => {
                        valid.push(true);
                        children.extend(items.iter().cloned());
                    }
                    other => return Err(mismatch(other)),
                }
                offsets.push(children.len() as i32);
            }
            let child = values_to_array(&children, item)?;
            Arc::new(ListArray::try_new(
                Arc::new(Field::new("item", arrow_type(item), true)),
                OffsetBuffer::new(offsets.into()),
                child,
                Some(NullBuffer::from(valid)),
            )?)
        }
        SqlType::Map(k, v) => {
            let mut offsets = vec![0i32];
            let mut valid = Vec::with_capacity(values.len());
            let (mut keys, mut vals) = (Vec::new(), Vec::new());
            for value in values {
                match value {
                    Value::Null => valid.push(false),
                    Value::Map(entries) => {
                        valid.push(true);
                        for (ek, ev) in entries {
                            keys.push(ek.clone());
                            vals.push(ev.clone());
                        }
                    }
                    other => return Err(mismatch(other)),
                }
                offsets.push(keys.len() as i32);
            }
            let DataType::Map(entries_field, _) = arrow_type(ty) else {
                return Err(RuntimeError::Internal("map type".into()));
            };
            let DataType::Struct(fields) = entries_field.data_type().clone() else {
                return Err(RuntimeError::Internal("map entries type".into()));
            };
            // A NULL key cannot be stored (map keys are not nullable): an error, not a panic.
            let entries =
                StructArray::try_new(fields, vec![values_to_array(&keys, k)?, values_to_array(&vals, v)?], None)?;
            Arc::new(MapArray::try_new(
                entries_field,
                OffsetBuffer::new(offsets.into()),
                entries,
                Some(NullBuffer::from(valid)),
                false,
            )?)
        }
        SqlType::Struct(fields) => {
            let DataType::Struct(arrow_fields) = arrow_type(ty) else {
                return Err(RuntimeError::Internal("struct type".into()));
            };
            let mut valid = Vec::with_capacity(values.len());
            let mut columns: Vec<Vec<Value>> = vec![Vec::with_capacity(values.len()); fields.len()];
            for value in values {
                match value {
                    Value::Null => {
                        valid.push(false);
                        columns.iter_mut().for_each(|c| c.push(Value::Null));
                    }
                    Value::Struct(items) => {
                        valid.push(true);
                        for (i, (name, _)) in fields.iter().enumerate() {
                            let v =
                                items.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()).unwrap_or(Value::Null);
                            columns[i].push(v);
                        }
                    }
                    other => return Err(mismatch(other)),
                }
            }
            let arrays =
                fields.iter().zip(&columns).map(|((_, t), col)| values_to_array(col, t)).collect::<Result<Vec<_>>>()?;
            if fields.is_empty() {
                Arc::new(StructArray::new_empty_fields(values.len(), Some(NullBuffer::from(valid))))
            } else {
                Arc::new(StructArray::try_new(arrow_fields, arrays, Some(NullBuffer::from(valid)))?)
            }
        }
    })
}

/// Reads row `i` of an array as a `Value`.
pub fn array_value(array: &dyn Array, i: usize) -> Value {
    if array.is_null(i) {
        return Value::Null;
    }
    macro_rules! get {
        ($t:ty, $variant:ident) => {
            array.as_any().downcast_ref::<$t>().map(|a| Value::$variant(a.value(i).into())).unwrap_or(Value::Null)
        };
    }
    match array.data_type() {
        DataType::Boolean => get!(BooleanArray, Boolean),
        DataType::Int8 => {
            array.as_any().downcast_ref::<Int8Array>().map(|a| Value::Int(a.value(i) as i32)).unwrap_or(Value::Null)
        }
        DataType::Int16 => {
            array.as_any().downcast_ref::<Int16Array>().map(|a| Value::Int(a.value(i) as i32)).unwrap_or(Value::Null)
        }
        DataType::Int32 => get!(Int32Array, Int),
        DataType::Int64 => get!(Int64Array, Bigint),
        DataType::Float32 => array
            .as_any()
            .downcast_ref::<Float32Array>()
            .map(|a| Value::Double(a.value(i) as f64))
            .unwrap_or(Value::Null),
        DataType::Float64 => get!(Float64Array, Double),
        DataType::Decimal128(_, _) => get!(Decimal128Array, Decimal),
        DataType::Date32 => get!(Date32Array, Date),
        DataType::Time32(TimeUnit::Millisecond) => get!(Time32MillisecondArray, Time),
        DataType::Timestamp(TimeUnit::Millisecond, _) => get!(TimestampMillisecondArray, Timestamp),
        DataType::Utf8 => array
            .as_any()
            .downcast_ref::<StringArray>()
            .map(|a| Value::String(a.value(i).to_string()))
            .unwrap_or(Value::Null),
        DataType::Utf8View => array
            .as_any()
            .downcast_ref::<StringViewArray>()
            .map(|a| Value::String(a.value(i).to_string()))
            .unwrap_or(Value::Null),
        DataType::Binary => array
            .as_any()
            .downcast_ref::<BinaryArray>()
            .map(|a| Value::Bytes(a.value(i).to_vec()))
            .unwrap_or(Value::Null),
        DataType::List(_) => {
            let Some(list) = array.as_any().downcast_ref::<ListArray>() else { return Value::Null };
            let items = list.value(i);
            Value::Array((0..items.len()).map(|j| array_value(&items, j)).collect())
        }
        DataType::Map(_, _) => {
            let Some(map) = array.as_any().downcast_ref::<MapArray>() else { return Value::Null };
            let entries = map.value(i);
            let (keys, vals) = (entries.column(0), entries.column(1));
            Value::Map((0..entries.len()).map(|j| (array_value(keys, j), array_value(vals, j))).collect())
        }
        DataType::Struct(fields) => {
            let Some(s) = array.as_any().downcast_ref::<StructArray>() else { return Value::Null };
            Value::Struct(fields.iter().zip(s.columns()).map(|(f, c)| (f.name().clone(), array_value(c, i))).collect())
        }
        _ => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_map_with_a_null_key_is_an_error_not_a_panic() {
        let ty = SqlType::Map(Box::new(SqlType::String), Box::new(SqlType::Int));
        let good = Value::Map(vec![(Value::String("a".into()), Value::Int(1))]);
        let bad = Value::Map(vec![(Value::Null, Value::Int(1))]);
        assert_eq!(array_value(values_to_array(std::slice::from_ref(&good), &ty).unwrap().as_ref(), 0), good);
        assert!(values_to_array(&[good, bad], &ty).is_err());
    }
}
