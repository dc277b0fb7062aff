//! Encodes output batches (ROWTIME, keys, values) into records for the sink topic.

use arrow::record_batch::RecordBatch;

use crate::columnar::array_value;
use crate::dataflow::SinkSpec;
use crate::error::Result;
use crate::format::{codec_for, Codec, Role};
use crate::record::OutputRecord;
use crate::value::Value;

/// Turns output rows into Kafka records.
pub struct RecordEncoder {
    keys: usize,
    key: Box<dyn Codec>,
    value: Box<dyn Codec>,
}

impl RecordEncoder {
    /// Builds the encoder for a sink.
    pub fn new(sink: &SinkSpec) -> Result<Self> {
        Ok(Self {
            keys: sink.key_columns.len(),
            key: codec_for(&sink.key_format, sink.key_columns.clone(), Role::Key)?,
            value: codec_for(&sink.value_format, sink.value_columns.clone(), Role::Value)?,
        })
    }

    /// Encodes every row; rows that cannot be encoded are returned as errors with their row index.
    pub fn encode(&self, batch: &RecordBatch) -> (Vec<OutputRecord>, Vec<String>) {
        let mut out = Vec::with_capacity(batch.num_rows());
        let mut errors = Vec::new();
        for i in 0..batch.num_rows() {
            let row: Vec<Value> = batch.columns().iter().map(|c| array_value(c.as_ref(), i)).collect();
            let timestamp = match row.first() {
                Some(Value::Bigint(t)) | Some(Value::Timestamp(t)) => *t,
                _ => 0,
            };
            let keys = &row[1..1 + self.keys];
            let values = &row[1 + self.keys..];
            match (self.key.encode(keys), self.value.encode(values)) {
                (Ok(key), Ok(value)) => out.push(OutputRecord { timestamp, key, value, headers: Vec::new() }),
                (Err(e), _) | (_, Err(e)) => errors.push(format!("Error serializing row {i}: {e}")),
            }
        }
        (out, errors)
    }
}
