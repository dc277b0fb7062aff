//! Per-query counters, shared between the query's driver and whoever reports on it, and the
//! query's failures waiting for the processing log.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::processing_log::{ErrorClass, ProcessingError};

/// Failures kept for the processing log between two writes of it; more are counted, not kept
/// (a burst of bad records must not grow memory).
const PENDING_ERRORS: usize = 1_000;

/// Failures logged to the server log per query and second; more are counted and summarized.
const LOG_LINES_PER_SECOND: u32 = 10;

/// Records in, rows out, records skipped for errors, records lost on the source partitions, and
/// the progress of a state restore.
#[derive(Debug, Default)]
pub struct QueryMetrics {
    records_in: AtomicU64,
    rows_out: AtomicU64,
    errors: AtomicU64,
    errors_by_class: [AtomicU64; 4],
    records_lost: AtomicU64,
    restore_total: AtomicU64,
    restored: AtomicU64,
    restoring: AtomicBool,
    /// Partitions the query's tasks on this server hold, by sub-topology.
    partitions: Mutex<Vec<(&'static str, usize)>>,
    /// Failures not yet written to the processing log, and how many were dropped past
    /// [`PENDING_ERRORS`].
    pending: Mutex<Pending>,
}

#[derive(Debug, Default)]
struct Pending {
    errors: VecDeque<ProcessingError>,
    dropped: u64,
    /// The server log's rate limit: the current second's start and lines in it, and lines
    /// suppressed since the last summary.
    second: Option<Instant>,
    lines: u32,
    suppressed: u64,
}

/// The counters of a query at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MetricsSnapshot {
    pub records_in: u64,
    pub rows_out: u64,
    /// Records skipped because they could not be decoded, evaluated or produced.
    pub errors: u64,
    /// `errors` by class, indexed as [`ErrorClass::ALL`].
    pub errors_by_class: [u64; 4],
    /// Records deleted from a source partition before the query read them (data loss).
    pub records_lost: u64,
    /// Records re-read to rebuild the query's state at start, and how many there are to re-read
    /// (0 when the query had no state to rebuild).
    pub restored: u64,
    pub restore_total: u64,
    /// The restore is under way: the query processes no new records yet.
    pub restoring: bool,
    /// Partitions (of its inputs and its repartition topic) the query's tasks hold on this
    /// server: all of them on a server alone, a share when servers share a service id (none for a
    /// driver without partitions).
    pub partitions: Option<u64>,
}

impl std::fmt::Display for MetricsSnapshot {
    /// `records in: N, rows out: N, errors: N`, then `, records lost: N` when there was a loss.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "records in: {}, rows out: {}, errors: {}", self.records_in, self.rows_out, self.errors)?;
        if self.records_lost > 0 {
            write!(f, ", records lost: {}", self.records_lost)?;
        }
        if let Some(n) = self.partitions {
            write!(f, ", partitions: {n}")?;
        }
        if self.restoring {
            write!(f, ", restoring state: {} of {} records", self.restored, self.restore_total)?;
        } else if self.restore_total > 0 {
            write!(f, ", state restored from {} records", self.restored)?;
        }
        Ok(())
    }
}

impl QueryMetrics {
    pub fn add_input(&self, n: u64) {
        self.records_in.fetch_add(n, Ordering::Relaxed);
    }

    pub fn add_output(&self, n: u64) {
        self.rows_out.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts a failure, keeps it for the processing log and logs it (at most
    /// [`LOG_LINES_PER_SECOND`] lines a second; the rest are summarized).
    pub fn record_error(&self, error: ProcessingError) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        if let Some(c) = self.errors_by_class.get(error.class.index()) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        let Ok(mut pending) = self.pending.lock() else { return };
        let now = Instant::now();
        if pending.second.is_none_or(|s| now.duration_since(s) >= Duration::from_secs(1)) {
            if pending.suppressed > 0 {
                tracing::warn!(suppressed = pending.suppressed, "more query errors were not logged (rate limit)");
            }
            (pending.second, pending.lines, pending.suppressed) = (Some(now), 0, 0);
        }
        if pending.lines < LOG_LINES_PER_SECOND {
            pending.lines += 1;
            tracing::warn!(
                class = error.class.name(),
                topic = error.topic.as_deref().unwrap_or("-"),
                partition = error.partition.unwrap_or(-1),
                offset = error.offset.unwrap_or(-1),
                error = %error.message,
                "record skipped or value set to NULL"
            );
        } else {
            pending.suppressed += 1;
        }
        if pending.errors.len() < PENDING_ERRORS {
            pending.errors.push_back(error);
        } else {
            pending.dropped += 1;
        }
    }

    /// The failures recorded since the last call, and how many more were not kept.
    pub fn take_errors(&self) -> (Vec<ProcessingError>, u64) {
        let Ok(mut pending) = self.pending.lock() else { return (Vec::new(), 0) };
        let dropped = std::mem::take(&mut pending.dropped);
        (pending.errors.drain(..).collect(), dropped)
    }

    /// Counts `n` records lost on a source partition.
    pub fn add_lost(&self, n: u64) {
        self.records_lost.fetch_add(n, Ordering::Relaxed);
    }

    /// A restore of `total` more records starts (a query's tasks restore one after another: the
    /// figures add up).
    pub fn start_restore(&self, total: u64) {
        self.restore_total.fetch_add(total, Ordering::Relaxed);
        self.restoring.store(true, Ordering::Relaxed);
    }

    /// `n` more records were re-read by the state restore.
    pub fn add_restored(&self, n: u64) {
        self.restored.fetch_add(n, Ordering::Relaxed);
    }

    /// The restore ended (successfully or not).
    pub fn finish_restore(&self) {
        self.restoring.store(false, Ordering::Relaxed);
    }

    /// Sets how many partitions a sub-topology's task holds now (see [`MetricsSnapshot::partitions`]).
    pub fn set_partitions(&self, part: &'static str, n: usize) {
        let mut parts = self.partitions.lock().unwrap_or_else(|p| p.into_inner());
        match parts.iter_mut().find(|(p, _)| *p == part) {
            Some(entry) => entry.1 = n,
            None => parts.push((part, n)),
        }
    }

    /// The counters now.
    pub fn snapshot(&self) -> MetricsSnapshot {
        MetricsSnapshot {
            records_in: self.records_in.load(Ordering::Relaxed),
            rows_out: self.rows_out.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            errors_by_class: ErrorClass::ALL
                .map(|c| self.errors_by_class.get(c.index()).map_or(0, |n| n.load(Ordering::Relaxed))),
            records_lost: self.records_lost.load(Ordering::Relaxed),
            restored: self.restored.load(Ordering::Relaxed),
            restore_total: self.restore_total.load(Ordering::Relaxed),
            restoring: self.restoring.load(Ordering::Relaxed),
            partitions: {
                let parts = self.partitions.lock().unwrap_or_else(|p| p.into_inner());
                (!parts.is_empty()).then(|| parts.iter().map(|(_, n)| *n as u64).sum())
            },
        }
    }
}
