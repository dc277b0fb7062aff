//! Joins two inputs as Kafka Streams does for ksqlDB: stream-stream within join windows, stream-table
//! lookups, and table-table joins over both sides' latest rows.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray};
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use datafusion_physical_expr::PhysicalExpr;
use eddy_catalog::SqlType;

use crate::columnar::{array_value, values_to_array};
use crate::dataflow::{JoinKind, JoinShape};
use crate::error::{Result, RuntimeError};
use crate::eval::evaluate_rowwise;
use crate::value::Value;

/// Kafka Streams' grace period for join windows declared without one.
const DEFAULT_GRACE_MS: i64 = 24 * 60 * 60 * 1000;

/// One input row: its visible columns (ROWTIME first), its headers and its timestamp.
#[derive(Debug, Clone)]
struct Row {
    ts: i64,
    columns: Vec<Value>,
    headers: Value,
}

/// Rows of one side by join key, for stream-stream joins: (timestamp, row), in arrival order.
#[derive(Default)]
struct WindowStore {
    rows: HashMap<String, Vec<Row>>,
    /// Largest timestamp put; rows older than it minus the retention are gone.
    observed: i64,
}

/// The join operator. Sides are `true` for left, `false` for right.
pub struct Joiner {
    kind: JoinKind,
    shape: JoinShape,
    keys: [Arc<dyn PhysicalExpr>; 2],
    key_type: SqlType,
    /// Visible columns per side (their hidden columns excluded).
    widths: [usize; 2],
    schema: SchemaRef,
    types: Vec<SqlType>,
    tables: [HashMap<String, Row>; 2],
    windows: [WindowStore; 2],
    /// Unmatched stream rows waiting for their window to close: (timestamp, right side first, key) -> row.
    outer: BTreeMap<(i64, bool, String), Vec<(Value, Row)>>,
    stream_time: i64,
    /// Foreign-key joins: the left rows' primary keys by foreign key, in arrival order, and the left
    /// keys with a joined row in the output (an inner join deletes it when the match goes).
    foreign: HashMap<String, Vec<String>>,
    joined: HashSet<String>,
    left_rows: HashMap<String, LeftRow>,
    errors: Vec<String>,
}

/// A left row of a foreign-key join: its primary key, the row and its foreign key.
#[derive(Debug, Clone)]
struct LeftRow {
    key: Value,
    row: Row,
    foreign_key: Value,
}

/// An output row under construction.
struct Joined {
    ts: i64,
    key: Value,
    left: Option<Row>,
    right: Option<Row>,
    /// A table join's deletion.
    tombstone: bool,
    /// Partition, offset and headers come from the row that triggered the output.
    trigger: Row,
}

impl Joiner {
    pub fn new(
        kind: JoinKind,
        shape: JoinShape,
        keys: [Arc<dyn PhysicalExpr>; 2],
        widths: [usize; 2],
        schema: SchemaRef,
        types: Vec<SqlType>,
    ) -> Self {
        let key_type = types.get(3).cloned().unwrap_or(SqlType::String);
        Self {
            kind,
            shape,
            keys,
            key_type,
            widths,
            schema,
            types,
            tables: [HashMap::new(), HashMap::new()],
            windows: [WindowStore::default(), WindowStore::default()],
            outer: BTreeMap::new(),
            stream_time: i64::MIN,
            foreign: HashMap::new(),
            joined: HashSet::new(),
            left_rows: HashMap::new(),
            errors: Vec::new(),
        }
    }

    /// Rows whose key expression failed.
    pub fn take_errors(&mut self) -> Vec<String> {
        std::mem::take(&mut self.errors)
    }

