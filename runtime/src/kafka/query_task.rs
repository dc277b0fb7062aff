//! The tokio driver of persistent queries: consume (consumer group), process, produce, then commit.
//! Offsets are committed only after the output is acknowledged: at-least-once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::producer::{FutureProducer, Producer};
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::broker::{send_all, Destination, Unproducible};
use super::capacity::PartitionCapacity;
use super::client::ClientSettings;
use super::continuity::{self, Continuity, Start};
use super::partition_group::{until, PartitionGroup};
use super::push::{batch_after, partition_ids};
use crate::broker::RunningQuery;
use crate::dataflow::Dataflow;
use crate::error::{Result, RuntimeError};
use crate::metrics::QueryMetrics;
use crate::pipeline::Pipeline;
use crate::processing_log::ProcessingLog;
use crate::query_options::TaskIdle;
use crate::record::OutputRecord;

/// Handle of a persistent query task.
struct QueryTask {
    stop: watch::Sender<bool>,
    handle: JoinHandle<()>,
    error: Arc<Mutex<Option<String>>>,
}

#[async_trait]
impl RunningQuery for QueryTask {
    async fn stop(self: Box<Self>) {
        let _ = self.stop.send(true);
        if tokio::time::timeout(Duration::from_secs(30), self.handle).await.is_err() {
            tracing::warn!("a query did not stop within 30 s");
        }
    }

    fn error(&self) -> Option<String> {
        self.error.lock().ok().and_then(|e| e.clone())
    }
}

/// The consumer group of a persistent query; stable across restarts so it resumes from its offsets.
pub fn group_id(query_id: &str) -> String {
    format!("_eddy_query_{query_id}")
}

/// For a query that reads from the latest offsets: commits, for each input partition its group has no
/// offset for yet, the partition's end as it is now. The query then starts exactly where it was created,
/// not wherever the end is once its group join completes (seconds later), so records produced right
/// after CREATE ... AS SELECT returns are never skipped; a restarted query keeps its committed offsets.
pub fn pin_start_offsets(settings: &ClientSettings, query_id: &str, topics: &[String]) -> Result<()> {
    use rdkafka::consumer::BaseConsumer;
    let consumer: BaseConsumer = settings.consumer(&group_id(query_id), false).create()?;
    let timeout = Duration::from_secs(10);
    let mut all = TopicPartitionList::new();
    for topic in topics {
        for p in partition_ids(&consumer, topic)? {
            all.add_partition(topic, p);
        }
    }
    if all.count() == 0 {
        return Ok(());
    }
    let committed = consumer.committed_offsets(all, timeout)?;
    let mut pin = TopicPartitionList::new();
    for e in committed.elements() {
        if matches!(e.offset(), Offset::Invalid) {
            let (_, high) = consumer.fetch_watermarks(e.topic(), e.partition(), timeout)?;
            pin.add_partition_offset(e.topic(), e.partition(), Offset::Offset(high))?;
        }
    }
    if pin.count() > 0 {
        consumer.commit(&pin, CommitMode::Sync)?;
        super::restore::record_start(settings, query_id, &pin)?;
    }
    Ok(())
}

/// The input partitions, each with the log's end when it holds records past where the query's
/// group starts reading (its committed offsets, else the log's start): what the task reads before
/// it is live. A broker that does not answer leaves the task without backlogs to wait for (logged).
async fn backlogs(id: &str, consumer: Arc<StreamConsumer>, topics: Vec<String>) -> Vec<(String, i32, Option<i64>)> {
    let found = tokio::task::spawn_blocking(move || -> Result<Vec<(String, i32, Option<i64>)>> {
        let timeout = Duration::from_secs(10);
        let mut all = TopicPartitionList::new();
        for topic in &topics {
            for p in partition_ids(consumer.as_ref(), topic)? {
                all.add_partition(topic, p);
            }
        }
        let committed = consumer.committed_offsets(all, timeout)?;
        let mut backlogs = Vec::new();
        for e in committed.elements() {
            let (low, high) = consumer.fetch_watermarks(e.topic(), e.partition(), timeout)?;
            let start = match e.offset() {
                Offset::Offset(o) => o.max(low),
                _ => low,
            };
            backlogs.push((e.topic().to_string(), e.partition(), (start < high).then_some(high)));
        }
        Ok(backlogs)
    })
    .await;
    match found.map_err(|e| RuntimeError::Internal(e.to_string())).and_then(|r| r) {
        Ok(backlogs) => backlogs,
        Err(e) => {
            tracing::warn!(query = %id, error = %e, "cannot read the inputs' backlogs; records are merged as they come");
            Vec::new()
        }
    }
}

