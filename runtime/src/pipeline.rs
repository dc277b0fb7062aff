//! A query's processing chain without I/O: decode records, run the operators, encode the output.
//! Both drivers (Kafka and the deterministic test driver) feed it.

use std::sync::Arc;

use arrow::record_batch::RecordBatch;

use crate::dataflow::Dataflow;
use crate::decoder::RecordDecoder;
use crate::encoder::RecordEncoder;
use crate::error::Result;
use crate::metrics::QueryMetrics;
use crate::operator::{operator_for, Operator};
use crate::record::{OutputRecord, Record};

/// Decoder, operators and (for topic sinks) encoder of one query.
pub struct Pipeline {
    topic: String,
    decoder: RecordDecoder,
    operators: Vec<Box<dyn Operator>>,
    encoder: Option<RecordEncoder>,
    metrics: Arc<QueryMetrics>,
}

impl Pipeline {
    /// Instantiates a dataflow.
    pub fn new(dataflow: &Dataflow, metrics: Arc<QueryMetrics>) -> Result<Self> {
        let encoder = match dataflow.sink.topic {
            Some(_) => Some(RecordEncoder::new(&dataflow.sink)?),
            None => None,
        };
        Ok(Self {
            topic: dataflow.source.topic.clone(),
            decoder: RecordDecoder::new(&dataflow.source)?,
            operators: dataflow.steps.iter().map(operator_for).collect(),
            encoder,
            metrics,
        })
    }

    /// Runs records through the operators; returns the output rows (ROWTIME, keys, values).
    pub fn process_batch(&mut self, records: &[Record]) -> Result<Option<RecordBatch>> {
        if records.is_empty() {
            return Ok(None);
        }
        self.metrics.add_input(records.len() as u64);
        let (batch, errors) = self.decoder.decode(records)?;
        for e in errors {
            self.metrics.add_error();
            tracing::warn!(topic = %self.topic, partition = e.partition, offset = e.offset, error = %e.message, "skipping record");
        }
        let mut current = batch;
        for op in &mut self.operators {
            if current.num_rows() == 0 {
                return Ok(None);
            }
            let out = op.process(current)?;
            for e in op.take_errors() {
                self.metrics.add_error();
                tracing::warn!(topic = %self.topic, error = %e, "expression evaluation failed; value set to NULL");
            }
            match out {
                Some(b) => current = b,
                None => return Ok(None),
            }
        }
        if current.num_rows() == 0 {
            return Ok(None);
        }
        self.metrics.add_output(current.num_rows() as u64);
        Ok(Some(current))
    }

    /// Runs records through and encodes the output for the sink topic.
    pub fn process(&mut self, records: &[Record]) -> Result<Vec<OutputRecord>> {
        let Some(batch) = self.process_batch(records)? else { return Ok(Vec::new()) };
        let Some(encoder) = &self.encoder else { return Ok(Vec::new()) };
        let (out, errors) = encoder.encode(&batch);
        for e in errors {
            self.metrics.add_error();
            tracing::warn!(topic = %self.topic, error = %e, "skipping output row");
        }
        Ok(out)
    }
}
