//! A query's processing chain without I/O: decode records, run the operators, encode the output.
//! Both drivers (Kafka and the deterministic test driver) feed it, one topic's records at a time.

use std::sync::Arc;

use arrow::record_batch::RecordBatch;

use crate::dataflow::{Dataflow, Input, JoinBranch};
use crate::decoder::RecordDecoder;
use crate::encoder::RecordEncoder;
use crate::error::Result;
use crate::metrics::QueryMetrics;
use crate::operator::{operator_for, Joiner, Operator};
use crate::processing_log::{ErrorClass, ProcessingError};
use crate::record::{OutputRecord, Record};

/// The instantiated input tree: decoders at the leaves, joins above them.
enum Node {
    Source { topic: String, decoder: Box<RecordDecoder> },
    Join { joiner: Box<Joiner>, left: Box<Branch>, right: Box<Branch> },
}

/// A node and the operators applied to its output.
struct Branch {
    node: Node,
    operators: Vec<Box<dyn Operator>>,
}

/// Decoder(s), operators and (for topic sinks) encoder of one query.
pub struct Pipeline {
    root: Branch,
    topics: Vec<String>,
    encoder: Option<RecordEncoder>,
    metrics: Arc<QueryMetrics>,
}

fn node_for(input: &Input) -> Result<Node> {
    Ok(match input {
        Input::Source(spec) => Node::Source { topic: spec.topic.clone(), decoder: Box::new(RecordDecoder::new(spec)?) },
        Input::Join(j) => {
            let width = |b: &JoinBranch| -> usize { branch_width(b) };
            let joiner = Joiner::new(
                j.kind,
                j.shape,
                [j.left.key.clone(), j.right.key.clone()],
                [width(&j.left), width(&j.right)],
                j.schema.clone(),
                j.types.clone(),
            );
            Node::Join {
                joiner: Box::new(joiner),
                left: Box::new(Branch {
                    node: node_for(&j.left.input)?,
                    operators: j.left.steps.iter().map(operator_for).collect(),
                }),
                right: Box::new(Branch {
                    node: node_for(&j.right.input)?,
                    operators: j.right.steps.iter().map(operator_for).collect(),
                }),
            }
        }
    })
}

/// Visible columns of a branch's output (its two hidden columns excluded).
fn branch_width(b: &JoinBranch) -> usize {
    let last_schema = b.steps.iter().rev().find_map(|s| match s {
        crate::dataflow::Step::Project { schema, .. }
        | crate::dataflow::Step::Aggregate { schema, .. }
        | crate::dataflow::Step::Explode { schema, .. } => Some(schema.fields().len()),
        _ => None,
    });
    let fields = last_schema.unwrap_or_else(|| match &b.input {
        Input::Source(s) => s.schema.fields().len(),
        Input::Join(j) => j.schema.fields().len(),
    });
    fields.saturating_sub(2)
}

impl Branch {
    /// Runs a topic's records through this branch; None if the topic is not read here or nothing came out.
    fn process(&mut self, topic: &str, records: &[Record], metrics: &QueryMetrics) -> Result<Option<RecordBatch>> {
        let batch = match &mut self.node {
            Node::Source { topic: t, decoder } => {
                if t != topic {
                    return Ok(None);
                }
                let (batch, errors) = decoder.decode(records)?;
                for e in errors {
                    let value = records.get(e.index);
                    metrics.record_error(ProcessingError {
                        partition: Some(e.partition),
                        offset: Some(e.offset),
                        record: value.and_then(|r| r.value.clone()),
                        ..ProcessingError::new(ErrorClass::Deserialization, e.message).in_topic(t)
                    });
                }
                batch
            }
            Node::Join { joiner, left, right } => {
                let out = match left.process(topic, records, metrics)? {
                    Some(b) => joiner.process(true, b)?,
                    None => match right.process(topic, records, metrics)? {
                        Some(b) => joiner.process(false, b)?,
                        None => None,
                    },
                };
                for e in joiner.take_errors() {
                    let message = format!("join key evaluation failed; row not joined: {e}");
                    metrics.record_error(ProcessingError::new(ErrorClass::Evaluation, message).in_topic(topic));
                }
                match out {
                    Some(b) => b,
                    None => return Ok(None),
                }
            }
        };
        let mut current = batch;
        for op in &mut self.operators {
            if current.num_rows() == 0 {
                return Ok(None);
            }
            let out = op.process(current)?;
            for e in op.take_errors() {
                metrics.record_error(ProcessingError::new(ErrorClass::Evaluation, e).in_topic(topic));
            }
            match out {
                Some(b) => current = b,
                None => return Ok(None),
            }
        }
        Ok((current.num_rows() > 0).then_some(current))
    }
}

impl Pipeline {
    /// Instantiates a dataflow.
    pub fn new(dataflow: &Dataflow, metrics: Arc<QueryMetrics>) -> Result<Self> {
        let encoder = match dataflow.sink.topic {
            Some(_) => Some(RecordEncoder::new(&dataflow.sink)?),
            None => None,
        };
        Ok(Self {
            root: Branch {
                node: node_for(&dataflow.input)?,
                operators: dataflow.steps.iter().map(operator_for).collect(),
            },
            topics: dataflow.input.topics(),
            encoder,
            metrics,
        })
    }

    /// Counts into other metrics from now on; returns the previous ones (a restore's re-read
    /// records are not counted as the query's input).
    pub fn replace_metrics(&mut self, metrics: Arc<QueryMetrics>) -> Arc<QueryMetrics> {
        std::mem::replace(&mut self.metrics, metrics)
    }

    /// The topics the pipeline reads.
    pub fn topics(&self) -> &[String] {
        &self.topics
    }

    /// Runs records of one topic through the operators; returns the output rows (ROWTIME, keys, values).
    pub fn process_batch(&mut self, topic: &str, records: &[Record]) -> Result<Option<RecordBatch>> {
        if records.is_empty() {
            return Ok(None);
        }
        self.metrics.add_input(records.len() as u64);
        let out = self.root.process(topic, records, &self.metrics)?;
        if let Some(b) = &out {
            self.metrics.add_output(b.num_rows() as u64);
        }
        Ok(out)
    }

    /// Runs records of one topic through and encodes the output for the sink topic.
    pub fn process(&mut self, topic: &str, records: &[Record]) -> Result<Vec<OutputRecord>> {
        let Some(batch) = self.process_batch(topic, records)? else { return Ok(Vec::new()) };
        let Some(encoder) = &self.encoder else { return Ok(Vec::new()) };
        let (out, errors) = encoder.encode(&batch);
        for e in errors {
            let message = format!("output row skipped: {e}");
            self.metrics.record_error(ProcessingError::new(ErrorClass::Serialization, message).in_topic(topic));
        }
        Ok(out)
    }
}
