//! Tumbling and hopping windows, as Kafka Streams' windowed aggregation runs them for ksqlDB.
//!
//! Stream time is the largest timestamp seen. A row updates every window `[start, start + size)` that
//! contains it (starts are multiples of the advance, never negative) unless the window has closed:
//! `end <= stream time - grace`; such rows are dropped and counted. With EMIT CHANGES every update is
//! emitted, and closed windows leave the state. With EMIT FINAL a window is emitted once, when it
//! closes, in start-then-key order; as in ksqlDB, windows that closed before the retention period of
//! the newest window (`newest start - retention`) are dropped without being emitted.

use std::collections::BTreeMap;

use super::{AggregateFunction, Change, Group, GroupKey, GroupRow};

/// The starts of the windows of `size` every `advance` that contain `timestamp`, ascending.
fn window_starts(size: i64, advance: i64, timestamp: i64) -> impl Iterator<Item = i64> {
    let first = (timestamp.saturating_sub(size).saturating_add(advance)).max(0) / advance * advance;
    (0..).map(move |i: i64| first + i * advance).take_while(move |s| *s <= timestamp)
}

/// The state of a tumbling or hopping windowed aggregation.
#[derive(Debug)]
pub struct TimeWindows {
    size: i64,
    advance: i64,
    grace: i64,
    retention: i64,
    emit_final: bool,
    windows: BTreeMap<(i64, GroupKey), Group>,
    stream_time: i64,
    newest_start: i64,
    late: u64,
}

impl TimeWindows {
    pub fn new(size: i64, advance: i64, grace: i64, retention: i64, emit_final: bool) -> Self {
        Self {
            size: size.max(1),
            advance: advance.clamp(1, size.max(1)),
            grace: grace.max(0),
            retention,
            emit_final,
            windows: BTreeMap::new(),
            stream_time: i64::MIN,
            newest_start: i64::MIN,
            late: 0,
        }
    }

    /// Folds a row into its windows and appends the changes to emit.
    pub fn add(&mut self, functions: &[AggregateFunction], row: GroupRow<'_>, out: &mut Vec<Change>) {
        let GroupRow { key, args, timestamp, seq } = row;
        self.stream_time = self.stream_time.max(timestamp);
        let close = self.stream_time.saturating_sub(self.grace);
        for start in window_starts(self.size, self.advance, timestamp) {
            let end = start.saturating_add(self.size);
            if end <= close {
                self.late += 1;
                continue;
            }
            self.newest_start = self.newest_start.max(start);
            let group = self.windows.entry((start, key.clone())).or_insert_with(|| Group::new(functions, timestamp));
            group.update(functions, args, timestamp, seq);
            if !self.emit_final {
                out.push(Change {
                    key: key.clone(),
                    window: Some((start, end)),
                    timestamp: group.max_timestamp,
                    results: Some(group.results(functions)),
                });
            }
        }
        self.close_windows(functions, close, out);
    }

    /// Removes the windows that closed; with EMIT FINAL, emits those still within retention.
    fn close_windows(&mut self, functions: &[AggregateFunction], close: i64, out: &mut Vec<Change>) {
        let last_closed_start = close.saturating_sub(self.size);
        let retained_from = self.newest_start.saturating_sub(self.retention);
        while let Some(entry) = self.windows.first_entry() {
            let start = entry.key().0;
            if start > last_closed_start {
                break;
            }
            let ((start, key), group) = entry.remove_entry();
            if self.emit_final && start >= retained_from {
                out.push(Change {
                    key,
                    window: Some((start, start.saturating_add(self.size))),
                    timestamp: group.max_timestamp,
                    results: Some(group.results(functions)),
                });
            }
        }
    }

    /// Windows held in state.
    pub fn held(&self) -> usize {
        self.windows.len()
    }

    /// Rows dropped because all their windows had closed.
    pub fn late(&self) -> u64 {
        self.late
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Value;

    fn count(w: &mut TimeWindows, key: i64, ts: i64) -> Vec<(i64, i64, i64, i64)> {
        let mut out = Vec::new();
        let row = GroupRow { key: GroupKey::Bigint(key), args: &[vec![]], timestamp: ts, seq: 0 };
        w.add(&[AggregateFunction::Count { star: true }], row, &mut out);
        out.iter()
            .map(|c| {
                let n = match c.results.as_deref() {
                    Some([Value::Bigint(n)]) => *n,
                    _ => -1,
                };
                (c.window.map_or(-1, |w| w.0), c.window.map_or(-1, |w| w.1), c.timestamp, n)
            })
            .collect()
    }

    #[test]
    fn hopping_windows_cover_each_row_and_start_at_zero() {
        let mut w = TimeWindows::new(30_000, 5_000, 1_000_000, 2_000_000, false);
        assert_eq!(count(&mut w, 0, 0), vec![(0, 30_000, 0, 1)]);
        assert_eq!(count(&mut w, 0, 5_000), vec![(0, 30_000, 5_000, 2), (5_000, 35_000, 5_000, 1)]);
        assert_eq!(
            window_starts(30_000, 5_000, 29_999).collect::<Vec<_>>(),
            vec![0, 5_000, 10_000, 15_000, 20_000, 25_000]
        );
        assert_eq!(window_starts(30_000, 5_000, -1).count(), 0);
    }

    #[test]
    fn rows_for_closed_windows_are_dropped_and_closed_windows_leave_the_state() {
        // TUMBLING (SIZE 30 SECONDS, GRACE PERIOD 1 MINUTE), as ksqlDB's tumbling-windows QTT.
        let mut w = TimeWindows::new(30_000, 30_000, 60_000, 90_000, false);
        count(&mut w, 0, 0);
        assert_eq!(count(&mut w, 0, 89_999), vec![(60_000, 90_000, 89_999, 1)]);
        assert_eq!(count(&mut w, 0, 10_009), vec![(0, 30_000, 10_009, 2)]);
        count(&mut w, 0, 90_000);
        assert_eq!(count(&mut w, 0, 10_010), vec![]);
        assert_eq!(w.late(), 1);
        assert_eq!(w.held(), 2);
    }

    #[test]
    fn emit_final_emits_closed_windows_once_within_retention() {
        // TUMBLING (SIZE 2 MILLISECONDS, GRACE PERIOD 1 MILLISECONDS) EMIT FINAL, as ksqlDB's suppress QTT.
        let mut w = TimeWindows::new(2, 2, 1, 3, true);
        for ts in [0, 1, 2, 1, 0] {
            assert_eq!(count(&mut w, 1, ts), vec![]);
        }
        // [0, 2) closed with [2, 4) but is older than the newest window's retention.
        assert_eq!(count(&mut w, 1, 5), vec![(2, 4, 2, 1)]);
        assert_eq!(count(&mut w, 1, 0), vec![]);
        let mut w = TimeWindows::new(2, 2, 0, 2, true);
        count(&mut w, 1, 0);
        count(&mut w, 1, 1);
        assert_eq!(count(&mut w, 1, 2), vec![(0, 2, 1, 2)]);
    }
}
