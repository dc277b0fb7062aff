//! A stateful query's state rebuilt when its task starts again (a restart, a crash, a redeploy):
//! the task re-reads each input partition from where the query first started reading it up to
//! the offset its group committed, through the same pipeline in timestamp order, writing nothing,
//! then goes on from the committed offsets. Aggregates, windows, joins and EMIT FINAL buffers are
//! then what they were when the last processed batch was committed, so the next records update
//! the right values rather than restarting from empty ones (issue 18).
//!
//! **Departure from DESIGN §4** (changelog-backed stores): the inputs are the changelog. This
//! needs the inputs to still hold the records the query read; records the broker has deleted
//! since (retention) are missing from the rebuilt state, and are counted as lost and logged.
//! Changelog topics per store remove that condition and make restore independent of input size.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, StreamConsumer};
use rdkafka::{Offset, TopicPartitionList};

use super::client::ClientSettings;
use super::partition_group::PartitionGroup;
use super::push::batch_after;
use crate::error::{Result, RuntimeError};
use crate::metrics::QueryMetrics;
use crate::pipeline::Pipeline;
use crate::query_options::TaskIdle;

/// Longest a restore may go without reading a record or moving a partition's position.
const STALL: Duration = Duration::from_secs(60);

/// The consumer group holding, for each input partition, the offset the query first read from
/// (committed once, when a query reading from the latest offsets is created; a query reading from
/// the earliest has none and starts at the log's start).
pub fn start_group_id(query_id: &str) -> String {
    format!("_eddy_query_{query_id}_start")
}

/// Records the offsets a query starts at (see [`start_group_id`]).
pub(crate) fn record_start(settings: &ClientSettings, query_id: &str, offsets: &TopicPartitionList) -> Result<()> {
    let consumer: BaseConsumer = settings.consumer(&start_group_id(query_id), false).create()?;
    consumer.commit(offsets, CommitMode::Sync)?;
    Ok(())
}

/// What an input partition's state is rebuilt from: offsets `from..to`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Range {
    pub topic: String,
    pub partition: i32,
    pub from: i64,
    pub to: i64,
    /// Records the query read before that the broker no longer holds.
    pub deleted: i64,
}

/// The ranges to re-read for a task given its group's `committed` offsets on the partitions it
/// was assigned (none on a first start): from where the query first read each partition (its
/// `start_group`'s offset, else the log's start) up to the committed offset.
/// Blocking: Kafka requests with 10 s timeouts.
pub(crate) fn ranges(
    settings: &ClientSettings,
    start_group: Option<&str>,
    committed: &TopicPartitionList,
) -> Result<Vec<Range>> {
    let timeout = Duration::from_secs(10);
    let reader: BaseConsumer = settings.consumer(start_group.unwrap_or("_eddy_restore"), true).create()?;
    let mut to_read = TopicPartitionList::new();
    for e in committed.elements() {
        if matches!(e.offset(), Offset::Offset(o) if o > 0) {
            to_read.add_partition(e.topic(), e.partition());
        }
    }
    if to_read.count() == 0 {
        return Ok(Vec::new());
    }
    let started: HashMap<(String, i32), i64> = match start_group {
        Some(_) => reader
            .committed_offsets(to_read, timeout)?
            .elements()
            .iter()
            .filter_map(|e| match e.offset() {
                Offset::Offset(o) => Some(((e.topic().to_string(), e.partition()), o)),
                _ => None,
            })
            .collect(),
        None => HashMap::new(),
    };
    let mut ranges = Vec::new();
    for e in committed.elements() {
        let Offset::Offset(to) = e.offset() else { continue };
        let (low, _) = reader.fetch_watermarks(e.topic(), e.partition(), timeout)?;
        let first = started.get(&(e.topic().to_string(), e.partition())).copied().unwrap_or(0).max(0);
        let from = first.max(low);
        if from < to {
            let deleted = (low - first).clamp(0, to - first);
            ranges.push(Range { topic: e.topic().to_string(), partition: e.partition(), from, to, deleted });
        }
    }
    Ok(ranges)
}

/// What a restore did.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Restored {
    pub records: u64,
    pub deleted: u64,
    pub seconds: f64,
}

