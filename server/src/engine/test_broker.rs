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
    /// The ids of those whose dataflow goes through a repartition topic on Kafka.
    pub repartitioned: std::sync::Mutex<Vec<String>>,
}

impl Gated {
    /// A broker that lets every topic creation through.
    pub fn open(inner: MemoryBroker) -> Self {
        Self {
            inner,
            create: Semaphore::new(Semaphore::MAX_PERMITS),
            waiting: Notify::new(),
            started: std::sync::Mutex::new(Vec::new()),
            repartitioned: std::sync::Mutex::new(Vec::new()),
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
        if let (Some(_), Ok(mut repartitioned)) = (dataflow.repartition(), self.repartitioned.lock()) {
            repartitioned.push(id.to_string());
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Engine;
    use crate::session::Session;

    #[tokio::test]
    async fn aggregations_not_grouped_by_their_inputs_key_go_through_a_repartition_topic() {
        let broker = Arc::new(Gated::open(MemoryBroker::new()));
        let engine = Engine::new(broker.clone(), None).await.expect("engine");
        let mut session = Session::default();
        let statements = [
            "CREATE STREAM s (k STRING KEY, v INT, w STRING) WITH (KAFKA_TOPIC='s', FORMAT='JSON', PARTITIONS=2);",
            "CREATE STREAM s2 (a INT KEY, b INT KEY, v INT) WITH (KAFKA_TOPIC='s2', FORMAT='JSON', PARTITIONS=2);",
            "CREATE TABLE t (k STRING PRIMARY KEY, v INT) WITH (KAFKA_TOPIC='t', FORMAT='JSON', PARTITIONS=2);",
            // Repartitioned: a value column, an expression of the key, more columns than the key,
            // the key columns in another order, a join's output.
            "CREATE TABLE by_value AS SELECT w, COUNT(*) AS n FROM s GROUP BY w;",
            "CREATE TABLE by_upper_key AS SELECT UCASE(k) AS uk, COUNT(*) AS n FROM s GROUP BY UCASE(k);",
            "CREATE TABLE by_key_and_value AS SELECT k, w, COUNT(*) AS n FROM s GROUP BY k, w;",
            "CREATE TABLE by_swapped AS SELECT b, a, COUNT(*) AS n FROM s2 GROUP BY b, a;",
            "CREATE TABLE joined AS SELECT s.k AS k, COUNT(*) AS n FROM s JOIN t ON s.k = t.k GROUP BY s.k;",
            // Not: the key itself (filtered or windowed), both keys in order, a table's
            // aggregation (keyed by the table's rows), a query without aggregation.
            "CREATE TABLE by_key AS SELECT k, COUNT(*) AS n FROM s WHERE v > 0 GROUP BY k;",
            "CREATE TABLE by_key_windowed AS SELECT k, COUNT(*) AS n FROM s WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY k;",
            "CREATE TABLE by_keys AS SELECT a, b, SUM(v) AS total FROM s2 GROUP BY a, b;",
            "CREATE TABLE table_counts AS SELECT v, COUNT(*) AS n FROM t GROUP BY v;",
            "CREATE STREAM copied AS SELECT * FROM s;",
        ];
        for sql in statements {
            let errors: Vec<_> = engine.execute(&mut session, sql).await.into_iter().filter_map(Result::err).collect();
            assert!(errors.is_empty(), "{sql}: {errors:?}");
        }
        let repartitioned = broker.repartitioned.lock().expect("repartitioned").clone();
        assert_eq!(
            repartitioned,
            ["CTAS_BY_VALUE_0", "CTAS_BY_UPPER_KEY_1", "CTAS_BY_KEY_AND_VALUE_2", "CTAS_BY_SWAPPED_3", "CTAS_JOINED_4"]
        );
    }
}
