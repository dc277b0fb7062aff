//! A broker for the engine's tests: the in-memory one, with topic creation that waits until the
//! test lets it through (an unresponsive broker) and a record of the queries started.

use std::sync::Arc;

use async_trait::async_trait;
use eddy_runtime::{
    Broker, Dataflow, MemoryBroker, OutputRecord, QueryMetrics, QueryOptions, Record, RecordStream, RowStream,
    RunningQuery, TopicInfo,
};
use tokio::sync::{Notify, Semaphore};

/// A broker whose topic creation waits until the test lets it through (an unresponsive broker).
pub(super) struct Gated {
    pub inner: MemoryBroker,
    pub create: Semaphore,
    /// Told each time a topic creation starts waiting.
    pub waiting: Notify,
    /// The ids of the persistent queries started, in order.
    pub started: std::sync::Mutex<Vec<String>>,
}

impl Gated {
    /// A broker that lets every topic creation through.
    pub fn open(inner: MemoryBroker) -> Self {
        Self {
            inner,
            create: Semaphore::new(Semaphore::MAX_PERMITS),
            waiting: Notify::new(),
            started: std::sync::Mutex::new(Vec::new()),
        }
    }
}

#[async_trait]
impl Broker for Gated {
    fn bootstrap(&self) -> Option<String> {
        None
    }
    async fn create_topic(&self, name: &str, partitions: i32, replicas: i16) -> eddy_runtime::Result<()> {
        self.waiting.notify_one();
        if let Ok(pass) = self.create.acquire().await {
            pass.forget();
        }
        self.inner.create_topic(name, partitions, replicas).await
    }
    async fn delete_topic(&self, name: &str) -> eddy_runtime::Result<()> {
        self.inner.delete_topic(name).await
    }
    async fn topics(&self) -> eddy_runtime::Result<Vec<TopicInfo>> {
        self.inner.topics().await
    }
    async fn produce(&self, topic: &str, records: Vec<OutputRecord>) -> eddy_runtime::Result<()> {
        self.inner.produce(topic, records).await
    }
    async fn read_all(&self, topic: &str) -> eddy_runtime::Result<Vec<Record>> {
        self.inner.read_all(topic).await
    }
    async fn start_query(
        &self,
        id: &str,
        dataflow: Dataflow,
        options: QueryOptions,
        metrics: Arc<QueryMetrics>,
    ) -> eddy_runtime::Result<Box<dyn RunningQuery>> {
        if let Ok(mut started) = self.started.lock() {
            started.push(id.to_string());
        }
        self.inner.start_query(id, dataflow, options, metrics).await
    }
    async fn start_push(
        &self,
        dataflow: Dataflow,
        options: QueryOptions,
        metrics: Arc<QueryMetrics>,
    ) -> eddy_runtime::Result<RowStream> {
        self.inner.start_push(dataflow, options, metrics).await
    }
    async fn print(&self, topic: &str, from_beginning: bool) -> eddy_runtime::Result<RecordStream> {
        self.inner.print(topic, from_beginning).await
    }
}
