//! The tokio driver of persistent queries: consume (consumer group), process, produce, then commit.
//! Offsets are committed only after the output is acknowledged: at-least-once.
//!
//! A query runs as one task per sub-topology: one, or two when it goes through a repartition
//! topic ([`Repartition`]). Each task's consumer joins the sub-topology's group with the range
//! assignor, so servers sharing a service id share its partitions, co-partitioned inputs' partitions
//! together. When the partitions a task holds change (a server joins or leaves), the task commits
//! what it processed of the partitions it gives up (Kafka Streams commits on revocation) and, for
//! a stateful sub-topology, rebuilds its state for the partitions it now holds ([`super::restore`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer};
use rdkafka::producer::{FutureProducer, Producer};
use rdkafka::{ClientContext, Offset, TopicPartitionList};
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

/// Handle of a persistent query's tasks (one per sub-topology).
struct QueryTask {
    stop: watch::Sender<bool>,
    handles: Vec<JoinHandle<()>>,
    error: Arc<Mutex<Option<String>>>,
}

#[async_trait]
impl RunningQuery for QueryTask {
    async fn stop(self: Box<Self>) {
        let _ = self.stop.send(true);
        for handle in self.handles {
            if tokio::time::timeout(Duration::from_secs(30), handle).await.is_err() {
                tracing::warn!("a query did not stop within 30 s");
            }
        }
    }

    fn error(&self) -> Option<String> {
        self.error.lock().ok().and_then(|e| e.clone())
    }
}

/// The consumer group of a persistent query (of its upstream sub-topology when it has two);
/// stable across restarts so it resumes from its offsets.
pub fn group_id(query_id: &str) -> String {
    format!("_eddy_query_{query_id}")
}

/// The consumer group of a query's downstream sub-topology (which reads its repartition topic).
pub fn downstream_group_id(query_id: &str) -> String {
    format!("_eddy_query_{query_id}-Aggregate")
}

/// A task's consumer context: counts rebalances, so that the task sees its partitions change, and
/// commits what the task processed of the partitions it loses before they go (their next owner
/// starts where this task stopped, and finds its state up to there).
#[derive(Default)]
pub(crate) struct TaskContext {
    generation: AtomicU64,
    /// Wakes the task when its partitions change, even if no record comes.
    rebalanced: tokio::sync::Notify,
    /// The next offset to process on each partition, as processed (committed or not).
    processed: Mutex<HashMap<(String, i32), i64>>,
}

impl TaskContext {
    fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    fn processed(&self, next: &HashMap<(String, i32), i64>) {
        let mut processed = self.processed.lock().unwrap_or_else(|p| p.into_inner());
        processed.extend(next.iter().map(|(k, v)| (k.clone(), *v)));
    }

    fn forget_processed(&self) {
        self.processed.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

impl ClientContext for TaskContext {}

impl ConsumerContext for TaskContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let Rebalance::Revoke(revoked) = rebalance else { return };
        let mut commit = TopicPartitionList::new();
        {
            let processed = self.processed.lock().unwrap_or_else(|p| p.into_inner());
            for e in revoked.elements() {
                if let Some(&next) = processed.get(&(e.topic().to_string(), e.partition())) {
                    let _ = commit.add_partition_offset(e.topic(), e.partition(), Offset::Offset(next));
                }
            }
        }
        if commit.count() > 0 {
            if let Err(e) = consumer.commit(&commit, CommitMode::Sync) {
                tracing::warn!(error = %e, "cannot commit the offsets of revoked partitions; their next owner reads some records again");
            }
        }
    }

    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        // An eager rebalance revokes every partition, then assigns: the task looks at its
        // partitions once they are assigned, so that those it keeps keep their state.
        if matches!(rebalance, Rebalance::Revoke(_)) {
            return;
        }
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.rebalanced.notify_one();
    }
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

/// The assigned partitions, each with the log's end when it holds records past the group's
/// `committed` offset (else the log's start): what the task reads before it is live. A broker that
/// does not answer leaves the task without backlogs to wait for (logged).
async fn backlogs<C: ConsumerContext + 'static>(
    id: &str,
    consumer: Arc<StreamConsumer<C>>,
    committed: TopicPartitionList,
) -> Vec<(String, i32, Option<i64>)> {
    let found = blocking(move || -> Result<Vec<(String, i32, Option<i64>)>> {
        let mut backlogs = Vec::new();
        for e in committed.elements() {
            let (low, high) = consumer.fetch_watermarks(e.topic(), e.partition(), BROKER_TIMEOUT)?;
            let start = match e.offset() {
                Offset::Offset(o) => o.max(low),
                _ => low,
            };
            backlogs.push((e.topic().to_string(), e.partition(), (start < high).then_some(high)));
        }
        Ok(backlogs)
    })
    .await;
    match found {
        Ok(backlogs) => backlogs,
        Err(e) => {
            tracing::warn!(query = %id, error = %e, "cannot read the inputs' backlogs; records are merged as they come");
            Vec::new()
        }
    }
}

