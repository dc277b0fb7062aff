//! The broker interface the engine runs against: Kafka (real or embedded), or in-memory topics
//! stepped by the deterministic test driver.

use std::sync::Arc;

use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use eddy_catalog::SourceKind;
use tokio::sync::mpsc;

use crate::dataflow::Dataflow;
use crate::error::Result;
use crate::metrics::QueryMetrics;
use crate::query_options::QueryOptions;
use crate::record::{OutputRecord, Record};
use crate::view::{SharedView, ViewFeed};

/// A topic's name and partition count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicInfo {
    pub name: String,
    pub partitions: i32,
}

/// Output rows of a push query (ROWTIME, keys, values); the channel closes when the query ends.
pub type RowStream = mpsc::Receiver<Result<RecordBatch>>;

/// Raw records of a topic, for PRINT.
pub type RecordStream = mpsc::Receiver<Result<Record>>;

/// A running persistent query.
#[async_trait]
pub trait RunningQuery: Send + Sync {
    /// Stops the query: flushes its output and commits its offsets.
    async fn stop(self: Box<Self>);
    /// None while healthy, else the error that stopped it.
    fn error(&self) -> Option<String>;
}

/// Topics, records and query execution.
#[async_trait]
pub trait Broker: Send + Sync {
    /// The bootstrap address Kafka clients can use, if this is a Kafka broker.
    fn bootstrap(&self) -> Option<String>;
    async fn create_topic(&self, name: &str, partitions: i32, replicas: i16) -> Result<()>;
    async fn delete_topic(&self, name: &str) -> Result<()>;
    async fn topics(&self) -> Result<Vec<TopicInfo>>;
    /// Partition count of a topic, or None if it does not exist.
    async fn partitions(&self, topic: &str) -> Result<Option<i32>> {
        Ok(self.topics().await?.into_iter().find(|t| t.name == topic).map(|t| t.partitions))
    }
    /// Writes records and waits until they are acknowledged.
    async fn produce(&self, topic: &str, records: Vec<OutputRecord>) -> Result<()>;
    /// [`Broker::produce`] for a client's statement (INSERT, COPY): also returns a warning for the
    /// client when the write made the broker delete records (the embedded broker's room per
    /// partition).
    async fn produce_for_client(&self, topic: &str, records: Vec<OutputRecord>) -> Result<Option<String>> {
        self.produce(topic, records).await.map(|()| None)
    }
    /// Reads a topic from the beginning to its current end.
    async fn read_all(&self, topic: &str) -> Result<Vec<Record>>;
    /// Records ever written to a topic: the sum of its partitions' end offsets.
    async fn records_written(&self, topic: &str) -> Result<u64> {
        Ok(self.read_all(topic).await?.len() as u64)
    }
    /// Opens a feed that keeps a table's view up to date with its topic; None when this broker has
    /// no cheaper way than rereading the topic (`view::RereadFeed`).
    async fn follow(&self, _topic: &str, _view: SharedView) -> Result<Option<Box<dyn ViewFeed>>> {
        Ok(None)
    }
    /// Runs a pull query: the dataflow over a snapshot of its source topic (see `snapshot`).
    async fn pull(
        &self,
        dataflow: &Dataflow,
        kind: SourceKind,
        metrics: Arc<QueryMetrics>,
    ) -> Result<Vec<RecordBatch>> {
        let records = self.read_all(&dataflow.input.first_source().topic).await?;
        crate::snapshot::scan(dataflow, kind, records, metrics)
    }
    /// Creates what a persistent query needs besides its sink topic (its internal topics), before
    /// the query is recorded, so that a query that cannot run is refused rather than logged.
    /// Nothing by default.
    async fn prepare_query(&self, _id: &str, _dataflow: &Dataflow) -> Result<()> {
        Ok(())
    }
    /// Starts a persistent query that writes to its sink topic.
    async fn start_query(
        &self,
        id: &str,
        dataflow: Dataflow,
        options: QueryOptions,
        metrics: Arc<QueryMetrics>,
    ) -> Result<Box<dyn RunningQuery>>;
    /// Starts a push query; returns once it is reading, so records produced afterwards are seen.
    async fn start_push(
        &self,
        dataflow: Dataflow,
        options: QueryOptions,
        metrics: Arc<QueryMetrics>,
    ) -> Result<RowStream>;
    /// Streams a topic's raw records.
    async fn print(&self, topic: &str, from_beginning: bool) -> Result<RecordStream>;
}
