//! GROUP BY: one running aggregate per group key (per window when windowed), one changelog row per
//! update (ksqlDB with record caching off), or per closed window with EMIT FINAL. Over a table, a
//! changed or deleted row is taken out of its old group first.

use arrow::array::{Array, BooleanArray, Int64Array};
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use eddy_catalog::sql_type_of;

use super::Operator;
use crate::aggregate::{AggregateFunction, Change, GroupKey, GroupRow, Groups, Sessions, TableGroups, TimeWindows};
use crate::columnar::{array_value, values_to_array};
use crate::dataflow::{WindowPlan, Windowing};
use crate::error::{Result, RuntimeError};
use crate::value::Value;

/// An aggregate with the number of argument columns it reads.
#[derive(Debug, Clone)]
pub struct AggregateCall {
    pub function: AggregateFunction,
    pub args: usize,
}

/// Where the groups live.
enum Store {
    Plain(Groups),
    Table(TableGroups),
    Time(TimeWindows),
    Session(Sessions),
}

/// Input: ROWTIME, keys, each call's arguments, (over a table: the table's key columns,) headers,
/// value-null. Output: ROWTIME, keys, (WINDOWSTART, WINDOWEND when windowed,) each call's result,
/// headers, value-null.
pub struct Aggregator {
    keys: usize,
    /// Over a table: how many key columns identify the table's rows.
    table_keys: usize,
    calls: Vec<AggregateCall>,
    functions: Vec<AggregateFunction>,
    schema: SchemaRef,
    store: Store,
    /// Rows folded in so far: orders EARLIEST/LATEST_BY_OFFSET across merged sessions.
    seq: u64,
    errors: Vec<String>,
}

impl Aggregator {
    pub fn new(
        keys: usize,
        calls: Vec<AggregateCall>,
        schema: SchemaRef,
        window: Option<WindowPlan>,
        table_keys: usize,
    ) -> Self {
        let store = match window {
            None if table_keys > 0 => Store::Table(TableGroups::default()),
            None => Store::Plain(Groups::default()),
            Some(WindowPlan {
                windowing: Windowing::Time { size_ms, advance_ms, grace_ms, retention_ms },
                emit_final,
            }) => Store::Time(TimeWindows::new(size_ms, advance_ms, grace_ms, retention_ms, emit_final)),
            Some(WindowPlan { windowing: Windowing::Session { gap_ms, grace_ms }, emit_final }) => {
                Store::Session(Sessions::new(gap_ms, grace_ms, emit_final))
            }
        };
        let functions = calls.iter().map(|c| c.function.clone()).collect();
        Self { keys, table_keys, calls, functions, schema, store, seq: 0, errors: Vec::new() }
    }

    /// Groups (windows, sessions) held in state (for metrics).
    pub fn group_count(&self) -> usize {
        match &self.store {
            Store::Plain(g) => g.held(),
            Store::Table(g) => g.held(),
            Store::Time(w) => w.held(),
            Store::Session(s) => s.held(),
        }
    }

    fn windowed(&self) -> bool {
        matches!(self.store, Store::Time(_) | Store::Session(_))
    }

    /// The output rows of the changes.
    fn batch(&self, changes: Vec<Change>) -> Result<RecordBatch> {
        let windowed = self.windowed();
        let width = self.schema.fields().len();
        let mut out: Vec<Vec<Value>> = vec![Vec::with_capacity(changes.len()); width];
        for change in changes {
            let mut col = 0;
            let mut push = |v: Value| {
                out[col].push(v);
                col += 1;
            };
            push(Value::Bigint(change.timestamp));
            for k in change.key.values() {
                push(k);
            }
            if windowed {
                let (start, end) = change.window.unwrap_or_default();
                push(Value::Bigint(start));
                push(Value::Bigint(end));
            }
            let deleted = change.results.is_none();
            match change.results {
                Some(results) => results.into_iter().for_each(&mut push),
                None => (0..self.calls.len()).for_each(|_| push(Value::Null)),
            }
            push(Value::Array(Vec::new()));
            push(Value::Boolean(deleted));
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
        Ok(RecordBatch::try_new(self.schema.clone(), arrays)?)
    }
}

/// Each call's arguments in row `row`, the first call's starting at column `first`.
fn row_args(calls: &[AggregateCall], batch: &RecordBatch, first: usize, row: usize) -> Vec<Vec<Value>> {
    let mut col = first;
    calls
        .iter()
        .map(|call| {
            let args = (col..col + call.args).map(|c| array_value(batch.column(c).as_ref(), row)).collect();
            col += call.args;
            args
        })
        .collect()
}

impl Operator for Aggregator {
    fn process(&mut self, batch: RecordBatch) -> Result<Option<RecordBatch>> {
        let width = batch.num_columns();
        let arg_cols: usize = self.calls.iter().map(|c| c.args).sum();
        let expected = 3 + self.keys + arg_cols + self.table_keys;
        if width != expected {
            return Err(RuntimeError::Internal(format!("aggregate input has {width} columns, expected {expected}")));
        }
        let timestamps = batch.column(0).as_any().downcast_ref::<Int64Array>();
        let value_null = batch.column(width - 1).as_any().downcast_ref::<BooleanArray>();
        let key_columns: Vec<&dyn Array> = (1..=self.keys).map(|c| batch.column(c).as_ref()).collect();
        let first_row_key = 1 + self.keys + arg_cols;
        let row_key_columns: Vec<&dyn Array> =
            (first_row_key..first_row_key + self.table_keys).map(|c| batch.column(c).as_ref()).collect();
        let mut changes = Vec::new();
        for row in 0..batch.num_rows() {
            let deleted = value_null.is_some_and(|v| v.is_valid(row) && v.value(row));
            let timestamp = timestamps.filter(|t| t.is_valid(row)).map_or(0, |t| t.value(row));
            if let Store::Table(table) = &mut self.store {
                let Some(row_key) = GroupKey::from_columns(&row_key_columns, row) else { continue };
                let group = if deleted { None } else { GroupKey::from_columns(&key_columns, row) };
                if group.is_none() && !deleted {
                    self.errors.push("a GROUP BY column is NULL; the row leaves the aggregation".into());
                }
                let new = group.map(|g| (g, row_args(&self.calls, &batch, 1 + self.keys, row)));
                self.seq += 1;
                table.update(&self.functions, row_key, new, timestamp, self.seq, &mut changes);
                continue;
            }
            if deleted {
                continue; // a stream aggregation ignores records without a value
            }
            let Some(key) = GroupKey::from_columns(&key_columns, row) else {
                self.errors.push("a GROUP BY column is NULL; record skipped".into());
                continue;
            };
            let args = row_args(&self.calls, &batch, 1 + self.keys, row);
            self.seq += 1;
            let functions = &self.functions;
            let row = GroupRow { key, args: &args, timestamp, seq: self.seq };
            match &mut self.store {
                Store::Plain(groups) => changes.push(groups.add(functions, row)),
                Store::Table(_) => {}
                Store::Time(windows) => windows.add(functions, row, &mut changes),
                Store::Session(sessions) => sessions.add(functions, row, &mut changes),
            }
        }
        if changes.is_empty() {
            return Ok(None);
        }
        self.batch(changes).map(Some)
    }

    fn take_errors(&mut self) -> Vec<String> {
        std::mem::take(&mut self.errors)
    }
}
