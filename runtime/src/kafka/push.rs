//! The tokio driver of push queries: reads assigned partitions (no group join) from the
//! current end or the beginning, and sends output batches to the session.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt as _;
use rdkafka::consumer::{Consumer, ConsumerContext, StreamConsumer};
use rdkafka::message::{BorrowedMessage, Headers};
use rdkafka::{Message, Offset, TopicPartitionList};
use tokio::sync::mpsc;

use super::client::ClientSettings;
use super::continuity::{self, Continuity, Start};
use super::partition_group::{until, PartitionGroup};
use crate::broker::RowStream;
use crate::dataflow::Dataflow;
use crate::error::{Result, RuntimeError};
use crate::metrics::QueryMetrics;
use crate::pipeline::Pipeline;
use crate::query_options::QueryOptions;
use crate::record::Record;

/// Most records decoded into one batch.
pub(crate) const MAX_BATCH_RECORDS: usize = 1024;
/// Longest a batch waits for more records once it has one.
pub(crate) const MAX_BATCH_WAIT: Duration = Duration::from_millis(2);

/// Copies a Kafka message into a `Record`.
pub(crate) fn to_record(msg: &BorrowedMessage<'_>) -> Record {
    let headers = msg
        .headers()
        .map(|h| h.iter().map(|h| (h.key.to_string(), h.value.map(|v| v.to_vec()))).collect())
        .unwrap_or_default();
    Record {
        partition: msg.partition(),
        offset: msg.offset(),
        timestamp: msg.timestamp().to_millis().unwrap_or(0),
        key: msg.key().map(|k| k.to_vec()),
        value: msg.payload().map(|v| v.to_vec()),
        headers,
    }
}

/// The partition ids of a topic (empty if it does not exist).
pub(crate) fn partition_ids<C: Consumer>(consumer: &C, topic: &str) -> Result<Vec<i32>> {
    let metadata = consumer.fetch_metadata(Some(topic), Duration::from_secs(10))?;
    Ok(metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic && t.error().is_none())
        .map(|t| t.partitions().iter().map(|p| p.id()).collect())
        .unwrap_or_default())
}

