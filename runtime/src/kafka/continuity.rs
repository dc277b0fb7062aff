//! Data loss on a source partition: records a consumer never read because the log no longer held
//! them when it got there (the broker's retention, or the embedded broker's 5 MiB per partition,
//! deleted them first). The consumer then resumes at the log's start (`auto.offset.reset` =
//! `earliest`) and the records in between are lost; they are counted on the query's metrics and
//! logged, never skipped silently.
//!
//! A jump in offsets alone is not a loss: transaction markers and compaction leave gaps inside
//! the log. A gap is a loss only for the offsets below the partition's log start offset (its low
//! watermark), which the broker answers once per gap.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::{Consumer, ConsumerContext, StreamConsumer};
use rdkafka::{Offset, TopicPartitionList};

use super::push::TopicRecords;
use crate::error::{Result, RuntimeError};
use crate::metrics::QueryMetrics;

/// Where a partition's reading starts when its first record arrives: nowhere in particular, or the
/// group's committed offset (asked once, on the partition's first record).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Start {
    Anywhere,
    Committed,
}

/// Offsets a consumer missed between `from` (inclusive) and `to` (exclusive) on one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Gap {
    pub topic: String,
    pub partition: i32,
    pub from: i64,
    pub to: i64,
}

/// The next offset expected on each partition a consumer reads.
#[derive(Debug, Default)]
pub(crate) struct Continuity {
    expected: HashMap<(String, i32), i64>,
}

impl Continuity {
    /// Sets where a partition's next record is expected (the offset it was assigned at).
    pub fn expect(&mut self, topic: &str, partition: i32, offset: i64) {
        if offset >= 0 {
            self.expected.insert((topic.to_string(), partition), offset);
        }
    }

    /// Forgets where a partition was (it went to another consumer; where it resumes is asked again).
    pub fn forget(&mut self, topic: &str, partition: i32) {
        self.expected.remove(&(topic.to_string(), partition));
    }

    /// The partitions of `runs` with no expected offset yet.
    pub fn unknown(&self, runs: &[TopicRecords]) -> Vec<(String, i32)> {
        let mut out: Vec<(String, i32)> = Vec::new();
        for (topic, records) in runs {
            for r in records {
                let key = (topic.clone(), r.partition);
                if !self.expected.contains_key(&key) && !out.contains(&key) {
                    out.push(key);
                }
            }
        }
        out
    }

    /// Drops the records at offsets before the one expected on their partition: read again after
    /// a rebalance put the consumer back at its group's committed offset. Returns how many.
    pub fn drop_read(&self, runs: &mut [TopicRecords]) -> usize {
        let mut dropped = 0;
        for (topic, records) in runs.iter_mut() {
            let before = records.len();
            records.retain(|r| self.expected.get(&(topic.clone(), r.partition)).is_none_or(|&e| r.offset >= e));
            dropped += before - records.len();
        }
        dropped
    }

    /// Records the batch's offsets and returns the gaps in them, in order.
    pub fn observe(&mut self, runs: &[TopicRecords]) -> Vec<Gap> {
        let mut gaps = Vec::new();
        for (topic, records) in runs {
            for r in records {
                let key = (topic.clone(), r.partition);
                if let Some(&expected) = self.expected.get(&key) {
                    if r.offset > expected {
                        gaps.push(Gap { topic: topic.clone(), partition: r.partition, from: expected, to: r.offset });
                    }
                }
                self.expected.insert(key, r.offset + 1);
            }
        }
        gaps
    }
}

/// How many of a gap's offsets were deleted before they were read, given the partition's log
/// start offset now (`low`): those below it. Offsets at or above it are transaction markers or
/// compacted records, not losses.
pub(crate) fn lost(gap: &Gap, low: i64) -> u64 {
    (gap.to.min(low) - gap.from).max(0) as u64
}

const BROKER_TIMEOUT: Duration = Duration::from_secs(10);

/// Checks a batch for lost records before it is processed: asks the group's committed offsets for
/// partitions seen for the first time (when `start` is [`Start::Committed`]), then the log start
/// of each partition with a gap; counts and logs what was lost. Broker calls run off the async
/// workers.
pub(crate) async fn check<C: ConsumerContext + 'static>(
    consumer: &Arc<StreamConsumer<C>>,
    continuity: &mut Continuity,
    start: Start,
    runs: &[TopicRecords],
    metrics: &QueryMetrics,
    query: &str,
) -> Result<()> {
    if start == Start::Committed {
        let unknown = continuity.unknown(runs);
        if !unknown.is_empty() {
            let c = consumer.clone();
            let committed = blocking(move || {
                let mut tpl = TopicPartitionList::new();
                for (topic, p) in &unknown {
                    tpl.add_partition(topic, *p);
                }
                Ok(c.committed_offsets(tpl, BROKER_TIMEOUT)?)
            })
            .await?;
            for e in committed.elements() {
                if let Offset::Offset(o) = e.offset() {
                    continuity.expect(e.topic(), e.partition(), o);
                }
            }
        }
    }
    for gap in continuity.observe(runs) {
        let c = consumer.clone();
        let (topic, partition) = (gap.topic.clone(), gap.partition);
        let (low, _) = blocking(move || Ok(c.fetch_watermarks(&topic, partition, BROKER_TIMEOUT)?)).await?;
        let n = lost(&gap, low);
        if n > 0 {
            metrics.add_lost(n);
            tracing::warn!(
                query,
                topic = %gap.topic,
                partition = gap.partition,
                from = gap.from,
                to = gap.from + n as i64,
                records = n,
                "data loss: records were deleted from the source partition before the query read them"
            );
        }
    }
    Ok(())
}

async fn blocking<T: Send + 'static>(work: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(work).await.map_err(|e| RuntimeError::Internal(e.to_string()))?
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Record;

    fn run(topic: &str, partition: i32, offsets: &[i64]) -> TopicRecords {
        let records = offsets
            .iter()
            .map(|&offset| Record { partition, offset, timestamp: 0, key: None, value: None, headers: vec![] })
            .collect();
        (topic.to_string(), records)
    }

    #[test]
    fn gaps_are_found_per_partition_and_counted_below_the_log_start() {
        let mut c = Continuity::default();
        c.expect("t", 0, 3);
        assert_eq!(c.unknown(&[run("t", 0, &[3]), run("t", 1, &[0]), run("u", 1, &[7, 8])]).len(), 2);
        // The first record of a partition with no expected offset is no gap.
        assert!(c.observe(&[run("t", 0, &[3, 4]), run("t", 1, &[5])]).is_empty());
        let gaps = c.observe(&[run("t", 0, &[9, 10]), run("t", 1, &[6, 8])]);
        assert_eq!(
            gaps,
            vec![
                Gap { topic: "t".into(), partition: 0, from: 5, to: 9 },
                Gap { topic: "t".into(), partition: 1, from: 7, to: 8 },
            ]
        );
        // Deleted up to the log start (7 of offsets 5..9 lost: 5 and 6); a marker inside the log is no loss.
        assert_eq!(lost(&gaps[0], 7), 2);
        assert_eq!(lost(&gaps[0], 20), 4);
        assert_eq!(lost(&gaps[1], 0), 0);
        // Negative offsets (logical ones) set nothing.
        c.expect("v", 0, -1);
        assert!(c.observe(&[run("v", 0, &[4])]).is_empty());
    }
}
