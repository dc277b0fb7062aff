//! Per-query counters, shared between the query's driver and whoever reports on it.

use std::sync::atomic::{AtomicU64, Ordering};

/// Records in, rows out, and records skipped for errors.
#[derive(Debug, Default)]
pub struct QueryMetrics {
    records_in: AtomicU64,
    rows_out: AtomicU64,
    errors: AtomicU64,
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

    /// (records in, rows out, errors).
    pub fn snapshot(&self) -> (u64, u64, u64) {
        (
            self.records_in.load(Ordering::Relaxed),
            self.rows_out.load(Ordering::Relaxed),
            self.errors.load(Ordering::Relaxed),
        )
    }
}
