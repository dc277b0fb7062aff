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
use crate::repartition::{Dedupe, Repartition};

/// The instantiated input tree: decoders at the leaves, joins above them.
enum Node {
    Source {
        topic: String,
        decoder: Box<RecordDecoder>,
    },
    /// A repartition topic: rows an upstream sub-topology wrote for the aggregation.
    Repartition {
        topic: String,
        split: Repartition,
        /// The rows taken, by origin: rows written again are dropped.
        dedupe: Dedupe,
    },
    Join {
        joiner: Box<Joiner>,
        left: Box<Branch>,
        right: Box<Branch>,
    },
}

/// A node and the operators applied to its output.
struct Branch {
    node: Node,
    operators: Vec<Box<dyn Operator>>,
}

/// How output rows become records.
enum Output {
    /// A client sink (push and pull queries): rows stay rows.
    Rows,
    /// The sink topic, in its formats.
    Sink(RecordEncoder),
    /// The query's repartition topic (an upstream sub-topology).
    Repartition(Repartition),
}

/// Decoder(s), operators and (for topic sinks) encoder of one query, or of one of its
/// sub-topologies when it goes through a repartition topic (see [`Repartition`]).
pub struct Pipeline {
    root: Branch,
    topics: Vec<String>,
    output: Output,
    metrics: Arc<QueryMetrics>,
    /// Whether records read count as the query's input (not for a downstream sub-topology,
    /// whose input is the query's own repartition topic) ...
    counts_input: bool,
    /// ... and output rows as its output (not for an upstream one).
    counts_output: bool,
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
            Node::Repartition { topic: t, split, dedupe } => {
                if t != topic {
                    return Ok(None);
                }
                let (batch, errors) = split.decode(records, dedupe)?;
                for e in errors {
                    metrics.record_error(ProcessingError {
                        partition: Some(e.partition),
                        offset: Some(e.offset),
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
        let output = match dataflow.sink.topic {
            Some(_) => Output::Sink(RecordEncoder::new(&dataflow.sink)?),
            None => Output::Rows,
        };
        Ok(Self {
            root: Branch {
                node: node_for(&dataflow.input)?,
                operators: dataflow.steps.iter().map(operator_for).collect(),
            },
            topics: dataflow.input.topics(),
            output,
            metrics,
            counts_input: true,
            counts_output: true,
        })
    }

    /// The upstream sub-topology of a dataflow split at `split`: its input and the steps before
    /// the aggregation, writing repartition records. Counts the query's input, not its output.
    pub fn upstream(dataflow: &Dataflow, split: &Repartition, metrics: Arc<QueryMetrics>) -> Result<Self> {
        let steps = dataflow.steps.get(..split.at).unwrap_or_default();
        let operators = match steps.split_last() {
            Some((pre, before)) => {
                before.iter().map(operator_for).chain([operator_for(&split.upstream_step(pre))]).collect()
            }
            None => Vec::new(),
        };
        Ok(Self {
            root: Branch { node: node_for(&dataflow.input)?, operators },
            topics: dataflow.input.topics(),
            output: Output::Repartition(split.clone()),
            metrics,
            counts_input: true,
            counts_output: false,
        })
    }

    /// The downstream sub-topology: the repartition `topic`, the aggregation and the steps after
    /// it, writing to the sink. Counts the query's output, not its input.
    pub fn downstream(
        dataflow: &Dataflow,
        split: &Repartition,
        topic: &str,
        metrics: Arc<QueryMetrics>,
    ) -> Result<Self> {
        let steps = dataflow.steps.get(split.at..).unwrap_or_default();
        let node = Node::Repartition { topic: topic.to_string(), split: split.clone(), dedupe: Dedupe::default() };
        Ok(Self {
            root: Branch { node, operators: steps.iter().map(operator_for).collect() },
            topics: vec![topic.to_string()],
            output: Output::Sink(RecordEncoder::new(&dataflow.sink)?),
            metrics,
            counts_input: false,
            counts_output: true,
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
        if self.counts_input {
            self.metrics.add_input(records.len() as u64);
        }
        let out = self.root.process(topic, records, &self.metrics)?;
        if let Some(b) = out.as_ref().filter(|_| self.counts_output) {
            self.metrics.add_output(b.num_rows() as u64);
        }
        Ok(out)
    }

    /// Runs records of one topic through and encodes the output for the sink topic.
    pub fn process(&mut self, topic: &str, records: &[Record]) -> Result<Vec<OutputRecord>> {
        let Some(batch) = self.process_batch(topic, records)? else { return Ok(Vec::new()) };
        let encoder = match &self.output {
            Output::Rows => return Ok(Vec::new()),
            Output::Repartition(split) => return split.encode(&batch, topic),
            Output::Sink(encoder) => encoder,
        };
        let (out, errors) = encoder.encode(&batch);
        for e in errors {
            let message = format!("output row skipped: {e}");
            self.metrics.record_error(ProcessingError::new(ErrorClass::Serialization, message).in_topic(topic));
        }
        Ok(out)
    }
}
