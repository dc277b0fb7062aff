//! Encodes output batches (ROWTIME, keys, values) into records for the sink topic.

use arrow::array::{Array, BooleanArray, Int64Array, ListArray};
use arrow::record_batch::RecordBatch;
use eddy_catalog::WindowKind;

use crate::columnar::array_value;
use crate::dataflow::SinkSpec;
use crate::error::Result;
use crate::format::{codec_for, Codec, Role};
use crate::record::OutputRecord;
use crate::value::Value;

/// Turns output rows into Kafka records.
pub struct RecordEncoder {
    keys: usize,
    values: usize,
    /// All-null keys of several columns are written as a null key (see `SinkSpec::source_key`).
    null_key: bool,
    /// A windowed sink: WINDOWSTART and WINDOWEND follow the keys and are appended to the key bytes.
    window: Option<WindowKind>,
    key: Box<dyn Codec>,
    value: Box<dyn Codec>,
}

impl RecordEncoder {
    /// Builds the encoder for a sink.
    pub fn new(sink: &SinkSpec) -> Result<Self> {
        Ok(Self {
            keys: sink.key_columns.len(),
            values: sink.value_columns.len(),
            null_key: sink.source_key && sink.key_columns.len() > 1,
            window: sink.window,
            key: codec_for(&sink.key_format, sink.key_columns.clone(), Role::Key)?,
            value: codec_for(&sink.value_format, sink.value_columns.clone(), Role::Value)?,
        })
    }

    /// Encodes every row; rows that cannot be encoded are returned as errors with their row index.
    pub fn encode(&self, batch: &RecordBatch) -> (Vec<OutputRecord>, Vec<String>) {
        let mut out = Vec::with_capacity(batch.num_rows());
        let mut errors = Vec::new();
        let (k, v) = (self.keys, self.values);
        let w = if self.window.is_some() { 2 } else { 0 };
        let columns = batch.columns();
        if columns.len() < 3 + k + w + v {
            let message = |i| format!("row {i} has {} columns, expected {}", columns.len(), 3 + k + w + v);
            return (out, (0..batch.num_rows()).map(message).collect());
        }
        let (keys, values) = (&columns[1..1 + k], &columns[1 + k + w..1 + k + w + v]);
        let (headers, value_null) = (columns[1 + k + w + v].as_ref(), columns[2 + k + w + v].as_ref());
        let bound = |c: usize, i: usize| {
            columns[c].as_any().downcast_ref::<Int64Array>().filter(|a| a.is_valid(i)).map(|a| a.value(i))
        };
        let timestamps = columns[0].as_any().downcast_ref::<Int64Array>();
        let value_nulls = value_null.as_any().downcast_ref::<BooleanArray>();
        let (mut key_encoder, mut value_encoder) = (self.key.row_encoder(keys), self.value.row_encoder(values));
        for i in 0..batch.num_rows() {
            let timestamp = match timestamps {
                Some(t) if t.is_valid(i) => t.value(i),
                Some(_) => 0,
                None => match array_value(columns[0].as_ref(), i) {
                    Value::Bigint(t) | Value::Timestamp(t) => t,
                    _ => 0,
                },
            };
            if timestamp < 0 {
                errors.push(format!("row {i} has a negative timestamp {timestamp}; it cannot be written"));
                continue;
            }
            let value_is_null = match value_nulls {
                Some(v) => v.is_valid(i) && v.value(i),
                None => matches!(array_value(value_null, i), Value::Boolean(true)),
            };
            let value = if value_is_null { Ok(None) } else { value_encoder.encode_row(i) };
            let mut key =
                if self.null_key && keys.iter().all(|c| c.is_null(i)) { Ok(None) } else { key_encoder.encode_row(i) };
            if let (Some(kind), Ok(bytes)) = (self.window, &mut key) {
                match (bound(1 + k, i), bound(2 + k, i)) {
                    (Some(start), Some(end)) => kind.append(bytes.get_or_insert_with(Vec::new), start, end),
                    _ => key = Err(crate::error::RuntimeError::Internal("a windowed row without window bounds".into())),
                }
            }
            match (key, value) {
                (Ok(key), Ok(value)) => {
                    out.push(OutputRecord { timestamp, key, value, headers: headers_at(headers, i) })
                }
                (Err(e), _) | (_, Err(e)) => errors.push(format!("Error serializing row {i}: {e}")),
            }
        }
        (out, errors)
    }
}

/// The headers carried in row `i` of the hidden headers column.
fn headers_at(column: &dyn Array, i: usize) -> Vec<(String, Option<Vec<u8>>)> {
    match column.as_any().downcast_ref::<ListArray>() {
        Some(list) if list.is_null(i) || list.value_length(i) == 0 => Vec::new(),
        _ => headers_of(&array_value(column, i)),
    }
}

/// The headers carried in the hidden headers column.
fn headers_of(v: &Value) -> Vec<(String, Option<Vec<u8>>)> {
    let Value::Array(items) = v else { return Vec::new() };
    items
        .iter()
        .filter_map(|item| {
            let Value::Struct(fields) = item else { return None };
            let key = fields.iter().find(|(n, _)| n == "KEY").and_then(|(_, v)| match v {
                Value::String(s) => Some(s.clone()),
                _ => None,
            })?;
            let value = fields.iter().find(|(n, _)| n == "VALUE").and_then(|(_, v)| match v {
                Value::Bytes(b) => Some(b.clone()),
                _ => None,
            });
            Some((key, value))
        })
        .collect()
}