/// Timeout of the broker requests a task makes besides consuming and producing.
const BROKER_TIMEOUT: Duration = Duration::from_secs(10);

async fn blocking<T: Send + 'static>(work: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(work).await.map_err(|e| RuntimeError::Internal(e.to_string()))?
}

/// Where a persistent query's task writes besides its sink topic's name.
pub struct Outputs {
    /// The server's producer.
    pub producer: FutureProducer,
    /// The embedded broker's room per partition, when the cluster is the embedded one.
    pub capacity: Option<Arc<PartitionCapacity>>,
    /// Where the query's failures go, if anywhere.
    pub processing_log: Option<ProcessingLog>,
}

/// Starts a persistent query's tasks: one, or an upstream and a downstream one around its
/// `repartition` topic (created beforehand) when the dataflow has one ([`Dataflow::repartition`]).
pub fn start(
    id: &str,
    dataflow: Dataflow,
    settings: &ClientSettings,
    outputs: Outputs,
    (task_idle, repartition): (TaskIdle, Option<String>),
    metrics: Arc<QueryMetrics>,
) -> Result<Box<dyn RunningQuery>> {
    let sink_topic = dataflow
        .sink
        .topic
        .clone()
        .ok_or_else(|| RuntimeError::Internal("persistent query without a sink topic".into()))?;
    let unproducible = if dataflow.sink.fail_on_production_error { Policy::Fail } else { Policy::Skip };
    let max_message_bytes = settings.max_message_bytes();
    let Outputs { producer, capacity, processing_log } = outputs;
    let processing_log = processing_log.map(|log| {
        let writer = LogWriter { producer: producer.clone(), capacity: capacity.clone(), max_message_bytes };
        (writer.spawn(id, log.topic.clone()), log)
    });
    let sink = |topic: &str| Sink {
        producer: producer.clone(),
        topic: topic.to_string(),
        unproducible,
        max_message_bytes,
        capacity: capacity.clone(),
        metrics: metrics.clone(),
        processing_log: processing_log.clone(),
    };
    let dataflow = Arc::new(dataflow);
    let parts = match dataflow.repartition().zip(repartition) {
        None => {
            let (d, m) = (dataflow.clone(), metrics.clone());
            vec![SubTopology {
                query: id.to_string(),
                part: "",
                group: group_id(id),
                start_group: Some(super::restore::start_group_id(id)),
                topics: dataflow.input.topics(),
                holds_state: dataflow.holds_state(),
                build: Box::new(move || Pipeline::new(&d, m.clone())),
                sink: sink(&sink_topic),
            }]
        }
        Some((split, topic)) => {
            let upstream = Dataflow {
                input: dataflow.input.clone(),
                steps: dataflow.steps.get(..split.at).unwrap_or_default().to_vec(),
                sink: dataflow.sink.clone(),
            };
            let (d1, s1, m1) = (dataflow.clone(), split.clone(), metrics.clone());
            let (d2, s2, m2, t2) = (dataflow.clone(), split.clone(), metrics.clone(), topic.clone());
            vec![
                SubTopology {
                    query: id.to_string(),
                    part: "upstream",
                    group: group_id(id),
                    start_group: Some(super::restore::start_group_id(id)),
                    topics: dataflow.input.topics(),
                    holds_state: upstream.holds_state(),
                    build: Box::new(move || Pipeline::upstream(&d1, &s1, m1.clone())),
                    sink: sink(&topic),
                },
                SubTopology {
                    query: id.to_string(),
                    part: "downstream",
                    group: downstream_group_id(id),
                    start_group: None,
                    topics: vec![topic.clone()],
                    holds_state: true,
                    build: Box::new(move || Pipeline::downstream(&d2, &s2, &t2, m2.clone())),
                    sink: sink(&sink_topic),
                },
            ]
        }
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let error = Arc::new(Mutex::new(None));
    let mut handles = Vec::new();
    for part in parts {
        // Where a query starts is pinned (latest) or the log's start (earliest, the group's reset
        // policy); past that, an offset the log no longer holds resumes at the log's start, and
        // what was skipped is counted as lost.
        let mut config = settings.consumer(&part.group, true);
        config.set("partition.assignment.strategy", "range");
        let consumer: StreamConsumer<TaskContext> = config.create_with_context(TaskContext::default())?;
        let topic_refs: Vec<&str> = part.topics.iter().map(String::as_str).collect();
        consumer.subscribe(&topic_refs)?;
        let (settings, stop, task_error) = (settings.clone(), stop_rx.clone(), error.clone());
        handles.push(tokio::spawn(async move {
            if let Err(e) = run(&part, &settings, consumer, task_idle, stop).await {
                tracing::error!(query = %part.query, part = part.part, error = %e, "query failed");
                if let Ok(mut slot) = task_error.lock() {
                    *slot = Some(e.to_string());
                }
            }
        }));
    }
    Ok(Box::new(QueryTask { stop: stop_tx, handles, error }))
}

/// One sub-topology of a query: what it reads, how its pipeline is built, and where it writes.
struct SubTopology {
    query: String,
    /// Which part of the query it is, for the log: empty for a query of one sub-topology.
    part: &'static str,
    group: String,
    /// The group holding the offsets the query first read its inputs from (see
    /// [`super::restore::start_group_id`]); none for a repartition topic, read from its start.
    start_group: Option<String>,
    topics: Vec<String>,
    holds_state: bool,
    build: Box<dyn Fn() -> Result<Pipeline> + Send + Sync>,
    sink: Sink,
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

/// One stream task, as Kafka Streams has them: partition `n` of each of a sub-topology's input
/// topics (co-partitioned inputs are joined partition by partition), with its own pipeline (its
/// state, its stream time) and its own buffer that releases records in timestamp order.
struct StreamTask {
    partitions: BTreeSet<(String, i32)>,
    pipeline: Pipeline,
    group: PartitionGroup,
}

/// The tasks of the partitions a sub-topology's consumer holds on this server.
struct Live {
    tasks: BTreeMap<i32, StreamTask>,
    continuity: Continuity,
}

impl Live {
    /// Drops the records of partitions not held here, and those read before (again after a
    /// rebalance put the consumer back at the committed offset).
    fn keep_new(&self, runs: &mut Vec<crate::kafka::push::TopicRecords>) {
        for (topic, records) in runs.iter_mut() {
            records.retain(|r| {
                self.tasks.get(&r.partition).is_some_and(|t| t.partitions.contains(&(topic.clone(), r.partition)))
            });
        }
        self.continuity.drop_read(runs);
        runs.retain(|(_, records)| !records.is_empty());
    }

    /// Hands records to their tasks.
    fn add(&mut self, runs: Vec<crate::kafka::push::TopicRecords>) {
        for (topic, records) in runs {
            let mut by_task: BTreeMap<i32, Vec<crate::record::Record>> = BTreeMap::new();
            for r in records {
                by_task.entry(r.partition).or_default().push(r);
            }
            for (n, records) in by_task {
                if let Some(task) = self.tasks.get_mut(&n) {
                    task.group.add(vec![(topic.clone(), records)]);
                }
            }
        }
    }

    fn deadline(&self) -> Option<Instant> {
        self.tasks.values().filter_map(|t| t.group.deadline()).min()
    }
}

/// Sets a sub-topology's tasks up for the partitions its consumer holds after a rebalance: a task
/// whose partitions are unchanged keeps its state and buffer (records read again since are dropped
/// by offset); a new one starts empty and, when the sub-topology holds state, rebuilds it from its
/// partitions' inputs up to the group's committed offsets; a task whose partitions went is dropped.
async fn assign(
    part: &SubTopology,
    settings: &ClientSettings,
    consumer: &Arc<StreamConsumer<TaskContext>>,
    previous: Option<Live>,
    task_idle: TaskIdle,
) -> Result<Live> {
    let assignment = consumer.assignment()?;
    let mut wanted: BTreeMap<i32, BTreeSet<(String, i32)>> = BTreeMap::new();
    for e in assignment.elements() {
        wanted.entry(e.partition()).or_default().insert((e.topic().to_string(), e.partition()));
    }
    let (mut kept, mut continuity) = match previous {
        Some(live) => (live.tasks, live.continuity),
        None => (BTreeMap::new(), Continuity::default()),
    };
    kept.retain(|n, task| wanted.get(n) == Some(&task.partitions));
    let shown: Vec<String> = assignment.elements().iter().map(|e| format!("{}/{}", e.topic(), e.partition())).collect();
    tracing::info!(query = %part.query, part = part.part, partitions = %shown.join(" "), tasks_kept = kept.len(), "partitions assigned");
    part.sink.metrics.set_partitions(part.part, assignment.count());
    let mut new = TopicPartitionList::new();
    for (n, partitions) in &wanted {
        if !kept.contains_key(n) {
            for (topic, p) in partitions {
                new.add_partition(topic, *p);
                continuity.forget(topic, *p);
            }
        }
    }
    let committed = match new.count() {
        0 => TopicPartitionList::new(),
        _ => {
            let c = consumer.clone();
            blocking(move || Ok(c.committed_offsets(new, BROKER_TIMEOUT)?)).await?
        }
    };
    let ranges = match part.holds_state && committed.count() > 0 {
        true => {
            let (s, group, c) = (settings.clone(), part.start_group.clone(), committed.clone());
            blocking(move || super::restore::ranges(&s, group.as_deref(), &c)).await?
        }
        false => Vec::new(),
    };
    for e in committed.elements() {
        if let Offset::Offset(o) = e.offset() {
            continuity.expect(e.topic(), e.partition(), o);
        }
    }
    let mut backlogs = backlogs(&part.query, consumer.clone(), committed).await;
    let mut tasks = kept;
    for (n, partitions) in wanted {
        if tasks.contains_key(&n) {
            continue;
        }
        let mut pipeline = (part.build)()?;
        let mine: Vec<super::restore::Range> = ranges.iter().filter(|r| r.partition == n).cloned().collect();
        if !mine.is_empty() {
            super::restore::restore(&part.query, settings, &mut pipeline, &mine).await?;
        }
        let (own, rest): (Vec<_>, Vec<_>) = backlogs.into_iter().partition(|(_, p, _)| *p == n);
        backlogs = rest;
        tasks.insert(n, StreamTask { partitions, pipeline, group: PartitionGroup::new(own, task_idle) });
    }
    consumer.context().forget_processed();
    Ok(Live { tasks, continuity })
}

async fn run(
    part: &SubTopology,
    settings: &ClientSettings,
    consumer: StreamConsumer<TaskContext>,
    task_idle: TaskIdle,
    mut stop: watch::Receiver<bool>,
) -> Result<()> {
    let (id, sink) = (part.query.as_str(), &part.sink);
    let consumer = Arc::new(consumer);
    let (mut generation, mut live) = (0, None::<Live>);
    tracing::info!(query = %id, part = part.part, sink = %sink.topic, "query started");
    loop {
        let deadline = live.as_ref().and_then(Live::deadline);
        let first = tokio::select! {
            _ = stop.changed() => break,
            m = consumer.recv() => Some(m?),
            () = until(deadline) => None,
            () = consumer.context().rebalanced.notified() => None,
        };
        let mut runs = match first {
            Some(first) => batch_after(&consumer, first).await?,
            None => Vec::new(),
        };
        // Rebalances happen inside the consumer's polls: see whether the partitions changed.
        if consumer.context().generation() != generation {
            generation = consumer.context().generation();
            live = tokio::select! {
                _ = stop.changed() => break,
                assigned = assign(part, settings, &consumer, live.take(), task_idle) => Some(assigned?),
            };
        }
        let Some(live) = live.as_mut() else { continue };
        live.keep_new(&mut runs);
        if !runs.is_empty() {
            continuity::check(&consumer, &mut live.continuity, Start::Committed, &runs, &sink.metrics, id).await?;
            live.add(runs);
        }
        // Offsets are committed for what was processed, never for what is still buffered.
        let mut next_offsets: HashMap<(String, i32), i64> = HashMap::new();
        let now = Instant::now();
        for task in live.tasks.values_mut() {
            for (topic, records) in &task.group.release(now) {
                for r in records {
                    next_offsets.insert((topic.clone(), r.partition), r.offset + 1);
                }
                let output = task.pipeline.process(topic, records)?;
                sink.send(&output).await?;
            }
        }
        if next_offsets.is_empty() {
            continue;
        }
        sink.log_failures(id);
        consumer.context().processed(&next_offsets);
        let mut tpl = TopicPartitionList::new();
        for ((topic, p), o) in next_offsets {
            tpl.add_partition_offset(&topic, p, Offset::Offset(o))?;
        }
        if let Err(e) = consumer.commit(&tpl, CommitMode::Async) {
            tracing::warn!(query = %id, error = %e, "offset commit failed; will retry with the next batch");
        }
    }
    let _ = sink.producer.flush(Duration::from_secs(10));
    // What was processed, not what the consumer read (buffered records are read again next time).
    let mut tpl = TopicPartitionList::new();
    for ((topic, p), o) in consumer.context().processed.lock().unwrap_or_else(|p| p.into_inner()).iter() {
        tpl.add_partition_offset(topic, *p, Offset::Offset(*o))?;
    }
    if tpl.count() > 0 {
        let c = consumer.clone();
        if let Err(e) = blocking(move || Ok(c.commit(&tpl, CommitMode::Sync)?)).await {
            tracing::debug!(query = %id, error = %e, "final commit skipped");
        }
    }
    tracing::info!(query = %id, part = part.part, "query stopped");
    Ok(())
}