/// Rebuilds a stateful query's state from what its group committed before (nothing on a first
/// start); see [`super::restore`].
async fn restore_state(
    id: &str,
    settings: &ClientSettings,
    pipeline: &mut Pipeline,
    topics: &[String],
    holds_state: bool,
) -> Result<()> {
    if !holds_state {
        return Ok(());
    }
    let (s, query, t) = (settings.clone(), id.to_string(), topics.to_vec());
    let ranges = tokio::task::spawn_blocking(move || super::restore::ranges(&s, &query, &t))
        .await
        .map_err(|e| RuntimeError::Internal(e.to_string()))??;
    if ranges.is_empty() {
        return Ok(());
    }
    super::restore::restore(id, settings, pipeline, &ranges).await.map(|_| ())
}

/// Starts a persistent query task; a query reading from the latest offsets has them pinned first
/// ([`pin_start_offsets`]).
/// Where a persistent query's task writes besides its sink topic's name.
pub struct Outputs {
    /// The server's producer.
    pub producer: FutureProducer,
    /// The embedded broker's room per partition, when the cluster is the embedded one.
    pub capacity: Option<Arc<PartitionCapacity>>,
    /// Where the query's failures go, if anywhere.
    pub processing_log: Option<ProcessingLog>,
}

pub fn start(
    id: &str,
    dataflow: Dataflow,
    settings: &ClientSettings,
    outputs: Outputs,
    task_idle: TaskIdle,
    metrics: Arc<QueryMetrics>,
) -> Result<Box<dyn RunningQuery>> {
    let pipeline = Pipeline::new(&dataflow, metrics.clone())?;
    // Where a query starts is pinned (latest) or the log's start (earliest, the group's reset policy);
    // past that, an offset the log no longer holds resumes at the log's start, and what was skipped
    // is counted as lost.
    let consumer: StreamConsumer = settings.consumer(&group_id(id), true).create()?;
    let topics = dataflow.input.topics();
    let topic_refs: Vec<&str> = topics.iter().map(String::as_str).collect();
    consumer.subscribe(&topic_refs)?;
    let sink_topic = dataflow
        .sink
        .topic
        .clone()
        .ok_or_else(|| RuntimeError::Internal("persistent query without a sink topic".into()))?;
    let unproducible = if dataflow.sink.fail_on_production_error { Policy::Fail } else { Policy::Skip };
    let max_message_bytes = settings.max_message_bytes();
    let (stop_tx, stop_rx) = watch::channel(false);
    let error = Arc::new(Mutex::new(None));
    let task_error = error.clone();
    let query_id = id.to_string();
    let (settings, holds_state) = (settings.clone(), dataflow.holds_state());
    let handle = tokio::spawn(async move {
        let Outputs { producer, capacity, processing_log } = outputs;
        let processing_log = processing_log.map(|log| {
            let writer = LogWriter { producer: producer.clone(), capacity: capacity.clone(), max_message_bytes };
            (writer.spawn(&query_id, log.topic.clone()), log)
        });
        let sink =
            Sink { producer, topic: sink_topic, unproducible, max_message_bytes, capacity, metrics, processing_log };
        let mut pipeline = pipeline;
        let mut stop = stop_rx;
        let restored = tokio::select! {
            _ = stop.changed() => return,
            r = restore_state(&query_id, &settings, &mut pipeline, &topics, holds_state) => r,
        };
        let result = match restored {
            Ok(()) => run(&query_id, pipeline, (consumer, topics, task_idle), sink, stop).await,
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            tracing::error!(query = %query_id, error = %e, "query failed");
            if let Ok(mut slot) = task_error.lock() {
                *slot = Some(e.to_string());
            }
        }
    });
    Ok(Box::new(QueryTask { stop: stop_tx, handle, error }))
}

/// What a record the broker refuses does to the query (`SinkSpec::fail_on_production_error`).
#[derive(Clone, Copy)]
enum Policy {
    Fail,
    Skip,
}

/// Where a persistent query writes.
struct Sink {
    producer: FutureProducer,
    topic: String,
    unproducible: Policy,
    max_message_bytes: usize,
    capacity: Option<Arc<PartitionCapacity>>,
    metrics: Arc<QueryMetrics>,
    /// The processing log's writer and settings, if the server keeps one.
    processing_log: Option<(mpsc::Sender<Vec<OutputRecord>>, ProcessingLog)>,
}

/// Batches of processing-log records waiting for the log's writer; more are dropped (and said).
const LOG_BATCHES: usize = 64;

/// The processing log's own write failures are logged at most this often.
const LOG_FAILURE_EVERY: Duration = Duration::from_secs(10);

/// Writes a query's processing-log records in the background, so that failures never hold the
/// query's good records back by a produce round trip.
struct LogWriter {
    producer: FutureProducer,
    capacity: Option<Arc<PartitionCapacity>>,
    max_message_bytes: usize,
}

