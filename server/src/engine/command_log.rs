//! The command log: successful DDL and persistent-query statements, appended to a one-partition
//! topic and replayed on start so a restarted server recovers its streams, tables and queries. A
//! command topic of more than one partition is refused: its order would be lost. Persistent
//! queries are started once the whole log is replayed, so that a query a later command
//! terminates (or whose sink it drops) never runs again, not even for a moment.

use async_trait::async_trait;
use eddy_catalog::Command;
use eddy_parser::parse_statements;
use eddy_runtime::{Dataflow, OutputRecord, RunningQuery};

use super::error::EngineError;
use super::{Engine, Session};

impl Engine {
    /// Records a statement; the statement only takes effect if this succeeds.
    pub(super) async fn append_command(&self, command: Command) -> Result<(), EngineError> {
        let Some(topic) = &self.command_topic else { return Ok(()) };
        let record = OutputRecord {
            timestamp: chrono::Utc::now().timestamp_millis(),
            key: None,
            value: Some(command.to_bytes()),
            headers: Vec::new(),
        };
        self.broker.produce(topic, vec![record]).await.map_err(EngineError::from)
    }

    /// Creates the command topic if missing and replays what it holds.
    pub(super) async fn recover(&self) -> Result<(), EngineError> {
        let Some(topic) = &self.command_topic else { return Ok(()) };
        match self.broker.partitions(topic).await? {
            None => {
                self.broker.create_topic(topic, 1, 1).await?;
                return Ok(());
            }
            // Commands replay in the order they ran only from one partition: a topic a broker
            // auto-created with its default count would replay them out of order and lose queries.
            Some(partitions) if partitions != 1 => {
                return Err(EngineError::command_topic_partitions(topic, partitions))
            }
            Some(_) => {}
        }
        let records = self.broker.read_all(topic).await?;
        let mut replayed = 0;
        for record in records {
            let Some(bytes) = record.value else { continue };
            let command = match Command::from_bytes(&bytes) {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(offset = record.offset, error = %e, "skipping unreadable command");
                    continue;
                }
            };
            let mut session = Session::with_properties(command.properties.clone());
            let parsed = match parse_statements(&command.statement) {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(statement = %command.statement, error = %e, "skipping unparsable command");
                    continue;
                }
            };
            for stmt in parsed {
                if let Err(e) = self.execute_parsed(&mut session, &stmt, Some(&command)).await {
                    tracing::warn!(statement = %command.statement, error = %e, "command failed on replay");
                }
            }
            replayed += 1;
        }
        tracing::info!(commands = replayed, topic = %topic, "catalog recovered from the command log");
        self.start_replayed().await;
        Ok(())
    }

    /// Starts the replayed queries still registered once the whole log is replayed; one that
    /// cannot start is listed by SHOW QUERIES with its error.
    async fn start_replayed(&self) {
        let deferred = std::mem::take(&mut self.state.lock().await.replayed);
        for Deferred { id, dataflow, earliest } in deferred {
            let Some(metrics) = self.state.lock().await.running.get(&id).map(|r| r.metrics.clone()) else {
                tracing::info!(query = %id, "not started: terminated later in the command log");
                continue;
            };
            let handle: Box<dyn RunningQuery> = match self.broker.start_query(&id, dataflow, earliest, metrics).await {
                Ok(handle) => {
                    tracing::info!(query = %id, "persistent query started");
                    handle
                }
                Err(e) => {
                    tracing::error!(query = %id, error = %e, "a replayed query did not start");
                    Box::new(NotStarted::failed(e.to_string()))
                }
            };
            if let Some(running) = self.state.lock().await.running.get_mut(&id) {
                running.handle = handle;
            }
        }
    }
}

/// A persistent query the replay declared, to start once the log is replayed.
pub(super) struct Deferred {
    pub id: String,
    pub dataflow: Dataflow,
    pub earliest: bool,
}

/// The handle of a replayed query before it starts, or of one that could not start.
#[derive(Default)]
pub(super) struct NotStarted {
    error: Option<String>,
}

impl NotStarted {
    fn failed(error: String) -> Self {
        Self { error: Some(error) }
    }
}

#[async_trait]
impl RunningQuery for NotStarted {
    async fn stop(self: Box<Self>) {}

    fn error(&self) -> Option<String> {
        self.error.clone()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use eddy_runtime::{Broker, MemoryBroker};

    use super::super::test_broker::Gated;
    use super::*;

    #[tokio::test]
    async fn replayed_queries_start_after_the_whole_log_and_terminated_ones_never() {
        let broker = Arc::new(Gated::open(MemoryBroker::new()));
        let engine = Engine::new(broker.clone(), Some("_eddy_commands".into())).await.expect("engine");
        let mut session = Session::default();
        for sql in [
            "CREATE STREAM s (id INT KEY, v STRING) WITH (KAFKA_TOPIC='s', VALUE_FORMAT='JSON', PARTITIONS=1);",
            "CREATE STREAM a AS SELECT * FROM s;",
            "CREATE STREAM b AS SELECT * FROM s;",
            "TERMINATE CSAS_A_0;",
        ] {
            let results = engine.execute(&mut session, sql).await;
            let errors: Vec<&EngineError> = results.iter().filter_map(|r| r.as_ref().err()).collect();
            assert!(errors.is_empty(), "{sql}: {errors:?}");
        }
        engine.shutdown().await;
        broker.started.lock().expect("started").clear();

        let engine = Engine::new(broker.clone(), Some("_eddy_commands".into())).await.expect("restarted");
        assert_eq!(*broker.started.lock().expect("started"), vec!["CSAS_B_1".to_string()]);
        let shown = engine.execute(&mut session, "SHOW QUERIES;").await;
        let Some(Ok(super::super::Output::Rows { rows, .. })) = shown.first() else { panic!("SHOW QUERIES failed") };
        assert_eq!(rows.len(), 1, "{rows:?}");
    }

    #[tokio::test]
    async fn a_command_topic_of_several_partitions_is_refused_with_its_name_and_count() {
        let broker = Arc::new(MemoryBroker::new());
        broker.create_topic("_eddy_commands", 3, 1).await.expect("topic");
        let refused = Engine::new(broker.clone(), Some("_eddy_commands".into())).await.err().expect("refused");
        let message = refused.to_string();
        assert!(message.contains("'_eddy_commands'") && message.contains("3 partitions"), "{message}");

        // A missing one is created with one partition, and a restart over it is accepted.
        Engine::new(broker.clone(), Some("_eddy_fresh".into())).await.expect("created");
        assert_eq!(broker.partitions("_eddy_fresh").await.expect("listed"), Some(1));
        Engine::new(broker, Some("_eddy_fresh".into())).await.expect("restarted");
    }
}
