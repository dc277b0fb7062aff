//! The deterministic test driver: in-memory topics, and queries stepped record by record in
//! statement order. Time advances only with record timestamps; nothing sleeps.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use tokio::sync::mpsc;

use crate::broker::{Broker, RecordStream, RowStream, RunningQuery, TopicInfo};
use crate::dataflow::Dataflow;
use crate::error::{Result, RuntimeError};
use crate::metrics::QueryMetrics;
use crate::pipeline::Pipeline;
use crate::query_options::QueryOptions;
use crate::record::{partition_for_key, OutputRecord, Record};
use crate::view::{SharedView, ViewFeed};

struct Topic {
    partitions: i32,
    /// Records in the order they were written (all partitions).
    records: Vec<Record>,
    /// The broker-wide write sequence number of each record, so that a query reading several topics
    /// (a join) sees their records in the order they were written.
    seqs: Vec<u64>,
    next_offset: Vec<i64>,
    round_robin: i32,
}

impl Topic {
    /// Appends a record to a partition at its next offset.
    fn push(&mut self, partition: i32, r: OutputRecord, seq: u64) {
        self.seqs.push(seq);
        let offset = self.next_offset[partition as usize];
        self.next_offset[partition as usize] += 1;
        self.records.push(Record {
            partition,
            offset,
            timestamp: r.timestamp,
            key: r.key,
            value: r.value,
            headers: r.headers,
        });
    }
}

enum Output {
    Topic(String),
    Rows(mpsc::Sender<Result<arrow::record_batch::RecordBatch>>),
}

struct Task {
    pipeline: Pipeline,
    /// Each topic read, with the index of its next unread record.
    cursors: Vec<(String, usize)>,
    output: Output,
    stopped: Arc<AtomicBool>,
}

#[derive(Default)]
struct State {
    topics: BTreeMap<String, Topic>,
    tasks: Vec<Task>,
    next_seq: u64,
}

impl State {
    fn seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    /// The topic and index of a task's next record: the earliest written among its topics.
    fn next_for(&self, task: &Task) -> Option<(usize, Record)> {
        let mut best: Option<(u64, usize, Record)> = None;
        for (i, (topic, cursor)) in task.cursors.iter().enumerate() {
            let Some(t) = self.topics.get(topic) else { continue };
            if let Some(seq) = t.seqs.get(*cursor) {
                if best.as_ref().is_none_or(|(s, _, _)| seq < s) {
                    best = Some((*seq, i, t.records[*cursor].clone()));
                }
            }
        }
        best.map(|(_, i, r)| (i, r))
    }

    fn cursors(&self, topics: &[String], earliest: bool) -> Vec<(String, usize)> {
        topics
            .iter()
            .map(|t| {
                let end = self.topics.get(t).map(|t| t.records.len()).unwrap_or(0);
                (t.clone(), if earliest { 0 } else { end })
            })
            .collect()
    }
}

/// In-memory topics plus the queries that read them.
#[derive(Default)]
pub struct MemoryBroker {
    state: Arc<Mutex<State>>,
}

/// A table view fed from the in-memory topic on each sync: deterministic, and always current.
struct MemoryViewFeed {
    state: Arc<Mutex<State>>,
    topic: String,
    view: SharedView,
    /// How many of the topic's records (in write order) the view has seen.
    seen: Mutex<usize>,
}

#[async_trait]
impl ViewFeed for MemoryViewFeed {
    async fn sync(&self) -> Result<()> {
        let state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some(topic) = state.topics.get(&self.topic) else {
            return Err(RuntimeError::TopicNotFound(self.topic.clone()));
        };
        let mut seen = self.seen.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // A topic deleted and created again starts over (the view skips offsets it applied).
        if *seen > topic.records.len() {
            *seen = 0;
        }
        let mut view = self.view.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        for r in &topic.records[*seen..] {
            view.apply(r.clone());
        }
        *seen = topic.records.len();
        Ok(())
    }
}

