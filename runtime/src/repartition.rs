//! Re-keying through Kafka. A stream aggregation whose GROUP BY is not its input's key runs as two
//! sub-topologies, as Kafka Streams runs ksqlDB's: the upstream one (the input, its filters and
//! the projection of group keys and arguments) writes each row to the query's repartition topic
//! keyed by its group key, so that the producer's partitioner sends every row of a group to one
//! partition; the downstream one reads that topic and aggregates. Each group is then processed by
//! exactly one task, however the servers of a service share the partitions between them.
//!
//! The in-memory driver runs a dataflow whole; only the Kafka driver splits it.
//!
//! Records of a repartition topic are Eddy's own: the key is the group key's values, the value the
//! rest of the aggregation's input row but ROWTIME (arguments, then the hidden headers and
//! value-null columns), each a `postcard` list of [`Value`]s; ROWTIME is the record's timestamp.
//! Rows travel unchanged: the aggregation drops what it dropped before (rows without a value, NULL
//! group keys) and says so in the same words.
//!
//! At-least-once delivery writes a row twice when an upstream task processes its input record
//! again (after a crash, or a rebalance, before the record's offset was committed); counted twice,
//! the aggregate would be wrong for good. So each row of a single-source upstream carries its
//! origin (the header [`ORIGIN_HEADER`]: the input record's topic, partition and offset, and its
//! index among the rows that record gave), and the downstream task drops a row whose origin is not
//! past the last one it took from the same input partition ([`Dedupe`]). An input partition's
//! records are processed in offset order by one task at a time, so its rows arrive in origin order.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::datatypes::{Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use datafusion_physical_expr::expressions::Column;
use eddy_catalog::{sql_type_of, SqlType};

use crate::columnar::{array_value, values_to_array};
use crate::dataflow::{Dataflow, Input, Step};
use crate::decoder::DecodeError;
use crate::error::{Result, RuntimeError};
use crate::record::{OutputRecord, Record};
use crate::value::Value;

/// Where a dataflow is split for a repartition topic.
#[derive(Debug, Clone)]
pub struct Repartition {
    /// Index of the aggregation in `Dataflow::steps`: the steps before it run upstream, it and
    /// the rest downstream.
    pub at: usize,
    /// Group key columns (after ROWTIME).
    pub keys: usize,
    /// The aggregation's input: ROWTIME, group keys, arguments, `$headers`, `$value_null`.
    pub schema: SchemaRef,
    /// Upstream rows carry their origin (the input is one source whose ROWPARTITION and ROWOFFSET
    /// reach the projection before the aggregation): see [`Dedupe`].
    pub origin: bool,
}

/// The header holding a repartition row's origin: `postcard` of (topic, partition, offset, index).
pub const ORIGIN_HEADER: &str = "eddy.origin";

/// Where the rows a downstream task took last came from, per upstream input partition (topic,
/// partition): the input record's offset and the row's index among that record's rows.
#[derive(Debug, Default)]
pub struct Dedupe {
    last: HashMap<(String, i32), (i64, u32)>,
    /// Rows dropped as written before.
    pub dropped: u64,
}

impl Dedupe {
    /// Whether a row of this origin is new (and remembers it), or was taken before.
    fn take(&mut self, (topic, partition, offset, index): (String, i32, i64, u32)) -> bool {
        match self.last.get_mut(&(topic.clone(), partition)) {
            Some(last) if *last >= (offset, index) => {
                self.dropped += 1;
                false
            }
            Some(last) => {
                *last = (offset, index);
                true
            }
            None => {
                self.last.insert((topic, partition), (offset, index));
                true
            }
        }
    }
}

/// The repartition topic of a query, as ksqlDB names its aggregation's
/// (`<prefix>query_<ID>-Aggregate-GroupBy-repartition`), with Eddy's internal-topic prefix
/// `_eddy_<service id>_`.
pub fn repartition_topic(service_id: &str, query_id: &str) -> String {
    format!("_eddy_{service_id}_query_{query_id}-Aggregate-GroupBy-repartition")
}

