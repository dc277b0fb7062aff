//! Decodes a poll's worth of Kafka records into one Arrow batch of the source schema.
#![deny(clippy::indexing_slicing)] // Bytes from clients and records are read with checked access.

use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanBuilder, Int32Builder, Int64Builder, ListArray};
use arrow::buffer::OffsetBuffer;
use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;
use eddy_catalog::{ColumnKind, SourceKind, SqlType};

use crate::builder::ColumnBuilder;
use crate::cell::Cell;
use crate::dataflow::SourceSpec;
use crate::error::{Result, RuntimeError};
use crate::format::{codec_for, Codec, Role};
use crate::record::Record;
use crate::timestamp::parse_timestamp;
use crate::value::Value;

/// Why a record was skipped.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodeError {
    /// The record's position in the decoded slice.
    pub index: usize,
    pub partition: i32,
    pub offset: i64,
    pub message: String,
}

/// Turns records into batches; malformed records are skipped and reported.
pub struct RecordDecoder {
    spec: SourceSpec,
    key: Box<dyn Codec>,
    value: Box<dyn Codec>,
    /// The SQL type of each column of the batch.
    types: Vec<SqlType>,
    /// Every value column is read from the value (no HEADER(S) columns): decoded in place.
    plain_values: bool,
    /// Index among a record's key and value cells of the `TIMESTAMP` column.
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
                let (idx, (_, ty)) = all
                    .iter()
                    .enumerate()
                    .find(|(_, (n, _))| *n == name)
                    .ok_or_else(|| RuntimeError::Internal(format!("timestamp column {name} not in schema")))?;
                // Its place among a record's key and value cells: after the window bounds for values.
                let bounds = if spec.window.is_some() && idx >= spec.key_columns.len() { 2 } else { 0 };
                Some((idx + bounds, (*ty).clone(), format.clone()))
            }
        };
        let types = spec
            .schema
            .fields()
            .iter()
            .map(|f| {
                eddy_catalog::sql_type_of(f.data_type())
                    .ok_or_else(|| RuntimeError::Internal(format!("unsupported column type {}", f.data_type())))
            })
            .collect::<Result<Vec<_>>>()?;
        if types.len() < 5 {
            return Err(RuntimeError::Internal(format!(
                "a source batch has ROWTIME, ROWPARTITION, ROWOFFSET, its columns and two hidden ones, not {} columns",
                types.len()
            )));
        }
        let plain_values = spec.value_columns.iter().all(|(_, _, k)| *k == ColumnKind::Value);
        Ok(Self { spec: spec.clone(), key, value, types, plain_values, timestamp_column })
    }

    /// Decodes records into a batch; returns the batch and the records that were skipped.
    pub fn decode(&self, records: &[Record]) -> Result<(RecordBatch, Vec<DecodeError>)> {
        // The record's own fields go straight to typed builders; keys and values pass through `row`.
        let n = records.len();
        let (mut timestamps, mut partitions, mut offsets) =
            (Int64Builder::with_capacity(n), Int32Builder::with_capacity(n), Int64Builder::with_capacity(n));
        let mut value_nulls = BooleanBuilder::with_capacity(n);
        // `new` checked that the layout has at least the five fixed columns.
        let hidden = self.types.len().saturating_sub(2);
        let middle = self.types.get(3..hidden).unwrap_or_default();
        let mut builders: Vec<ColumnBuilder> = middle.iter().map(|t| ColumnBuilder::new(t, n)).collect();
        // The hidden headers column (second to last) is built only when some record has headers.
        let headers_type = self.types.get(hidden).ok_or_else(|| RuntimeError::Internal("no headers column".into()))?;
        let mut headers = records.iter().any(|r| !r.headers.is_empty()).then(|| ColumnBuilder::new(headers_type, n));
        let mut rows = 0;
        let mut errors = Vec::new();
        let mut row = Vec::with_capacity(builders.len());
        for (index, r) in records.iter().enumerate() {
            row.clear();
            match self.decode_one(r, &mut row) {
                Ok(Some(timestamp)) => {
                    rows += 1;
                    timestamps.append_value(timestamp);
                    partitions.append_value(r.partition);
                    offsets.append_value(r.offset);
                    for (b, cell) in builders.iter_mut().zip(row.drain(..)) {
                        b.push(cell)?;
                    }
                    if let Some(h) = &mut headers {
                        h.push(Cell::Value(headers_value(&r.headers)))?;
                    }
                    value_nulls.append_value(r.value.is_none());
                }
                Ok(None) => {}
                Err(e) => {
                    errors.push(DecodeError { index, partition: r.partition, offset: r.offset, message: e.to_string() })
                }
            }
        }
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(self.types.len());
        arrays.push(Arc::new(timestamps.finish()));
        arrays.push(Arc::new(partitions.finish()));
        arrays.push(Arc::new(offsets.finish()));
        for b in builders {
            arrays.push(b.finish()?);
        }
        arrays.push(match headers {
            Some(h) => h.finish()?,
            None => empty_lists(headers_type, rows),
        });
        arrays.push(Arc::new(value_nulls.finish()));
        Ok((RecordBatch::try_new(self.spec.schema.clone(), arrays)?, errors))
    }

    /// Appends the key and value cells of one record (keys, window bounds, values) to `row` and
    /// returns its timestamp; None for a record to ignore.
    fn decode_one<'a>(&self, r: &'a Record, row: &mut Vec<Cell<'a>>) -> Result<Option<i64>> {
        if r.key.is_none() && self.spec.kind == SourceKind::Table {
            // A table's rows are identified by their key: Kafka Streams skips records without one.
            return Ok(None);
        }
        let (key, window) = match (self.spec.window, r.key.as_deref()) {
            (Some(kind), Some(bytes)) => match kind.split(bytes) {
                Some((key, start, end)) => (Some(key), Some((start, end))),
                None => {
                    return Err(RuntimeError::Serde("Error deserializing key: too short for a windowed key".into()))
                }
            },
            (_, key) => (key, None),
        };
        self.key.decode_cells(key, row).map_err(|e| RuntimeError::Serde(format!("Error deserializing key: {e}")))?;
        if self.spec.window.is_some() {
            let (start, end) = match window {
                Some((start, end)) => (Value::Bigint(start), Value::Bigint(end)),
                None => (Value::Null, Value::Null),
            };
            row.push(Cell::Value(start));
            row.push(Cell::Value(end));
        }
        if self.plain_values {
            self.value.decode_cells(r.value.as_deref(), row).map_err(value_error)?;
        } else {
            self.interleave_values(r, row)?;
        }
        let timestamp = match &self.timestamp_column {
            None => r.timestamp,
            Some((idx, ty, format)) => match (
                row.get(*idx).ok_or_else(|| RuntimeError::Internal("timestamp column outside the row".into()))?,
                ty,
            ) {
                (Cell::Value(Value::Bigint(v)), _) | (Cell::Value(Value::Timestamp(v)), _) => *v,
                (Cell::Str(s), SqlType::String) => parse_timestamp(s, format.as_deref())?,
                (Cell::Value(Value::String(s)), SqlType::String) => parse_timestamp(s, format.as_deref())?,
                (Cell::Value(Value::Null), _) => {
                    return Err(RuntimeError::Serde("timestamp column is NULL; record skipped".into()))
                }
                (other, _) => {
                    return Err(RuntimeError::Serde(format!(
                        "cannot use {:?} as a timestamp",
                        other.clone().into_value()
                    )))
                }
            },
        };
        if timestamp < 0 {
            // Kafka Streams drops records whose timestamp is negative.
            return Err(RuntimeError::Serde(format!("invalid (negative) timestamp {timestamp}; record skipped")));
        }
        Ok(Some(timestamp))
    }

    /// The value columns when some of them are HEADER(S) columns: decoded values and headers interleaved.
    fn interleave_values<'a>(&self, r: &'a Record, row: &mut Vec<Cell<'a>>) -> Result<()> {
        let mut values = Vec::with_capacity(self.spec.value_columns.len());
        self.value.decode_cells(r.value.as_deref(), &mut values).map_err(value_error)?;
        let mut values = values.into_iter();
        for (_, _, kind) in &self.spec.value_columns {
            row.push(match kind {
                ColumnKind::Value => values.next().unwrap_or(Cell::Value(Value::Null)),
                ColumnKind::Headers => Cell::Value(headers_value(&r.headers)),
                ColumnKind::Header(key) => Cell::Value(
                    r.headers
                        .iter()
                        .rev()
                        .find(|(k, _)| k == key)
                        .and_then(|(_, v)| v.clone())
                        .map(Value::Bytes)
                        .unwrap_or(Value::Null),
                ),
                ColumnKind::Key => Cell::Value(Value::Null),
            });
        }
        Ok(())
    }
}

/// `rows` empty lists of the headers column's type.
fn empty_lists(ty: &SqlType, rows: usize) -> ArrayRef {
    let DataType::List(field) = eddy_catalog::arrow_type(ty) else {
        return arrow::array::new_null_array(&eddy_catalog::arrow_type(ty), rows);
    };
    let values = arrow::array::new_empty_array(field.data_type());
    Arc::new(ListArray::new(field, OffsetBuffer::new_zeroed(rows), values, None))
}

fn value_error(e: RuntimeError) -> RuntimeError {
    RuntimeError::Serde(format!("Error deserializing value: {e}"))
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