struct MemoryQuery {
    stopped: Arc<AtomicBool>,
}

#[async_trait]
impl RunningQuery for MemoryQuery {
    async fn stop(self: Box<Self>) {
        self.stopped.store(true, Ordering::SeqCst);
    }

    fn error(&self) -> Option<String> {
        None
    }
}

impl MemoryBroker {
    /// An empty broker.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Appends records to a topic (created with `partitions` if missing, as a test fixture would).
    pub fn append(&self, topic: &str, records: Vec<OutputRecord>) -> Result<()> {
        let mut state = self.lock();
        append(&mut state, topic, records)
    }

    /// Appends records to one partition, as a test's input pipe does (TopologyTestDriver writes to partition 0).
    pub fn append_to_partition(&self, topic: &str, partition: i32, records: Vec<OutputRecord>) -> Result<()> {
        let mut state = self.lock();
        let t = state.topics.get(topic).ok_or_else(|| RuntimeError::TopicNotFound(topic.to_string()))?;
        let p = partition.clamp(0, t.partitions - 1);
        for r in records {
            let seq = state.seq();
            if let Some(t) = state.topics.get_mut(topic) {
                t.push(p, r, seq);
            }
        }
        Ok(())
    }

    /// Every record of a topic in write order.
    pub fn records(&self, topic: &str) -> Vec<Record> {
        self.lock().topics.get(topic).map(|t| t.records.clone()).unwrap_or_default()
    }

    /// How many queries are running (persistent and push), for tests that wait for a query to start.
    pub fn running_queries(&self) -> usize {
        self.lock().tasks.iter().filter(|t| !t.stopped.load(Ordering::SeqCst)).count()
    }

    /// Runs every query until none has unread input, in the order the queries started.
    pub fn run_until_idle(&self) -> Result<()> {
        self.run_at_most(usize::MAX).map(|_| ())
    }

    /// Runs every query until none has unread input or `limit` records have been processed, whichever
    /// comes first (a query that reads its own output never becomes idle). Returns whether it became
    /// idle.
    pub fn run_at_most(&self, limit: usize) -> Result<bool> {
        let mut state = self.lock();
        let mut processed = 0usize;
        loop {
            let mut progressed = false;
            state.tasks.retain(|t| !t.stopped.load(Ordering::SeqCst));
            let mut tasks = std::mem::take(&mut state.tasks);
            let mut result = Ok(());
            for task in tasks.iter_mut() {
                while let Some((source, record)) = state.next_for(task) {
                    if processed == limit {
                        break;
                    }
                    processed += 1;
                    task.cursors[source].1 += 1;
                    progressed = true;
                    let topic = task.cursors[source].0.clone();
                    let step = match &task.output {
                        Output::Topic(sink) => task
                            .pipeline
                            .process(&topic, std::slice::from_ref(&record))
                            .and_then(|out| append(&mut state, sink, out)),
                        Output::Rows(tx) => match task.pipeline.process_batch(&topic, std::slice::from_ref(&record)) {
                            Ok(Some(batch)) => {
                                if tx.try_send(Ok(batch)).is_err() {
                                    task.stopped.store(true, Ordering::SeqCst);
                                }
                                Ok(())
                            }
                            Ok(None) => Ok(()),
                            Err(e) => Err(e),
                        },
                    };
                    if let Err(e) = step {
                        result = Err(e);
                        break;
                    }
                }
                if result.is_err() {
                    break;
                }
            }
            tasks.append(&mut state.tasks);
            state.tasks = tasks;
            result?;
            if !progressed {
                return Ok(true);
            }
            if processed == limit {
                return Ok(false);
            }
        }
    }
}