    /// Processes a batch of one side (its hidden headers and value-null columns last).
    pub fn process(&mut self, left: bool, batch: RecordBatch) -> Result<Option<RecordBatch>> {
        let side = if left { 0 } else { 1 };
        let width = self.widths[side];
        if batch.num_columns() != width + 2 {
            return Err(RuntimeError::Internal(format!(
                "join input has {} columns, expected {}",
                batch.num_columns(),
                width + 2
            )));
        }
        let keys = evaluate_rowwise(&self.keys[side], &batch, &mut self.errors)?;
        let value_null = batch
            .column(width + 1)
            .as_any()
            .downcast_ref::<BooleanArray>()
            .ok_or_else(|| RuntimeError::Internal("the last column is not the value-null flag".into()))?
            .clone();
        let mut out = Vec::new();
        for i in 0..batch.num_rows() {
            let columns: Vec<Value> = (0..width).map(|c| array_value(batch.column(c).as_ref(), i)).collect();
            let ts = match columns.first() {
                Some(Value::Bigint(t)) | Some(Value::Timestamp(t)) => *t,
                _ => 0,
            };
            let row = Row { ts, columns, headers: array_value(batch.column(width).as_ref(), i) };
            let key = array_value(keys.as_ref(), i);
            let is_null_value = value_null.is_valid(i) && value_null.value(i);
            match self.shape {
                JoinShape::TableTable => self.table_table(left, key, row, is_null_value, &mut out),
                JoinShape::ForeignKey { left_primary } if left => {
                    self.foreign_left(left_primary, key, row, is_null_value, &mut out)
                }
                JoinShape::ForeignKey { .. } => self.foreign_right(key, row, is_null_value, &mut out),
                JoinShape::StreamTable => self.stream_table(left, key, row, is_null_value, &mut out),
                JoinShape::StreamStream { before_ms, after_ms, grace_ms } => {
                    self.stream_stream(left, key, row, is_null_value, (before_ms, after_ms, grace_ms), &mut out)
                }
            }
        }
        if out.is_empty() {
            return Ok(None);
        }
        self.build(out).map(Some)
    }

    fn table_table(&mut self, left: bool, key: Value, row: Row, deleted: bool, out: &mut Vec<Joined>) {
        if key.is_null() {
            return;
        }
        let (this, other) = if left { (0, 1) } else { (1, 0) };
        let k = format!("{key:?}");
        let old = if deleted { self.tables[this].remove(&k) } else { self.tables[this].insert(k.clone(), row.clone()) };
        let other_row = self.tables[other].get(&k).cloned();
        let (ts, this_row, other_row) = match other_row {
            None => {
                if !self.kind.preserves(left) || (deleted && old.is_none()) {
                    return;
                }
                (row.ts, (!deleted).then(|| row.clone()), None)
            }
            Some(o) => {
                let ts = row.ts.max(o.ts);
                if deleted && !self.kind.preserves(!left) {
                    out.push(Joined { ts, key, left: None, right: None, tombstone: true, trigger: row });
                    return;
                }
                (ts, (!deleted).then(|| row.clone()), Some(o))
            }
        };
        if this_row.is_none() && other_row.is_none() {
            out.push(Joined { ts, key, left: None, right: None, tombstone: true, trigger: row });
            return;
        }
        let (l, r) = if left { (this_row, other_row) } else { (other_row, this_row) };
        out.push(Joined { ts, key, left: l, right: r, tombstone: false, trigger: row });
    }

    /// A left row of a foreign-key join: (re)joined with the right row its foreign key names; a
    /// deleted left row deletes its output row.
    fn foreign_left(&mut self, primary: usize, foreign_key: Value, row: Row, deleted: bool, out: &mut Vec<Joined>) {
        let key = row.columns.get(primary).cloned().unwrap_or(Value::Null);
        if key.is_null() {
            return;
        }
        let k = format!("{key:?}");
        if let Some(old) = self.left_rows.remove(&k) {
            let old_fk = format!("{:?}", old.foreign_key);
            if let Some(keys) = self.foreign.get_mut(&old_fk) {
                keys.retain(|x| *x != k);
                if keys.is_empty() {
                    self.foreign.remove(&old_fk);
                }
            }
            if deleted {
                self.joined.remove(&k);
                out.push(Joined { ts: row.ts, key, left: None, right: None, tombstone: true, trigger: row });
                return;
            }
        } else if deleted {
            return;
        }
        let right = if foreign_key.is_null() {
            None
        } else {
            let fk = format!("{foreign_key:?}");
            self.foreign.entry(fk.clone()).or_default().push(k.clone());
            self.tables[1].get(&fk).cloned()
        };
        self.left_rows.insert(k.clone(), LeftRow { key: key.clone(), row: row.clone(), foreign_key });
        match right {
            Some(r) => {
                self.joined.insert(k);
                let ts = row.ts.max(r.ts);
                out.push(Joined { ts, key, left: Some(row.clone()), right: Some(r), tombstone: false, trigger: row });
            }
            None if self.kind.preserves(true) => out.push(Joined {
                ts: row.ts,
                key,
                left: Some(row.clone()),
                right: None,
                tombstone: false,
                trigger: row,
            }),
            None => {
                if self.joined.remove(&k) {
                    out.push(Joined { ts: row.ts, key, left: None, right: None, tombstone: true, trigger: row });
                }
            }
        }
    }