/// Re-reads `ranges` through `pipeline` in timestamp order and drops its output. The pipeline's
/// metrics do not count the re-read records. Fails when the broker stops answering for [`STALL`].
pub(crate) async fn restore(
    query_id: &str,
    settings: &ClientSettings,
    pipeline: &mut Pipeline,
    ranges: &[Range],
) -> Result<Restored> {
    let started = Instant::now();
    let total: i64 = ranges.iter().map(|r| r.to - r.from).sum();
    let deleted: i64 = ranges.iter().map(|r| r.deleted).sum();
    tracing::info!(query = %query_id, records = total, partitions = ranges.len(), "restoring state from the inputs");
    if deleted > 0 {
        tracing::warn!(query = %query_id, records = deleted,
            "records the query read were deleted by the broker since; its state is rebuilt without them");
    }
    let consumer = assigned(settings, query_id, ranges).await?;
    let mut ends: HashMap<(String, i32), i64> = ranges.iter().map(|r| ((r.topic.clone(), r.partition), r.to)).collect();
    let mut group =
        PartitionGroup::new(ranges.iter().map(|r| (r.topic.clone(), r.partition, Some(r.to))), TaskIdle::Backlog);
    // The re-read records are not the query's input a second time.
    let metrics = pipeline.replace_metrics(Arc::new(QueryMetrics::default()));
    metrics.start_restore(total.max(0) as u64);
    let (mut records, mut last_progress, mut last_log) = (0u64, Instant::now(), Instant::now());
    let result = loop {
        if ends.is_empty() && group.is_empty() {
            break Ok(());
        }
        let first = tokio::time::timeout(Duration::from_millis(200), consumer.recv()).await;
        if let Ok(first) = first {
            let runs = match first {
                Ok(first) => batch_after(&consumer, first).await,
                Err(e) => Err(e.into()),
            };
            let mut runs = match runs {
                Ok(runs) => runs,
                Err(e) => break Err(e),
            };
            for (topic, batch) in &mut runs {
                batch.retain(|r| ends.get(&(topic.clone(), r.partition)).is_some_and(|end| r.offset < *end));
                for r in batch.iter() {
                    if ends.get(&(topic.clone(), r.partition)).is_some_and(|end| r.offset + 1 >= *end) {
                        ends.remove(&(topic.clone(), r.partition));
                    }
                }
            }
            if runs.iter().any(|(_, b)| !b.is_empty()) {
                last_progress = Instant::now();
            }
            group.add(runs);
        } else {
            // Nothing came: positions past transaction markers or compacted records end ranges too.
            if let Ok(positions) = consumer.position() {
                for e in positions.elements() {
                    let key = (e.topic().to_string(), e.partition());
                    if let (Offset::Offset(at), Some(end)) = (e.offset(), ends.get(&key)) {
                        if at >= *end {
                            ends.remove(&key);
                            group.reached(&key.0, key.1);
                            last_progress = Instant::now();
                        }
                    }
                }
            }
        }
        let mut failed = None;
        for (topic, batch) in group.release(Instant::now()) {
            records += batch.len() as u64;
            metrics.add_restored(batch.len() as u64);
            if let Err(e) = pipeline.process(&topic, &batch) {
                failed = Some(e);
                break;
            }
        }
        if let Some(e) = failed {
            break Err(e);
        }
        if last_progress.elapsed() > STALL {
            break Err(RuntimeError::Internal(format!(
                "restoring the query's state stalled: nothing read for {} s with {} partitions to go",
                STALL.as_secs(),
                ends.len()
            )));
        }
        if last_log.elapsed() > Duration::from_secs(5) {
            tracing::info!(query = %query_id, records, of = total, "restoring state");
            last_log = Instant::now();
        }
    };
    pipeline.replace_metrics(metrics.clone());
    metrics.add_lost(deleted.max(0) as u64);
    metrics.finish_restore();
    tokio::task::spawn_blocking(move || drop(consumer));
    result?;
    let seconds = started.elapsed().as_secs_f64();
    tracing::info!(query = %query_id, records, seconds, rate = records as f64 / seconds.max(1e-3), "state restored");
    Ok(Restored { records, deleted: deleted.max(0) as u64, seconds })
}

/// A consumer assigned each range's partition at its start, without a group join.
async fn assigned(settings: &ClientSettings, query_id: &str, ranges: &[Range]) -> Result<StreamConsumer> {
    let config = settings.consumer(&format!("_eddy_restore_{query_id}"), true);
    let mut tpl = TopicPartitionList::new();
    for r in ranges {
        tpl.add_partition_offset(&r.topic, r.partition, Offset::Offset(r.from))?;
    }
    tokio::task::spawn_blocking(move || -> Result<StreamConsumer> {
        let consumer: StreamConsumer = config.create()?;
        consumer.assign(&tpl)?;
        Ok(consumer)
    })
    .await
    .map_err(|e| RuntimeError::Internal(e.to_string()))?
}