impl LogWriter {
    fn spawn(self, query_id: &str, topic: String) -> mpsc::Sender<Vec<OutputRecord>> {
        let (tx, mut rx) = mpsc::channel::<Vec<OutputRecord>>(LOG_BATCHES);
        let query_id = query_id.to_string();
        tokio::spawn(async move {
            // The log's own failures are not the query's; they are said at most every
            // LOG_FAILURE_EVERY (a log topic the broker lacks fails every batch).
            let own = QueryMetrics::default();
            let (mut said, mut unsaid) = (None::<Instant>, 0u64);
            while let Some(records) = rx.recv().await {
                let to = Destination {
                    producer: &self.producer,
                    topic: &topic,
                    max_message_bytes: self.max_message_bytes,
                    capacity: self.capacity.as_deref(),
                };
                if let Err(e) = send_all(&to, &records, Unproducible::Skip(&own)).await {
                    if said.is_some_and(|at| at.elapsed() < LOG_FAILURE_EVERY) {
                        unsaid += 1;
                        continue;
                    }
                    tracing::warn!(query = %query_id, %topic, error = %e, similar_since_last = unsaid, "cannot write the processing log");
                    (said, unsaid) = (Some(Instant::now()), 0);
                }
            }
        });
        tx
    }
}

impl Sink {
    /// Hands the failures recorded since the last call to the processing log's writer. Never
    /// waits, never fails the query: what the log cannot take is said in the server log.
    fn log_failures(&self, query_id: &str) {
        let (errors, mut dropped) = self.metrics.take_errors();
        if let Some((writer, log)) = self.processing_log.as_ref().filter(|_| !errors.is_empty()) {
            if writer.try_send(log.records(query_id, &errors)).is_err() {
                dropped += errors.len() as u64;
            }
        }
        if dropped > 0 {
            tracing::warn!(query = %query_id, dropped, "failures not written to the processing log (too many at once)");
        }
    }

    async fn send(&self, records: &[OutputRecord]) -> Result<()> {
        let unproducible = match self.unproducible {
            Policy::Fail => Unproducible::Fail,
            Policy::Skip => Unproducible::Skip(&self.metrics),
        };
        let to = Destination {
            producer: &self.producer,
            topic: &self.topic,
            max_message_bytes: self.max_message_bytes,
            capacity: self.capacity.as_deref(),
        };
        send_all(&to, records, unproducible).await.map(|_| ())
    }
}

async fn run(
    id: &str,
    mut pipeline: Pipeline,
    (consumer, topics, task_idle): (StreamConsumer, Vec<String>, TaskIdle),
    sink: Sink,
    mut stop: watch::Receiver<bool>,
) -> Result<()> {
    let (producer, sink_topic) = (&sink.producer, sink.topic.as_str());
    let consumer = Arc::new(consumer);
    let mut continuity = Continuity::default();
    let mut group = PartitionGroup::new(backlogs(id, consumer.clone(), topics).await, task_idle);
    tracing::info!(query = %id, sink = %sink_topic, backlog_partitions = group.waiting(), "query started");
    loop {
        let first = tokio::select! {
            _ = stop.changed() => break,
            m = consumer.recv() => Some(m?),
            () = until(group.deadline()) => None,
        };
        if let Some(first) = first {
            let records = batch_after(&consumer, first).await?;
            continuity::check(&consumer, &mut continuity, Start::Committed, &records, &sink.metrics, id).await?;
            group.add(records);
        }
        // Offsets are committed for what was processed, never for what is still buffered.
        let records = group.release(Instant::now());
        if records.is_empty() {
            continue;
        }
        let mut next_offsets: HashMap<(String, i32), i64> = HashMap::new();
        for (topic, records) in &records {
            for r in records {
                next_offsets.insert((topic.clone(), r.partition), r.offset + 1);
            }
            let output = pipeline.process(topic, records)?;
            sink.send(&output).await?;
        }
        sink.log_failures(id);
        let mut tpl = TopicPartitionList::new();
        for ((topic, p), o) in next_offsets {
            tpl.add_partition_offset(&topic, p, Offset::Offset(o))?;
        }
        if let Err(e) = consumer.commit(&tpl, CommitMode::Async) {
            tracing::warn!(query = %id, error = %e, "offset commit failed; will retry with the next batch");
        }
    }
    let _ = producer.flush(Duration::from_secs(10));
    if let Err(e) = consumer.commit_consumer_state(CommitMode::Sync) {
        tracing::debug!(query = %id, error = %e, "final commit skipped");
    }
    tracing::info!(query = %id, "query stopped");
    Ok(())
}