    /// A right row of a foreign-key join: every left row whose foreign key names it is joined again
    /// (or, when it is deleted, loses its match).
    fn foreign_right(&mut self, key: Value, row: Row, deleted: bool, out: &mut Vec<Joined>) {
        if key.is_null() {
            return;
        }
        let k = format!("{key:?}");
        let existed = if deleted {
            self.tables[1].remove(&k).is_some()
        } else {
            self.tables[1].insert(k.clone(), row.clone());
            true
        };
        if !existed {
            return;
        }
        for left_key in self.foreign.get(&k).cloned().unwrap_or_default() {
            let Some(l) = self.left_rows.get(&left_key).cloned() else { continue };
            let (lk, ts) = (l.key, row.ts.max(l.row.ts));
            if !deleted {
                self.joined.insert(left_key);
                out.push(Joined {
                    ts,
                    key: lk,
                    left: Some(l.row),
                    right: Some(row.clone()),
                    tombstone: false,
                    trigger: row.clone(),
                });
            } else if self.kind.preserves(true) {
                out.push(Joined {
                    ts,
                    key: lk,
                    left: Some(l.row),
                    right: None,
                    tombstone: false,
                    trigger: row.clone(),
                });
            } else if self.joined.remove(&left_key) {
                out.push(Joined { ts, key: lk, left: None, right: None, tombstone: true, trigger: row.clone() });
            }
        }
    }

    fn stream_table(&mut self, left: bool, key: Value, row: Row, deleted: bool, out: &mut Vec<Joined>) {
        if !left {
            // The table side only updates the lookup state.
            if key.is_null() {
                return;
            }
            let k = format!("{key:?}");
            if deleted {
                self.tables[1].remove(&k);
            } else {
                self.tables[1].insert(k, row);
            }
            return;
        }
        if key.is_null() || deleted {
            return;
        }
        let found = self.tables[1].get(&format!("{key:?}")).cloned();
        if found.is_none() && !self.kind.preserves(true) {
            return;
        }
        out.push(Joined { ts: row.ts, key, left: Some(row.clone()), right: found, tombstone: false, trigger: row });
    }

