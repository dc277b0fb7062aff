//! GROUP BY for streams: one running aggregate per group key, one changelog row per input row
//! (ksqlDB with record caching off).

use std::collections::HashMap;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use eddy_catalog::sql_type_of;

use super::Operator;
use crate::aggregate::{Accumulator, AggregateFunction};
use crate::columnar::{array_value, values_to_array};
use crate::error::{Result, RuntimeError};
use crate::value::Value;

/// An aggregate with the number of argument columns it reads.
#[derive(Debug, Clone)]
pub struct AggregateCall {
    pub function: AggregateFunction,
    pub args: usize,
}

/// Input: ROWTIME, keys, each call's arguments, headers, value-null.
/// Output: ROWTIME, keys, each call's result, headers, value-null.
pub struct Aggregator {
    keys: usize,
    calls: Vec<AggregateCall>,
    schema: SchemaRef,
    groups: HashMap<Vec<KeyPart>, Group>,
    errors: Vec<String>,
}

struct Group {
    accumulators: Vec<Accumulator>,
    max_timestamp: i64,
}

/// A hashable form of a key value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct KeyPart(String);

impl Aggregator {
    pub fn new(keys: usize, calls: Vec<AggregateCall>, schema: SchemaRef) -> Self {
        Self { keys, calls, schema, groups: HashMap::new(), errors: Vec::new() }
    }

    /// Groups held in state (for metrics).
    pub fn group_count(&self) -> usize {
        self.groups.len()
    }
}

impl Operator for Aggregator {
    fn process(&mut self, batch: RecordBatch) -> Result<Option<RecordBatch>> {
        let width = batch.num_columns();
        let arg_cols: usize = self.calls.iter().map(|c| c.args).sum();
        if width != 3 + self.keys + arg_cols {
            return Err(RuntimeError::Internal(format!(
                "aggregate input has {width} columns, expected {}",
                3 + self.keys + arg_cols
            )));
        }
        let mut out: Vec<Vec<Value>> = vec![Vec::new(); self.schema.fields().len()];
        for row in 0..batch.num_rows() {
            let get = |c: usize| array_value(batch.column(c).as_ref(), row);
            if matches!(get(width - 1), Value::Boolean(true)) {
                continue; // a stream aggregation ignores records without a value
            }
            let key: Vec<Value> = (1..=self.keys).map(get).collect();
            if key.iter().any(Value::is_null) {
                self.errors.push("a GROUP BY column is NULL; record skipped".into());
                continue;
            }
            let timestamp = match get(0) {
                Value::Bigint(t) => t,
                _ => 0,
            };
            let hashed: Vec<KeyPart> = key.iter().map(|v| KeyPart(format!("{v:?}"))).collect();
            let calls = &self.calls;
            let group = self.groups.entry(hashed).or_insert_with(|| Group {
                accumulators: calls.iter().map(|c| c.function.init()).collect(),
                max_timestamp: i64::MIN,
            });
            group.max_timestamp = group.max_timestamp.max(timestamp);
            let mut col = 1 + self.keys;
            for (call, acc) in self.calls.iter().zip(group.accumulators.iter_mut()) {
                let args: Vec<Value> = (col..col + call.args).map(get).collect();
                col += call.args;
                call.function.update(acc, &args);
            }
            out[0].push(Value::Bigint(group.max_timestamp));
            for (i, k) in key.into_iter().enumerate() {
                out[1 + i].push(k);
            }
            for (i, (call, acc)) in self.calls.iter().zip(&group.accumulators).enumerate() {
                out[1 + self.keys + i].push(call.function.result(acc));
            }
            let n = out.len();
            out[n - 2].push(Value::Array(Vec::new()));
            out[n - 1].push(Value::Boolean(false));
        }
        if out[0].is_empty() {
            return Ok(None);
        }
        let arrays = self
            .schema
            .fields()
            .iter()
            .zip(&out)
            .map(|(f, values)| {
                let ty = sql_type_of(f.data_type())
                    .ok_or_else(|| RuntimeError::Internal(format!("type {}", f.data_type())))?;
                values_to_array(values, &ty)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Some(RecordBatch::try_new(self.schema.clone(), arrays)?))
    }

    fn take_errors(&mut self) -> Vec<String> {
        std::mem::take(&mut self.errors)
    }
}