impl Dataflow {
    /// Where this dataflow goes through a repartition topic: at a stream aggregation, unless its
    /// input is one unwindowed source read through filters only and its GROUP BY is exactly the
    /// source's key columns in order (the records are then partitioned by the group already, as
    /// ksqlDB decides). An aggregation over a table keeps each table row's last contribution by
    /// the row's key and is not repartitioned (its input is partitioned by that key).
    pub fn repartition(&self) -> Option<Repartition> {
        let at = self.steps.iter().position(|s| matches!(s, Step::Aggregate { .. }))?;
        let Some(Step::Aggregate { keys, table_keys: 0, .. }) = self.steps.get(at) else { return None };
        let Some(Step::Project { exprs, schema, .. }) = at.checked_sub(1).and_then(|i| self.steps.get(i)) else {
            return None;
        };
        let before = at - 1;
        let origin = matches!(self.input, Input::Source(_))
            && self.steps[..before].iter().all(|s| matches!(s, Step::Filter { .. }))
            && matches!(&self.input, Input::Source(src)
                if src.schema.fields().get(1).is_some_and(|f| f.name() == "ROWPARTITION")
                    && src.schema.fields().get(2).is_some_and(|f| f.name() == "ROWOFFSET"));
        let partitioned = match &self.input {
            Input::Source(source) => {
                source.window.is_none()
                    && source.key_columns.len() == *keys
                    && *keys > 0
                    && self.steps[..at - 1].iter().all(|s| matches!(s, Step::Filter { .. }))
                    && (0..*keys).all(|j| {
                        // The source's key columns follow ROWTIME, ROWPARTITION and ROWOFFSET.
                        exprs.get(1 + j).and_then(|e| e.downcast_ref::<Column>()).is_some_and(|c| c.index() == 3 + j)
                    })
            }
            Input::Join(_) => false,
        };
        (!partitioned).then(|| Repartition { at, keys: *keys, schema: schema.clone(), origin })
    }
}

impl Repartition {
    /// The upstream's last step: the projection before the aggregation (`pre`), with the input
    /// record's ROWPARTITION and ROWOFFSET after its columns when rows carry their origin.
    pub fn upstream_step(&self, pre: &Step) -> Step {
        match pre {
            Step::Project { exprs, schema, texts } if self.origin => {
                let mut exprs = exprs.clone();
                exprs.push(Arc::new(Column::new("ROWPARTITION", 1)));
                exprs.push(Arc::new(Column::new("ROWOFFSET", 2)));
                let mut fields: Vec<_> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
                fields.push(eddy_catalog::arrow_field("ROWPARTITION", &SqlType::Int));
                fields.push(eddy_catalog::arrow_field("ROWOFFSET", &SqlType::Bigint));
                Step::Project { exprs, schema: Arc::new(Schema::new(fields)), texts: texts.clone() }
            }
            other => other.clone(),
        }
    }