/// A consumer assigned every partition of `topic` at its end (or beginning), without a group join,
/// with the offsets it was assigned at and, read from the beginning, the group of its partitions'
/// backlogs. An offset the log no longer holds resumes at the log's start.
pub(crate) async fn assigned_consumer(
    settings: &ClientSettings,
    topics: &[String],
    options: QueryOptions,
) -> Result<(StreamConsumer, Continuity, PartitionGroup)> {
    let QueryOptions { earliest, task_idle } = options;
    let group = format!("_eddy_transient_{}_{}", std::process::id(), rand_suffix());
    let config = settings.consumer(&group, true);
    let topics = topics.to_vec();
    // Creating a client starts its threads and takes milliseconds: off the async workers too.
    let consumer = tokio::task::spawn_blocking(move || -> Result<(StreamConsumer, Continuity, PartitionGroup)> {
        let consumer: StreamConsumer = config.create()?;
        let mut continuity = Continuity::default();
        let mut backlogs = Vec::new();
        let mut tpl = TopicPartitionList::new();
        for topic_name in topics {
            let partitions = partition_ids(&consumer, &topic_name)?;
            if partitions.is_empty() {
                return Err(RuntimeError::TopicNotFound(topic_name));
            }
            for p in partitions {
                let offset = if earliest {
                    let (low, high) = consumer.fetch_watermarks(&topic_name, p, Duration::from_secs(10))?;
                    backlogs.push((topic_name.clone(), p, (low < high).then_some(high)));
                    Offset::Beginning
                } else {
                    // An explicit offset, so that records produced once we return are never skipped.
                    let (_, high) = consumer.fetch_watermarks(&topic_name, p, Duration::from_secs(10))?;
                    continuity.expect(&topic_name, p, high);
                    backlogs.push((topic_name.clone(), p, None));
                    Offset::Offset(high)
                };
                tpl.add_partition_offset(&topic_name, p, offset)?;
            }
        }
        consumer.assign(&tpl)?;
        Ok((consumer, continuity, PartitionGroup::new(backlogs, task_idle)))
    })
    .await
    .map_err(|e| RuntimeError::Internal(e.to_string()))??;
    Ok(consumer)
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
    nanos ^ NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Records of one topic, in the order they were read.
pub(crate) type TopicRecords = (String, Vec<Record>);

/// Appends a message to the last run of records if it is of the same topic, else starts a new run.
fn push_record(runs: &mut Vec<TopicRecords>, msg: &BorrowedMessage<'_>) {
    match runs.last_mut() {
        Some((topic, records)) if topic == msg.topic() => records.push(to_record(msg)),
        _ => runs.push((msg.topic().to_string(), vec![to_record(msg)])),
    }
}

/// Waits for the next poll's worth of records: at least one, then whatever arrives within a few ms.
/// Records come back as runs of one topic each, in the order they were read.
/// Only the wait for the first record may be cancelled without losing records.
pub(crate) async fn next_records(consumer: &StreamConsumer) -> Result<Vec<TopicRecords>> {
    let first = consumer.recv().await?;
    batch_after(consumer, first).await
}

/// A batch that starts with `first`: whatever else the consumer holds or receives within
/// [`MAX_BATCH_WAIT`]. Not to be cancelled (the records read so far would be lost).
pub(crate) async fn batch_after<C: ConsumerContext + 'static>(
    consumer: &StreamConsumer<C>,
    first: BorrowedMessage<'_>,
) -> Result<Vec<TopicRecords>> {
    let mut runs = Vec::new();
    push_record(&mut runs, &first);
    drop(first);
    let mut count = 1;
    let deadline = Instant::now() + MAX_BATCH_WAIT;
    while count < MAX_BATCH_RECORDS {
        // Take what the client already holds without arming a timer per message.
        match consumer.recv().now_or_never() {
            Some(Ok(msg)) => {
                push_record(&mut runs, &msg);
                count += 1;
                continue;
            }
            Some(Err(e)) => return Err(e.into()),
            None => {}
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        match tokio::time::timeout(left, consumer.recv()).await {
            Ok(Ok(msg)) => {
                push_record(&mut runs, &msg);
                count += 1;
            }
            Ok(Err(e)) => return Err(e.into()),
            Err(_) => break,
        }
    }
    Ok(runs)
}

/// Starts a push query and returns its output stream once it reads from its assigned offsets.
pub async fn start(
    dataflow: Dataflow,
    settings: &ClientSettings,
    options: QueryOptions,
    metrics: Arc<QueryMetrics>,
) -> Result<RowStream> {
    let mut pipeline = Pipeline::new(&dataflow, metrics.clone())?;
    let topics = dataflow.input.topics();
    let (consumer, mut continuity, mut group) = assigned_consumer(settings, &topics, options).await?;
    let consumer = Arc::new(consumer);
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        loop {
            let first = tokio::select! {
                // The session went away (client disconnected, cancelled, or LIMIT reached).
                _ = tx.closed() => break,
                m = consumer.recv() => Some(m),
                () = until(group.deadline()) => None,
            };
            let checked = match first {
                Some(Ok(first)) => match batch_after(&consumer, first).await {
                    Ok(runs) => continuity::check(&consumer, &mut continuity, Start::Anywhere, &runs, &metrics, "push")
                        .await
                        .map(|()| runs),
                    Err(e) => Err(e),
                },
                Some(Err(e)) => Err(e.into()),
                None => Ok(Vec::new()),
            };
            match checked {
                Ok(runs) => group.add(runs),
                Err(e) => {
                    let _ = tx.send(Err(e)).await;
                    break;
                }
            }
            let mut closed = false;
            for (topic, records) in group.release(Instant::now()) {
                match pipeline.process_batch(&topic, &records) {
                    Ok(Some(batch)) => {
                        if tx.send(Ok(batch)).await.is_err() {
                            closed = true;
                            break;
                        }
                    }
                    Ok(None) => {}
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        closed = true;
                        break;
                    }
                }
            }
            if closed {
                break;
            }
        }
        // Closing a client joins its threads (milliseconds): off the async workers.
        tokio::task::spawn_blocking(move || drop(consumer));
        tracing::debug!(topics = ?topics, "push query stopped; consumer released");
    });
    Ok(rx)
}
