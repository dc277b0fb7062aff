//! Per-query counters, shared between the query's driver and whoever reports on it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Records in, rows out, records skipped for errors, records lost on the source partitions, and
/// the progress of a state restore.
#[derive(Debug, Default)]
pub struct QueryMetrics {
    records_in: AtomicU64,
    rows_out: AtomicU64,
    errors: AtomicU64,
    records_lost: AtomicU64,
    restore_total: AtomicU64,
    restored: AtomicU64,
    restoring: AtomicBool,
}

/// The counters of a query at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MetricsSnapshot {
    pub records_in: u64,
    pub rows_out: u64,
    /// Records skipped because they could not be decoded, evaluated or produced.
    pub errors: u64,
    /// Records deleted from a source partition before the query read them (data loss).
    pub records_lost: u64,
    /// Records re-read to rebuild the query's state at start, and how many there are to re-read
    /// (0 when the query had no state to rebuild).
    pub restored: u64,
    pub restore_total: u64,
    /// The restore is under way: the query processes no new records yet.
    pub restoring: bool,
}

impl std::fmt::Display for MetricsSnapshot {
    /// `records in: N, rows out: N, errors: N`, then `, records lost: N` when there was a loss.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "records in: {}, rows out: {}, errors: {}", self.records_in, self.rows_out, self.errors)?;
        if self.records_lost > 0 {
            write!(f, ", records lost: {}", self.records_lost)?;
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

    pub fn add_error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts `n` records lost on a source partition.
    pub fn add_lost(&self, n: u64) {
        self.records_lost.fetch_add(n, Ordering::Relaxed);
    }

    /// A state restore of `total` records begins.
    pub fn start_restore(&self, total: u64) {
        self.restored.store(0, Ordering::Relaxed);
        self.restore_total.store(total, Ordering::Relaxed);
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

    /// The counters now.
    pub fn snapshot(&self) -> MetricsSnapshot {
        MetricsSnapshot {
            records_in: self.records_in.load(Ordering::Relaxed),
            rows_out: self.rows_out.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            records_lost: self.records_lost.load(Ordering::Relaxed),
            restored: self.restored.load(Ordering::Relaxed),
            restore_total: self.restore_total.load(Ordering::Relaxed),
            restoring: self.restoring.load(Ordering::Relaxed),
        }
    }
}
