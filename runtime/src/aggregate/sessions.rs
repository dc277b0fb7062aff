//! Session windows, as Kafka Streams' session aggregation runs them for ksqlDB.
//!
//! A session `[start, end]` holds a key's rows that are at most `gap` apart. A row joins every session
//! of its key within `gap` of it; they merge into one: with EMIT CHANGES each merged-away session is
//! deleted (a tombstone at its end) before the merged session is emitted at its end. Stream time is
//! the largest timestamp seen; a session closes when its end is before `stream time - grace - gap`.
//! Closed sessions leave the state (with EMIT FINAL they are emitted then, in end-then-key order),
//! and a row whose merged session would already be closed is dropped and counted.

use std::collections::{BTreeMap, BTreeSet};

use super::{AggregateFunction, Change, Group, GroupKey, GroupRow};

/// The state of a session-windowed aggregation.
#[derive(Debug)]
pub struct Sessions {
    gap: i64,
    grace: i64,
    emit_final: bool,
    /// Sessions by key, then end, then start.
    sessions: BTreeMap<(GroupKey, i64, i64), Group>,
    /// The same sessions by end, to close them in order.
    by_end: BTreeSet<(i64, GroupKey, i64)>,
    stream_time: i64,
    late: u64,
}

impl Sessions {
    pub fn new(gap: i64, grace: i64, emit_final: bool) -> Self {
        Self {
            gap: gap.max(0),
            grace: grace.max(0),
            emit_final,
            sessions: BTreeMap::new(),
            by_end: BTreeSet::new(),
            stream_time: i64::MIN,
            late: 0,
        }
    }

    /// Folds a row into its session and appends the changes to emit.
    pub fn add(&mut self, functions: &[AggregateFunction], row: GroupRow<'_>, out: &mut Vec<Change>) {
        let GroupRow { key, args, timestamp, seq } = row;
        self.stream_time = self.stream_time.max(timestamp);
        let close = self.stream_time.saturating_sub(self.grace).saturating_sub(self.gap);
        let from = timestamp.saturating_sub(self.gap).max(close);
        let to = timestamp.saturating_add(self.gap);
        let found: Vec<(i64, i64)> = self
            .sessions
            .range((key.clone(), from, i64::MIN)..=(key.clone(), i64::MAX, i64::MAX))
            .filter(|((_, _, start), _)| *start <= to)
            .map(|((_, end, start), _)| (*start, *end))
            .collect();
        let start = found.iter().map(|s| s.0).fold(timestamp, i64::min);
        let end = found.iter().map(|s| s.1).fold(timestamp, i64::max);
        if end < close {
            self.late += 1;
            return;
        }
        let mut group = Group::new(functions, timestamp);
        for (s, e) in found {
            let Some(old) = self.sessions.remove(&(key.clone(), e, s)) else { continue };
            self.by_end.remove(&(e, key.clone(), s));
            group.merge(functions, &old);
            if (start, end) != (timestamp, timestamp) && !self.emit_final {
                out.push(Change { key: key.clone(), window: Some((s, e)), timestamp: e, results: None });
            }
        }
        group.update(functions, args, timestamp, seq);
        if !self.emit_final {
            out.push(Change {
                key: key.clone(),
                window: Some((start, end)),
                timestamp: end,
                results: Some(group.results(functions)),
            });
        }
        self.by_end.insert((end, key.clone(), start));
        self.sessions.insert((key, end, start), group);
        self.close_sessions(functions, close, out);
    }

    /// Removes the sessions that closed; with EMIT FINAL, emits them.
    fn close_sessions(&mut self, functions: &[AggregateFunction], close: i64, out: &mut Vec<Change>) {
        while self.by_end.first().is_some_and(|(end, _, _)| *end < close) {
            let Some((end, key, start)) = self.by_end.pop_first() else { break };
            let Some(group) = self.sessions.remove(&(key.clone(), end, start)) else { continue };
            if self.emit_final {
                out.push(Change {
                    key,
                    window: Some((start, end)),
                    timestamp: end,
                    results: Some(group.results(functions)),
                });
            }
        }
    }

    /// Sessions held in state.
    pub fn held(&self) -> usize {
        self.sessions.len()
    }

    /// Rows dropped because their session had closed.
    pub fn late(&self) -> u64 {
        self.late
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Value;

    fn count(s: &mut Sessions, ts: i64) -> Vec<(i64, i64, i64, Option<i64>)> {
        let mut out = Vec::new();
        let row = GroupRow { key: GroupKey::Str("k".into()), args: &[vec![]], timestamp: ts, seq: 0 };
        s.add(&[AggregateFunction::Count { star: true }], row, &mut out);
        out.iter()
            .map(|c| {
                let n = match c.results.as_deref() {
                    Some([Value::Bigint(n)]) => Some(*n),
                    _ => None,
                };
                let (start, end) = c.window.unwrap_or((-1, -1));
                (start, end, c.timestamp, n)
            })
            .collect()
    }

    #[test]
    fn rows_within_the_gap_merge_sessions_and_delete_the_merged_ones() {
        let mut s = Sessions::new(5_000, 86_400_000, false);
        assert_eq!(count(&mut s, 0), vec![(0, 0, 0, Some(1))]);
        assert_eq!(count(&mut s, 1_000), vec![(0, 0, 0, None), (0, 1_000, 1_000, Some(2))]);
        assert_eq!(count(&mut s, 70_000), vec![(70_000, 70_000, 70_000, Some(1))]);
        // A row between two sessions joins both.
        count(&mut s, 80_000);
        assert_eq!(
            count(&mut s, 75_000),
            vec![(70_000, 70_000, 70_000, None), (80_000, 80_000, 80_000, None), (70_000, 80_000, 80_000, Some(3))]
        );
        // The same timestamp again updates the session in place.
        let mut s = Sessions::new(5_000, 0, false);
        count(&mut s, 7);
        assert_eq!(count(&mut s, 7), vec![(7, 7, 7, Some(2))]);
    }

    #[test]
    fn late_rows_are_dropped_after_grace_and_gap() {
        // SESSION (30 SECONDS, GRACE PERIOD 1 MINUTE), as ksqlDB's session-windows QTT.
        let mut s = Sessions::new(30_000, 60_000, false);
        count(&mut s, 0);
        count(&mut s, 100_010);
        assert_eq!(count(&mut s, 10_009), vec![]);
        assert_eq!(count(&mut s, 10_010), vec![(10_010, 10_010, 10_010, Some(1))]);
        assert_eq!(s.late(), 1);
    }

    #[test]
    fn emit_final_emits_each_session_once_when_it_closes() {
        let mut s = Sessions::new(5, 6, true);
        for ts in [0, 4, 8, 12, 14] {
            assert_eq!(count(&mut s, ts), vec![]);
        }
        assert_eq!(count(&mut s, 30), vec![(0, 14, 14, Some(5))]);
        assert_eq!(count(&mut s, 29), vec![]);
        assert_eq!(count(&mut s, 17), vec![]);
        assert_eq!(count(&mut s, 42), vec![(29, 30, 30, Some(2))]);
    }
}
