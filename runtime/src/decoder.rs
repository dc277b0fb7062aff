//! Decodes a poll's worth of Kafka records into one Arrow batch of the source schema.

use arrow::record_batch::RecordBatch;
use eddy_catalog::{ColumnKind, SourceKind, SqlType};

use crate::columnar::values_to_array;
use crate::dataflow::SourceSpec;
use crate::error::{Result, RuntimeError};
use crate::format::{codec_for, Codec, Role};
use crate::record::Record;
use crate::timestamp::parse_timestamp;
use crate::value::Value;

/// Why a record was skipped.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodeError {
    pub partition: i32,
    pub offset: i64,
    pub message: String,
}

/// Turns records into batches; malformed records are skipped and reported.
pub struct RecordDecoder {
    spec: SourceSpec,
    key: Box<dyn Codec>,
    value: Box<dyn Codec>,
    /// Index into the value columns of the `TIMESTAMP` column.
    timestamp_column: Option<(usize, SqlType, Option<String>)>,
}

impl RecordDecoder {
    /// Builds the decoder for a source.
    pub fn new(spec: &SourceSpec) -> Result<Self> {
        let key = codec_for(&spec.key_format, spec.key_columns.clone(), Role::Key)?;
        let value_cols: Vec<(String, SqlType)> = spec
            .value_columns
            .iter()
            .filter(|(_, _, k)| *k == ColumnKind::Value)
            .map(|(n, t, _)| (n.clone(), t.clone()))
            .collect();
        let value = codec_for(&spec.value_format, value_cols, Role::Value)?;
        let timestamp_column = match &spec.timestamp {
            None => None,
            Some((name, format)) => {
                let all: Vec<(&String, &SqlType)> = spec
                    .key_columns
                    .iter()
                    .map(|(n, t)| (n, t))
                    .chain(spec.value_columns.iter().map(|(n, t, _)| (n, t)))
                    .collect();
                let idx = all
                    .iter()
                    .position(|(n, _)| *n == name)
                    .ok_or_else(|| RuntimeError::Internal(format!("timestamp column {name} not in schema")))?;
                Some((idx, all[idx].1.clone(), format.clone()))
            }
        };
        Ok(Self { spec: spec.clone(), key, value, timestamp_column })
    }

    /// Decodes records into a batch; returns the batch and the records that were skipped.
    pub fn decode(&self, records: &[Record]) -> Result<(RecordBatch, Vec<DecodeError>)> {
        let width = 5 + self.spec.key_columns.len() + self.spec.value_columns.len();
        let mut columns: Vec<Vec<Value>> = vec![Vec::with_capacity(records.len()); width];
        let mut errors = Vec::new();
        for r in records {
            match self.decode_one(r) {
                Ok(Some(row)) => {
                    for (c, v) in columns.iter_mut().zip(row) {
                        c.push(v);
                    }
                }
                Ok(None) => {}
                Err(e) => errors.push(DecodeError { partition: r.partition, offset: r.offset, message: e.to_string() }),
            }
        }
        let arrays = self
            .spec
            .schema
            .fields()
            .iter()
            .zip(&columns)
            .map(|(f, col)| {
                let ty = eddy_catalog::sql_type_of(f.data_type())
                    .ok_or_else(|| RuntimeError::Internal(format!("unsupported column type {}", f.data_type())))?;
                values_to_array(col, &ty)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((RecordBatch::try_new(self.spec.schema.clone(), arrays)?, errors))
    }

    /// One row (pseudo-columns, keys, values, hidden columns), or None for a record to ignore.
    fn decode_one(&self, r: &Record) -> Result<Option<Vec<Value>>> {
        if r.key.is_none() && self.spec.kind == SourceKind::Table {
            // A table's rows are identified by their key: Kafka Streams skips records without one.
            return Ok(None);
        }
        let keys = self
            .key
            .decode(r.key.as_deref())
            .map_err(|e| RuntimeError::Serde(format!("Error deserializing key: {e}")))?;
        let mut values = self
            .value
            .decode(r.value.as_deref())
            .map_err(|e| RuntimeError::Serde(format!("Error deserializing value: {e}")))?
            .into_iter();
        let mut row = Vec::with_capacity(3 + keys.len() + self.spec.value_columns.len());
        row.push(Value::Bigint(r.timestamp));
        row.push(Value::Int(r.partition));
        row.push(Value::Bigint(r.offset));
        row.extend(keys);
        let headers = headers_value(&r.headers);
        for (_, _, kind) in &self.spec.value_columns {
            row.push(match kind {
                ColumnKind::Value => values.next().unwrap_or(Value::Null),
                ColumnKind::Headers => headers.clone(),
                ColumnKind::Header(key) => r
                    .headers
                    .iter()
                    .rev()
                    .find(|(k, _)| k == key)
                    .and_then(|(_, v)| v.clone())
                    .map(Value::Bytes)
                    .unwrap_or(Value::Null),
                ColumnKind::Key => Value::Null,
            });
        }
        row.push(headers);
        row.push(Value::Boolean(r.value.is_none()));
        if let Some((idx, ty, format)) = &self.timestamp_column {
            let ts = match (&row[3 + idx], ty) {
                (Value::Bigint(v), _) | (Value::Timestamp(v), _) => *v,
                (Value::String(s), SqlType::String) => parse_timestamp(s, format.as_deref())?,
                (Value::Null, _) => return Err(RuntimeError::Serde("timestamp column is NULL; record skipped".into())),
                (other, _) => return Err(RuntimeError::Serde(format!("cannot use {other:?} as a timestamp"))),
            };
            row[0] = Value::Bigint(ts);
        }
        if let Value::Bigint(ts) = row[0] {
            if ts < 0 {
                // Kafka Streams drops records whose timestamp is negative.
                return Err(RuntimeError::Serde(format!("invalid (negative) timestamp {ts}; record skipped")));
            }
        }
        Ok(Some(row))
    }
}

/// Headers as the `ARRAY<STRUCT<KEY STRING, VALUE BYTES>>` value of a HEADERS column.
fn headers_value(headers: &[(String, Option<Vec<u8>>)]) -> Value {
    Value::Array(
        headers
            .iter()
            .map(|(k, v)| {
                Value::Struct(vec![
                    ("KEY".into(), Value::String(k.clone())),
                    ("VALUE".into(), v.clone().map(Value::Bytes).unwrap_or(Value::Null)),
                ])
            })
            .collect(),
    )
}