    /// The rows of an upstream batch (the aggregation's input, with their origin when rows carry
    /// it) read from `topic`, as repartition records.
    pub fn encode(&self, batch: &RecordBatch, topic: &str) -> Result<Vec<OutputRecord>> {
        let width = self.schema.fields().len();
        let expected = if self.origin { width + 2 } else { width };
        if batch.num_columns() != expected {
            return Err(RuntimeError::Internal(format!(
                "repartition input has {} columns, expected {expected}",
                batch.num_columns()
            )));
        }
        let mut previous: Option<(i32, i64, u32)> = None;
        let row = |columns: std::ops::Range<usize>, i: usize| -> Vec<Value> {
            columns.map(|c| array_value(batch.column(c).as_ref(), i)).collect()
        };
        let mut out = Vec::with_capacity(batch.num_rows());
        for i in 0..batch.num_rows() {
            let timestamp = match array_value(batch.column(0).as_ref(), i) {
                Value::Bigint(t) => t,
                _ => 0,
            };
            let key = postcard::to_stdvec(&row(1..1 + self.keys, i)).map_err(internal)?;
            let value = postcard::to_stdvec(&row(1 + self.keys..width, i)).map_err(internal)?;
            let mut headers = Vec::new();
            if self.origin {
                let (partition, offset) = match (
                    array_value(batch.column(width).as_ref(), i),
                    array_value(batch.column(width + 1).as_ref(), i),
                ) {
                    (Value::Int(p), Value::Bigint(o)) => (p, o),
                    _ => return Err(internal("a row without its input record's partition and offset")),
                };
                // A table function gives several rows per record: they are told apart by index.
                let index = match previous {
                    Some((p, o, n)) if (p, o) == (partition, offset) => n + 1,
                    _ => 0,
                };
                previous = Some((partition, offset, index));
                let origin = postcard::to_stdvec(&(topic, partition, offset, index)).map_err(internal)?;
                headers.push((ORIGIN_HEADER.to_string(), Some(origin)));
            }
            out.push(OutputRecord { timestamp, key: Some(key), value: Some(value), headers });
        }
        Ok(out)
    }

    /// Repartition records back to the aggregation's input rows; a record that is not one (its
    /// bytes do not decode to the row's columns) is skipped with an error, a row `dedupe` took
    /// before is dropped.
    pub fn decode(&self, records: &[Record], dedupe: &mut Dedupe) -> Result<(RecordBatch, Vec<DecodeError>)> {
        let types: Vec<SqlType> = self
            .schema
            .fields()
            .iter()
            .map(|f| sql_type_of(f.data_type()).ok_or_else(|| internal(format!("type {}", f.data_type()))))
            .collect::<Result<_>>()?;
        let mut columns: Vec<Vec<Value>> = vec![Vec::with_capacity(records.len()); types.len()];
        let mut errors = Vec::new();
        for (index, r) in records.iter().enumerate() {
            let origin = r.headers.iter().find(|(k, _)| k == ORIGIN_HEADER).and_then(|(_, v)| v.as_deref());
            if let Some(origin) = origin.and_then(|o| postcard::from_bytes::<(String, i32, i64, u32)>(o).ok()) {
                if !dedupe.take(origin) {
                    continue;
                }
            }
            match self.row(r, types.len()) {
                Ok(row) => columns.iter_mut().zip(row).for_each(|(c, v)| c.push(v)),
                Err(message) => errors.push(DecodeError { index, partition: r.partition, offset: r.offset, message }),
            }
        }
        let arrays =
            columns.iter().zip(&types).map(|(values, ty)| values_to_array(values, ty)).collect::<Result<_>>()?;
        Ok((RecordBatch::try_new(self.schema.clone(), arrays)?, errors))
    }

    fn row(&self, record: &Record, width: usize) -> std::result::Result<Vec<Value>, String> {
        let decode = |bytes: Option<&Vec<u8>>, what: &str| -> std::result::Result<Vec<Value>, String> {
            let bytes = bytes.ok_or_else(|| format!("a repartition record without a {what}"))?;
            postcard::from_bytes(bytes).map_err(|e| format!("a repartition record's {what} does not decode: {e}"))
        };
        let mut row = vec![Value::Bigint(record.timestamp)];
        row.extend(decode(record.key.as_ref(), "key")?);
        row.extend(decode(record.value.as_ref(), "value")?);
        if row.len() != width {
            return Err(format!("a repartition record holds {} columns, the aggregation reads {width}", row.len()));
        }
        Ok(row)
    }
}

