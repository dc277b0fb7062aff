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
    /// Whether preparing a query fails (an internal topic the broker will not create).
    pub refuse_prepare: std::sync::atomic::AtomicBool,
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
            refuse_prepare: std::sync::atomic::AtomicBool::new(false),
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
    async fn prepare_query(&self, id: &str, _dataflow: &Dataflow) -> eddy_runtime::Result<()> {
        match self.refuse_prepare.load(std::sync::atomic::Ordering::SeqCst) {
            true => Err(eddy_runtime::RuntimeError::Kafka(format!("cannot create topic {id}-repartition"))),
            false => Ok(()),
        }
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
    async fn a_query_whose_internal_topics_cannot_be_made_is_refused_unrecorded_and_keeps_its_id_free() {
        let broker = Arc::new(Gated::open(MemoryBroker::new()));
        let engine = Engine::new(broker.clone(), Some("_eddy_commands".into())).await.expect("engine");
        let mut session = Session::default();
        let create = "CREATE TABLE counts AS SELECT w, COUNT(*) AS n FROM s GROUP BY w;";
        for sql in ["CREATE STREAM s (k STRING KEY, w STRING) WITH (KAFKA_TOPIC='s', FORMAT='JSON', PARTITIONS=1);"] {
            assert!(engine.execute(&mut session, sql).await.iter().all(Result::is_ok), "{sql}");
        }
        broker.refuse_prepare.store(true, std::sync::atomic::Ordering::SeqCst);
        let refused = engine.execute(&mut session, create).await;
        let message = refused.into_iter().find_map(Result::err).map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("cannot create topic CTAS_COUNTS_0-repartition"), "{message}");
        // The same statement, once the topic can be made, runs as the id the error named.
        broker.refuse_prepare.store(false, std::sync::atomic::Ordering::SeqCst);
        assert!(engine.execute(&mut session, create).await.iter().all(Result::is_ok));
        assert_eq!(*broker.started.lock().expect("started"), vec!["CTAS_COUNTS_0".to_string()]);
        // The refused attempt was not recorded: a server replaying the log runs the query once.
        let replayed = Arc::new(Gated::open(MemoryBroker::new()));
        for (topic, records) in [("_eddy_commands", broker.inner.read_all("_eddy_commands").await.expect("log"))] {
            replayed.inner.create_topic(topic, 1, 1).await.expect("topic");
            let records = records
                .into_iter()
                .map(|r| OutputRecord { timestamp: r.timestamp, key: r.key, value: r.value, headers: r.headers })
                .collect();
            replayed.inner.produce(topic, records).await.expect("copy");
        }
        let _engine = Engine::new(replayed.clone(), Some("_eddy_commands".into())).await.expect("engine");
        assert_eq!(*replayed.started.lock().expect("started"), vec!["CTAS_COUNTS_0".to_string()]);
    }

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
