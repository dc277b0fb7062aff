//! The embedded broker's room per partition: librdkafka's mock cluster keeps at most 5 MiB or
//! 100,000 record batches of a partition and deletes the oldest beyond (`rdkafka_mock.c`,
//! `max_size`/`max_cnt`). The bytes Eddy writes to each partition are counted (a lower bound of the
//! partition's size: batches add framing, other producers add records), and the first write that
//! takes a partition past 5 MiB is logged as a warning naming it, so the deletion is never silent;
//! queries that had not read the deleted records report them as lost (`continuity`). Batches are
//! not counted: the producer decides them, so their number is not known here.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Bytes of a partition the embedded broker keeps.
pub const EMBEDDED_PARTITION_BYTES: u64 = 5 << 20;

/// Bytes Eddy wrote to each partition of the embedded broker, and whether it was warned about.
#[derive(Debug, Default)]
pub struct PartitionCapacity {
    written: Mutex<HashMap<(String, i32), (u64, bool)>>,
    /// Partitions warned about so far.
    warned: AtomicUsize,
}

impl PartitionCapacity {
    /// How many partitions have been found past their room so far.
    pub fn warned(&self) -> usize {
        self.warned.load(Ordering::Relaxed)
    }

    /// Counts a record of `bytes` (key, value and headers) written at `offset`; returns whether it
    /// is the first to take its partition past the broker's room (and logs that once).
    pub fn note(&self, topic: &str, partition: i32, offset: i64, bytes: usize) -> bool {
        let mut written = self.written.lock().unwrap_or_else(|p| p.into_inner());
        let (total, warned) = written.entry((topic.to_string(), partition)).or_insert((0, false));
        *total += bytes as u64;
        if *warned || *total <= EMBEDDED_PARTITION_BYTES {
            return false;
        }
        *warned = true;
        self.warned.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            topic,
            partition,
            offset,
            bytes_written = *total,
            "the embedded broker keeps at most 5 MiB per partition: this partition's oldest records are being \
             deleted (queries that had not read them report them as lost); use --kafka for a real broker"
        );
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partition_is_reported_once_when_past_either_limit() {
        let c = PartitionCapacity::default();
        assert!(!c.note("t", 0, 0, 4 << 20));
        assert!(!c.note("t", 1, 0, 4 << 20));
        assert!(c.note("t", 0, 1, 2 << 20));
        assert_eq!(c.warned(), 1);
        assert!(!c.note("t", 0, 2, 1));
        // Many small records are no reason: the broker counts batches, not records.
        assert!(!c.note("u", 0, 200_000, 10));
    }
}