fn internal(e: impl std::fmt::Display) -> RuntimeError {
    RuntimeError::Internal(format!("repartition record: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use arrow::datatypes::{Field, Schema};
    use eddy_catalog::arrow_field;

    #[test]
    fn rows_round_trip_through_repartition_records() {
        let types = [
            ("ROWTIME", SqlType::Bigint),
            ("K", SqlType::String),
            ("$arg0_0", SqlType::Decimal { precision: 10, scale: 2 }),
            ("$arg1_0", SqlType::Array(Box::new(SqlType::Double))),
            ("$headers", crate::dataflow::headers_type()),
            ("$value_null", SqlType::Boolean),
        ];
        let schema = Arc::new(Schema::new(types.iter().map(|(n, t)| arrow_field(n, t)).collect::<Vec<Field>>()));
        let rows = [
            vec![
                Value::Bigint(7),
                Value::String("a".into()),
                Value::Decimal(1234),
                Value::Array(vec![Value::Double(f64::NAN), Value::Null]),
                Value::Array(vec![Value::Struct(vec![
                    ("KEY".into(), Value::String("h".into())),
                    ("VALUE".into(), Value::Bytes(vec![0, 1])),
                ])]),
                Value::Boolean(false),
            ],
            vec![Value::Bigint(9), Value::Null, Value::Null, Value::Null, Value::Array(vec![]), Value::Boolean(true)],
        ];
        let arrays = (0..types.len())
            .map(|c| values_to_array(&rows.iter().map(|r| r[c].clone()).collect::<Vec<_>>(), &types[c].1))
            .collect::<Result<Vec<_>>>()
            .expect("arrays");
        let batch = RecordBatch::try_new(schema.clone(), arrays).expect("batch");
        let split = Repartition { at: 1, keys: 1, schema, origin: false };
        let out = split.encode(&batch, "t").expect("encode");
        // Equal keys give equal bytes (the partitioner's input).
        assert_eq!(out[0].key, Some(postcard::to_stdvec(&vec![Value::String("a".into())]).expect("key")));
        let mut records: Vec<Record> = out
            .into_iter()
            .enumerate()
            .map(|(i, o)| Record {
                partition: 0,
                offset: i as i64,
                timestamp: o.timestamp,
                key: o.key,
                value: o.value,
                headers: o.headers,
            })
            .collect();
        let key = records[0].key.clone();
        records.push(Record { partition: 0, offset: 2, timestamp: 1, key, value: None, headers: vec![] });
        let (decoded, errors) = split.decode(&records, &mut Dedupe::default()).expect("decode");
        assert_eq!(decoded.num_rows(), 2);
        for (r, row) in rows.iter().enumerate() {
            for (c, v) in row.iter().enumerate() {
                let got = array_value(decoded.column(c).as_ref(), r);
                match (v, &got) {
                    (Value::Array(a), Value::Array(b)) if c == 3 => {
                        assert!(matches!(b.first(), Some(Value::Double(d)) if d.is_nan()) && a.len() == b.len())
                    }
                    _ => assert_eq!(&got, v, "row {r} column {c}"),
                }
            }
        }
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].offset, 2);
        assert!(errors[0].message.contains("without a value"), "{}", errors[0].message);
    }
}

#[cfg(test)]
mod dedupe_tests {
    use super::*;

    #[test]
    fn rows_written_again_are_taken_once_per_input_partition() {
        let mut d = Dedupe::default();
        let o = |topic: &str, p: i32, offset: i64, index: u32| (topic.to_string(), p, offset, index);
        // Offset 5 gave two rows; both are new, then read again after a crash they are not.
        assert!(d.take(o("s", 0, 5, 0)) && d.take(o("s", 0, 5, 1)));
        assert!(!d.take(o("s", 0, 4, 0)) && !d.take(o("s", 0, 5, 0)) && !d.take(o("s", 0, 5, 1)));
        // Other partitions and topics are told apart.
        assert!(d.take(o("s", 1, 0, 0)) && d.take(o("u", 0, 0, 0)));
        assert!(d.take(o("s", 0, 6, 0)));
        assert_eq!(d.dropped, 3);
    }
}