fn append(state: &mut State, topic: &str, records: Vec<OutputRecord>) -> Result<()> {
    if !state.topics.contains_key(topic) {
        return Err(RuntimeError::TopicNotFound(topic.to_string()));
    }
    for r in records {
        let seq = state.seq();
        let Some(t) = state.topics.get_mut(topic) else { continue };
        let partition = match &r.key {
            Some(k) => partition_for_key(k, t.partitions),
            None => {
                t.round_robin = (t.round_robin + 1) % t.partitions;
                t.round_robin
            }
        };
        t.push(partition, r, seq);
    }
    Ok(())
}

#[async_trait]
impl Broker for MemoryBroker {
    fn bootstrap(&self) -> Option<String> {
        None
    }

    async fn create_topic(&self, name: &str, partitions: i32, _replicas: i16) -> Result<()> {
        let mut state = self.lock();
        let partitions = partitions.max(1);
        state.topics.entry(name.to_string()).or_insert_with(|| Topic {
            partitions,
            records: Vec::new(),
            seqs: Vec::new(),
            next_offset: vec![0; partitions as usize],
            round_robin: -1,
        });
        Ok(())
    }

    async fn delete_topic(&self, name: &str) -> Result<()> {
        self.lock().topics.remove(name);
        Ok(())
    }

    async fn topics(&self) -> Result<Vec<TopicInfo>> {
        Ok(self.lock().topics.iter().map(|(n, t)| TopicInfo { name: n.clone(), partitions: t.partitions }).collect())
    }

    async fn produce(&self, topic: &str, records: Vec<OutputRecord>) -> Result<()> {
        self.append(topic, records)
    }

    async fn read_all(&self, topic: &str) -> Result<Vec<Record>> {
        Ok(self.records(topic))
    }

    async fn follow(&self, topic: &str, view: SharedView) -> Result<Option<Box<dyn ViewFeed>>> {
        Ok(Some(Box::new(MemoryViewFeed {
            state: self.state.clone(),
            topic: topic.to_string(),
            view,
            seen: Mutex::new(0),
        })))
    }

    async fn start_query(
        &self,
        _id: &str,
        dataflow: Dataflow,
        options: QueryOptions,
        metrics: Arc<QueryMetrics>,
    ) -> Result<Box<dyn RunningQuery>> {
        // Records are processed in the order they were produced: nothing to wait for.
        let earliest = options.earliest;
        let sink =
            dataflow.sink.topic.clone().ok_or_else(|| RuntimeError::Internal("query without sink topic".into()))?;
        let stopped = Arc::new(AtomicBool::new(false));
        let mut state = self.lock();
        let cursors = state.cursors(&dataflow.input.topics(), earliest);
        state.tasks.push(Task {
            pipeline: Pipeline::new(&dataflow, metrics)?,
            cursors,
            output: Output::Topic(sink),
            stopped: stopped.clone(),
        });
        Ok(Box::new(MemoryQuery { stopped }))
    }

    async fn start_push(
        &self,
        dataflow: Dataflow,
        options: QueryOptions,
        metrics: Arc<QueryMetrics>,
    ) -> Result<RowStream> {
        let earliest = options.earliest;
        let (tx, rx) = mpsc::channel(1 << 16);
        let mut state = self.lock();
        let topics = dataflow.input.topics();
        if let Some(missing) = topics.iter().find(|t| !state.topics.contains_key(*t)) {
            return Err(RuntimeError::TopicNotFound(missing.clone()));
        }
        let cursors = state.cursors(&topics, earliest);
        state.tasks.push(Task {
            pipeline: Pipeline::new(&dataflow, metrics)?,
            cursors,
            output: Output::Rows(tx),
            stopped: Arc::new(AtomicBool::new(false)),
        });
        Ok(rx)
    }

    async fn print(&self, topic: &str, from_beginning: bool) -> Result<RecordStream> {
        let (tx, rx) = mpsc::channel(1 << 16);
        if from_beginning {
            for r in self.records(topic) {
                let _ = tx.try_send(Ok(r));
            }
        }
        Ok(rx)
    }
}