    fn stream_stream(
        &mut self,
        left: bool,
        key: Value,
        row: Row,
        deleted: bool,
        (before, after, grace): (i64, i64, Option<i64>),
        out: &mut Vec<Joined>,
    ) {
        let ts = row.ts;
        self.stream_time = self.stream_time.max(ts);
        let (this, other) = if left { (0, 1) } else { (1, 0) };
        // The other side's rows that join: within [ts - before, ts + after] seen from the left.
        let (look_back, look_ahead) = if left { (before, after) } else { (after, before) };
        let preserves = self.kind.preserves(left);
        if key.is_null() {
            if preserves && !deleted {
                out.push(self.unmatched(left, key, row));
            }
            return;
        }
        if deleted {
            return;
        }
        let grace_ms = grace.unwrap_or(DEFAULT_GRACE_MS);
        let retention = before + after + grace_ms;
        let k = format!("{key:?}");
        // This side's window store keeps the row unless it is already expired.
        let store = &mut self.windows[this];
        store.observed = store.observed.max(ts);
        if ts > store.observed - retention {
            store.rows.entry(k.clone()).or_default().push(row.clone());
            let horizon = store.observed - retention;
            if let Some(rows) = store.rows.get_mut(&k) {
                rows.retain(|r| r.ts > horizon);
            }
        }
        if grace.is_some() && ts == self.stream_time {
            self.emit_closed(before, after, grace_ms, out);
        }
        let from = (ts - look_back).max(0);
        let to = (ts + look_ahead).max(0);
        let other_store = &self.windows[other];
        let horizon = other_store.observed - retention;
        let mut matches: Vec<Row> = other_store
            .rows
            .get(&k)
            .map(|rows| rows.iter().filter(|r| r.ts >= from && r.ts <= to && r.ts > horizon).cloned().collect())
            .unwrap_or_default();
        matches.sort_by_key(|r| r.ts);
        for m in &matches {
            self.outer.remove(&(m.ts, left, k.clone()));
            let (l, r) = if left { (row.clone(), m.clone()) } else { (m.clone(), row.clone()) };
            out.push(Joined {
                ts: ts.max(m.ts),
                key: key.clone(),
                left: Some(l),
                right: Some(r),
                tombstone: false,
                trigger: row.clone(),
            });
        }
        if matches.is_empty() && preserves {
            if grace.is_none() || to < self.stream_time {
                out.push(self.unmatched(left, key, row));
            } else {
                // Right-side rows sort first at equal timestamps, as Kafka Streams' store orders them.
                self.outer.entry((ts, !left, k)).or_default().push((key, row));
            }
        }
    }

    /// Emits the waiting unmatched rows whose window has closed, oldest first.
    fn emit_closed(&mut self, before: i64, after: i64, grace: i64, out: &mut Vec<Joined>) {
        let mut done = Vec::new();
        for (ts, right_first, k) in self.outer.keys() {
            let is_left = !*right_first;
            let look_back = if is_left { after } else { before };
            if ts + look_back + grace >= self.stream_time {
                if is_left {
                    break;
                }
                continue;
            }
            done.push(((*ts, *right_first, k.clone()), is_left));
        }
        for (entry, is_left) in done {
            for (key, row) in self.outer.remove(&entry).unwrap_or_default() {
                out.push(self.unmatched(is_left, key, row));
            }
        }
    }

    fn unmatched(&self, left: bool, key: Value, row: Row) -> Joined {
        let (l, r) = if left { (Some(row.clone()), None) } else { (None, Some(row.clone())) };
        Joined { ts: row.ts, key, left: l, right: r, tombstone: false, trigger: row }
    }

    fn build(&self, rows: Vec<Joined>) -> Result<RecordBatch> {
        let n = self.types.len();
        let mut columns: Vec<Vec<Value>> = vec![Vec::with_capacity(rows.len()); n];
        for j in rows {
            let mut values = Vec::with_capacity(n);
            values.push(Value::Bigint(j.ts));
            values.push(j.trigger.columns.get(1).cloned().unwrap_or(Value::Null));
            values.push(j.trigger.columns.get(2).cloned().unwrap_or(Value::Null));
            values.push(conform_key(j.key, &self.key_type));
            for (side, part) in [j.left, j.right].into_iter().enumerate() {
                match part {
                    Some(r) => values.extend(r.columns),
                    None => values.extend(std::iter::repeat_n(Value::Null, self.widths[side])),
                }
            }
            values.push(j.trigger.headers);
            values.push(Value::Boolean(j.tombstone));
            for (c, v) in columns.iter_mut().zip(values) {
                c.push(v);
            }
        }
        let arrays = columns
            .iter()
            .zip(&self.types)
            .map(|(values, ty)| values_to_array(values, ty))
            .collect::<Result<Vec<ArrayRef>>>()?;
        Ok(RecordBatch::try_new(self.schema.clone(), arrays)?)
    }
}

/// The key column holds the key as evaluated; ROWTIME-typed keys come back as BIGINT values.
fn conform_key(key: Value, ty: &SqlType) -> Value {
    match (key, ty) {
        (Value::Bigint(v), SqlType::Timestamp) => Value::Timestamp(v),
        (Value::Timestamp(v), SqlType::Bigint) => Value::Bigint(v),
        (k, _) => k,
    }
}
