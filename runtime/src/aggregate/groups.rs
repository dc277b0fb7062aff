//! Running aggregates per group key, and the changes an aggregation emits.

use std::collections::HashMap;

use super::{Accumulator, AggregateFunction, GroupKey};
use crate::value::Value;

/// One group's (or one window's) running aggregates.
#[derive(Debug, Clone)]
pub struct Group {
    pub accumulators: Box<[Accumulator]>,
    /// The largest timestamp of the rows folded in: the timestamp of the group's changelog rows.
    pub max_timestamp: i64,
}

impl Group {
    /// A group before any row.
    pub fn new(functions: &[AggregateFunction], timestamp: i64) -> Self {
        Self { accumulators: functions.iter().map(AggregateFunction::init).collect(), max_timestamp: timestamp }
    }

    /// Folds one row in: `args` holds each function's arguments.
    pub fn update(&mut self, functions: &[AggregateFunction], args: &[Vec<Value>], timestamp: i64, seq: u64) {
        self.max_timestamp = self.max_timestamp.max(timestamp);
        for ((f, acc), a) in functions.iter().zip(self.accumulators.iter_mut()).zip(args) {
            f.update(acc, a, seq);
        }
    }

    /// Takes one row back out (a table row that changed or was deleted).
    pub fn undo(&mut self, functions: &[AggregateFunction], args: &[Vec<Value>], timestamp: i64) {
        self.max_timestamp = self.max_timestamp.max(timestamp);
        for ((f, acc), a) in functions.iter().zip(self.accumulators.iter_mut()).zip(args) {
            f.undo(acc, a);
        }
    }

    /// Folds another group in (merging sessions).
    pub fn merge(&mut self, functions: &[AggregateFunction], other: &Group) {
        self.max_timestamp = self.max_timestamp.max(other.max_timestamp);
        for ((f, acc), o) in functions.iter().zip(self.accumulators.iter_mut()).zip(other.accumulators.iter()) {
            f.merge(acc, o);
        }
    }

    /// Each function's current result.
    pub fn results(&self, functions: &[AggregateFunction]) -> Vec<Value> {
        functions.iter().zip(self.accumulators.iter()).map(|(f, a)| f.result(a)).collect()
    }
}

/// One input row of an aggregation: its group, each function's arguments, its timestamp, and its
/// arrival number (which orders EARLIEST/LATEST_BY_OFFSET across merged sessions).
#[derive(Debug, Clone)]
pub struct GroupRow<'r> {
    pub key: GroupKey,
    pub args: &'r [Vec<Value>],
    pub timestamp: i64,
    pub seq: u64,
}

/// One row of an aggregation's changelog.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub key: GroupKey,
    /// `(WINDOWSTART, WINDOWEND)` of a windowed aggregation.
    pub window: Option<(i64, i64)>,
    pub timestamp: i64,
    /// The results; None deletes the row (a session merged into a larger one).
    pub results: Option<Vec<Value>>,
}

/// The groups of an aggregation without windows: every row updates its group and emits it.
#[derive(Debug, Default)]
pub struct Groups {
    groups: HashMap<GroupKey, Group>,
}

impl Groups {
    /// Folds a row into its group; returns the group's new row.
    pub fn add(&mut self, functions: &[AggregateFunction], row: GroupRow<'_>) -> Change {
        let GroupRow { key, args, timestamp, seq } = row;
        let group = self.groups.entry(key.clone()).or_insert_with(|| Group::new(functions, timestamp));
        group.update(functions, args, timestamp, seq);
        Change { key, window: None, timestamp: group.max_timestamp, results: Some(group.results(functions)) }
    }

    /// Takes a row back out of its group; returns the group.
    fn undo(&mut self, functions: &[AggregateFunction], key: &GroupKey, args: &[Vec<Value>], timestamp: i64) -> &Group {
        let group = self.groups.entry(key.clone()).or_insert_with(|| Group::new(functions, timestamp));
        group.undo(functions, args, timestamp);
        group
    }

    /// Takes a row back out of its group; returns the group's new row.
    pub fn remove(
        &mut self,
        functions: &[AggregateFunction],
        key: GroupKey,
        args: &[Vec<Value>],
        timestamp: i64,
    ) -> Change {
        let group = self.undo(functions, &key, args, timestamp);
        let (timestamp, results) = (group.max_timestamp, group.results(functions));
        Change { key, window: None, timestamp, results: Some(results) }
    }

    /// Groups held.
    pub fn held(&self) -> usize {
        self.groups.len()
    }
}

/// What a table row last contributed: its group and its aggregate arguments.
type Contribution = (GroupKey, Vec<Vec<Value>>);

/// The groups of an aggregation over a table: a row that changes is taken out of its old group
/// before it is added to its new one, and a deleted row is taken out (Kafka Streams' subtractor
/// and adder). Each group touched emits one row, the old group first.
#[derive(Debug, Default)]
pub struct TableGroups {
    groups: Groups,
    /// Each table row's contribution, by the table's key.
    rows: HashMap<GroupKey, Contribution>,
}

impl TableGroups {
    /// Applies the table row `row_key` becoming `new` (None: deleted, or no group) and appends the
    /// changes to emit.
    pub fn update(
        &mut self,
        functions: &[AggregateFunction],
        row_key: GroupKey,
        new: Option<Contribution>,
        timestamp: i64,
        seq: u64,
        out: &mut Vec<Change>,
    ) {
        let old = self.rows.remove(&row_key);
        match (old, new) {
            (Some((old_group, old_args)), Some((group, args))) if old_group == group => {
                // One emission: the row leaves and rejoins the same group.
                self.groups.undo(functions, &old_group, &old_args, timestamp);
                out.push(self.groups.add(functions, GroupRow { key: group.clone(), args: &args, timestamp, seq }));
                self.rows.insert(row_key, (group, args));
            }
            (old, new) => {
                if let Some((old_group, old_args)) = old {
                    out.push(self.groups.remove(functions, old_group, &old_args, timestamp));
                }
                if let Some((group, args)) = new {
                    out.push(self.groups.add(functions, GroupRow { key: group.clone(), args: &args, timestamp, seq }));
                    self.rows.insert(row_key, (group, args));
                }
            }
        }
    }

    /// Groups held.
    pub fn held(&self) -> usize {
        self.groups.held()
    }
}
