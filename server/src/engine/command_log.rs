//! The command log: successful DDL and persistent-query statements, appended to a one-partition
//! topic and replayed on start so a restarted server recovers its streams, tables and queries. A
//! command topic of more than one partition is refused: its order would be lost. Persistent
//! queries are started once the whole log is replayed, so that a query a later command
//! terminates (or whose sink it drops) never runs again, not even for a moment. A command that
//! cannot be replayed (newer than this build, unparsable, or planned into a different stream or
//! table than it recorded) leaves its query listed as failed; the server starts all the same.

use std::sync::Arc;

use async_trait::async_trait;
use eddy_catalog::{Command, QueryInfo, QueryKind, COMMAND_VERSION};
use eddy_parser::{parse_statements, Statement};
use eddy_runtime::{Dataflow, OutputRecord, QueryOptions, RunningQuery};

use super::error::EngineError;
use super::{Engine, Running, Session};

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
                    tracing::error!(offset = record.offset, error = %e, "an unreadable command is not replayed");
                    continue;
                }
            };
            replayed += 1;
            if command.version > COMMAND_VERSION {
                let reason = format!(
                    "written by a newer Eddy (command version {}; this server reads up to {COMMAND_VERSION})",
                    command.version
                );
                self.replay_failed(&command, None, &reason).await;
                continue;
            }
            let mut session = Session::with_properties(command.properties.clone());
            let parsed = match parse_statements(&command.statement) {
                Ok(p) => p,
                Err(e) => {
                    self.replay_failed(&command, None, &format!("cannot be parsed: {e}")).await;
                    continue;
                }
            };
            for stmt in parsed {
                if let Err(e) = self.execute_parsed(&mut session, &stmt, Some(&command)).await {
                    self.replay_failed(&command, Some(&stmt.statement), &e.to_string()).await;
                }
            }
        }
        tracing::info!(commands = replayed, topic = %topic, "catalog recovered from the command log");
        self.start_replayed().await;
        Ok(())
    }

    /// A command that cannot be replayed: an error in the log, and the server goes on. A persistent
    /// query's command leaves the query listed by SHOW QUERIES as failed, with the reason (TERMINATE
    /// removes it), and the stream or table it created, as recorded, so that later commands reading
    /// it still replay.
    async fn replay_failed(&self, command: &Command, statement: Option<&Statement>, reason: &str) {
        tracing::error!(
            statement = %command.statement,
            query = command.query_id.as_deref().unwrap_or("-"),
            error = %reason,
            "a command could not be replayed"
        );
        let Some(id) = command.query_id.clone() else { return };
        let (kind, sink) = match (statement, &command.sink) {
            (_, Some(sink)) => (QueryKind::creating(sink.kind), sink.name.clone()),
            (Some(Statement::CreateAsSelect(c)), None) => (QueryKind::creating(c.kind), c.name.clone()),
            (Some(Statement::InsertSelect { target, .. }), None) => (QueryKind::InsertQuery, target.clone()),
            _ => (QueryKind::InsertQuery, String::new()),
        };
        {
            let mut state = self.state.lock().await;
            if let Some(recorded) = command.sink.clone().filter(|s| !state.catalog.has_source(&s.name)) {
                state.catalog.put_source(recorded);
            }
            let sink_topic = state.catalog.source(&sink).map(|s| s.topic.clone()).unwrap_or_default();
            state.catalog.put_query(QueryInfo {
                id: id.clone(),
                kind,
                statement: command.statement.clone(),
                sources: Vec::new(),
                sink,
                sink_topic,
            });
            let handle = Box::new(NotStarted::failed(format!("not replayed: {reason}")));
            state.running.insert(id, Running { handle, metrics: Arc::default(), plan: Vec::new() });
        }
        self.publish_catalog().await;
    }

    /// Starts the replayed queries still registered once the whole log is replayed; one that
    /// cannot start is listed by SHOW QUERIES with its error.
    async fn start_replayed(&self) {
        let deferred = std::mem::take(&mut self.state.lock().await.replayed);
        for Deferred { id, dataflow, options } in deferred {
            let Some(metrics) = self.state.lock().await.running.get(&id).map(|r| r.metrics.clone()) else {
                tracing::info!(query = %id, "not started: terminated later in the command log");
                continue;
            };
            let handle: Box<dyn RunningQuery> = match self.broker.start_query(&id, dataflow, options, metrics).await {
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
    pub options: QueryOptions,
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

    /// Runs each statement, failing the test on any error.
    async fn run_all(engine: &Engine, session: &mut Session, statements: &[&str]) {
        for sql in statements {
            let results = engine.execute(session, sql).await;
            let errors: Vec<&EngineError> = results.iter().filter_map(|r| r.as_ref().err()).collect();
            assert!(errors.is_empty(), "{sql}: {errors:?}");
        }
    }

    #[tokio::test]
    async fn replayed_queries_start_after_the_whole_log_and_terminated_ones_never() {
        let broker = Arc::new(Gated::open(MemoryBroker::new()));
        let engine = Engine::new(broker.clone(), Some("_eddy_commands".into())).await.expect("engine");
        let mut session = Session::default();
        run_all(
            &engine,
            &mut session,
            &[
                "CREATE STREAM s (id INT KEY, v STRING) WITH (KAFKA_TOPIC='s', VALUE_FORMAT='JSON', PARTITIONS=1);",
                "CREATE STREAM a AS SELECT * FROM s;",
                "CREATE STREAM b AS SELECT * FROM s;",
                "TERMINATE CSAS_A_0;",
            ],
        )
        .await;
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

    /// The statuses SHOW QUERIES prints, by query id.
    async fn statuses(engine: &Engine) -> Vec<(String, String)> {
        let mut session = Session::default();
        let shown = engine.execute(&mut session, "SHOW QUERIES;").await;
        let Some(Ok(super::super::Output::Rows { rows, .. })) = shown.first() else { panic!("SHOW QUERIES failed") };
        rows.iter().map(|r| (r[0].to_string(), r[2].to_string())).collect()
    }

    #[tokio::test]
    async fn a_command_that_cannot_be_replayed_leaves_its_query_failed_and_the_server_up() {
        // A log written by a first server...
        let broker = Arc::new(Gated::open(MemoryBroker::new()));
        let engine = Engine::new(broker.clone(), Some("_eddy_first".into())).await.expect("engine");
        let mut session = Session::default();
        run_all(
            &engine,
            &mut session,
            &[
                "CREATE STREAM s (id INT KEY, v INT) WITH (KAFKA_TOPIC='s', VALUE_FORMAT='JSON', PARTITIONS=1);",
                "CREATE STREAM a AS SELECT * FROM s;",
                "CREATE STREAM b AS SELECT id, CAST(v AS STRING) AS text FROM a;",
                "CREATE TABLE t (id INT PRIMARY KEY, w STRING) WITH (KAFKA_TOPIC='t', VALUE_FORMAT='JSON', PARTITIONS=2);",
            ],
        )
        .await;
        engine.shutdown().await;
        let mut log: Vec<Command> = broker
            .read_all("_eddy_first")
            .await
            .expect("log")
            .into_iter()
            .filter_map(|r| Command::from_bytes(&r.value?).ok())
            .collect();
        // ... as a later version would replay it: A's recorded sink differs from what planning
        // gives now (as if planning had changed), a command from a newer Eddy, and a join that
        // planning now refuses (its sides are not co-partitioned), recorded before sinks were.
        let a = log.iter_mut().find(|c| c.query_id.as_deref() == Some("CSAS_A_0")).expect("CSAS_A_0");
        let sink = a.sink.as_mut().expect("a recorded sink");
        sink.columns[1].ty = eddy_catalog::SqlType::Bigint;
        let mut newer =
            Command::new("CREATE STREAM c AS SELECT * FROM s;", Default::default(), Some("CSAS_C_5".into()));
        newer.version = COMMAND_VERSION + 1;
        log.push(newer);
        let mut join = Command::new(
            "CREATE STREAM j AS SELECT s.id, s.v, t.w FROM s JOIN t ON s.id = t.id;",
            Default::default(),
            Some("CSAS_J_6".into()),
        );
        join.version = 1;
        log.push(join);
        let records = log
            .iter()
            .map(|c| OutputRecord { timestamp: 0, key: None, value: Some(c.to_bytes()), headers: Vec::new() })
            .collect();
        broker.create_topic("_eddy_second", 1, 1).await.expect("topic");
        broker.produce("_eddy_second", records).await.expect("log written");
        broker.started.lock().expect("started").clear();

        let engine = Engine::new(broker.clone(), Some("_eddy_second".into())).await.expect("the server starts");
        // B, whose columns do not change with A's, replays and runs; A, C and J are listed as failed, with why.
        let shown = statuses(&engine).await;
        assert_eq!(*broker.started.lock().expect("started"), vec!["CSAS_B_1".to_string()], "{shown:?}");
        let status = |id: &str| shown.iter().find(|(q, _)| q == id).map(|(_, s)| s.clone()).unwrap_or_default();
        assert!(
            status("CSAS_A_0").starts_with("ERROR: not replayed: planning the statement again creates a different STREAM A: schema `ID` INTEGER KEY, `V` INTEGER (was `ID` INTEGER KEY, `V` BIGINT)"),
            "{shown:?}"
        );
        assert!(status("CSAS_C_5").contains("written by a newer Eddy (command version 3"), "{shown:?}");
        assert!(status("CSAS_J_6").contains("Can't join `S` with `T`"), "{shown:?}");
        assert!(status("CSAS_B_1").starts_with("RUNNING"), "{shown:?}");
        // A's stream stays as recorded; a failed query is terminated like any other.
        let kept = engine.state.lock().await.catalog.source("A").map(|a| a.schema_string()).expect("A kept");
        assert_eq!(kept, "`ID` INTEGER KEY, `V` BIGINT");
        run_all(&engine, &mut session, &["TERMINATE CSAS_A_0;"]).await;
        assert!(!statuses(&engine).await.iter().any(|(q, _)| q == "CSAS_A_0"));
    }
}
