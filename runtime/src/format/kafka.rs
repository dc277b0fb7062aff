//! The KAFKA format: one primitive column in Kafka's own serializations (big-endian ints, IEEE doubles, UTF-8).

use eddy_catalog::SqlType;

use super::{Codec, Role};
use crate::error::{Result, RuntimeError};
use crate::value::Value;

/// Reads and writes a single primitive column.
pub struct KafkaCodec {
    ty: Option<SqlType>,
}

impl KafkaCodec {
    pub fn new(columns: Vec<(String, SqlType)>, role: Role) -> Result<Self> {
        match columns.as_slice() {
            [] => Ok(Self { ty: None }),
            [(_, ty)] => match ty {
                SqlType::Int | SqlType::Bigint | SqlType::Double | SqlType::String | SqlType::Bytes => {
                    Ok(Self { ty: Some(ty.clone()) })
                }
                other => {
                    let base = other.to_string();
                    let base = base.split(['<', '(']).next().unwrap_or_default().to_string();
                    Err(RuntimeError::Unsupported(format!("The 'KAFKA' format does not support type '{base}'")))
                }
            },
            _ => {
                let suffix = if role == Role::Key { " KEY" } else { "" };
                let cols: Vec<String> = columns.iter().map(|(n, t)| format!("`{n}` {t}{suffix}")).collect();
                Err(RuntimeError::Unsupported(format!(
                    "The 'KAFKA' format only supports a single field. Got: [{}]",
                    cols.join(", ")
                )))
            }
        }
    }
}

impl Codec for KafkaCodec {
    fn decode(&self, bytes: Option<&[u8]>) -> Result<Vec<Value>> {
        let Some(ty) = &self.ty else { return Ok(Vec::new()) };
        let Some(bytes) = bytes else { return Ok(vec![Value::Null]) };
        let wrong = |n: usize| RuntimeError::Serde(format!("Size of data received by {ty} deserializer is not {n}"));
        let value = match ty {
            SqlType::Int => Value::Int(i32::from_be_bytes(bytes.try_into().map_err(|_| wrong(4))?)),
            SqlType::Bigint => Value::Bigint(i64::from_be_bytes(bytes.try_into().map_err(|_| wrong(8))?)),
            SqlType::Double => Value::Double(f64::from_be_bytes(bytes.try_into().map_err(|_| wrong(8))?)),
            SqlType::String => Value::String(
                String::from_utf8(bytes.to_vec()).map_err(|e| RuntimeError::Serde(format!("invalid UTF-8: {e}")))?,
            ),
            _ => Value::Bytes(bytes.to_vec()),
        };
        Ok(vec![value])
    }

    /// No key columns read nothing; STRING text stays borrowed from the record.
    fn decode_cells<'a>(&self, bytes: Option<&'a [u8]>, out: &mut Vec<crate::cell::Cell<'a>>) -> Result<()> {
        match (&self.ty, bytes) {
            (None, _) => {}
            (Some(SqlType::String), Some(b)) => out.push(crate::cell::Cell::Str(
                std::str::from_utf8(b).map_err(|e| RuntimeError::Serde(format!("invalid UTF-8: {e}")))?,
            )),
            _ => out.extend(self.decode(bytes)?.into_iter().map(crate::cell::Cell::Value)),
        }
        Ok(())
    }

    fn encode(&self, values: &[Value]) -> Result<Option<Vec<u8>>> {
        Ok(match values.first() {
            None | Some(Value::Null) => None,
            Some(Value::Int(v)) => Some(v.to_be_bytes().to_vec()),
            Some(Value::Bigint(v)) => Some(v.to_be_bytes().to_vec()),
            Some(Value::Double(v)) => Some(v.to_be_bytes().to_vec()),
            Some(Value::String(s)) => Some(s.as_bytes().to_vec()),
            Some(Value::Bytes(b)) => Some(b.clone()),
            Some(other) => return Err(RuntimeError::Serde(format!("KAFKA format cannot write {other:?}"))),
        })
    }
}
