//! CREATE STREAM/TABLE, CREATE ... AS SELECT, INSERT INTO ... SELECT, DROP and TERMINATE.

use std::sync::Arc;

use eddy_catalog::max_partitions;
use eddy_catalog::{ColumnKind, Command, QueryInfo, QueryKind, Source, SourceKind, SqlType};
use eddy_parser::{CreateAsSelect, CreateSource, Properties, Select};
use eddy_planner::{build_source, plan_persistent, PersistentPlan, SinkRequest};
use eddy_runtime::generator::{ConnectorSpec, ConnectorTask};
use eddy_runtime::QueryMetrics;
use sqlparser::tokenizer::Location;

use super::error::{sqlstate, EngineError};

/// The statement property that makes a persistent query fail on a record the broker refuses, as
/// ksqlDB's (whose default is `true`; Eddy's is `false`: skip the record and count an error).
pub use super::properties::FAIL_ON_PRODUCTION_ERROR;

use super::{Engine, Output, Running, Session, State};

impl Engine {
    /// Partition count from `PARTITIONS`, validated.
    fn partitions_property(props: &Properties) -> Result<Option<i32>, EngineError> {
        match props.get("PARTITIONS") {
            None => Ok(None),
            Some(p) => match p.parse::<i32>().ok().filter(|n| *n > 0) {
                Some(n) if n > max_partitions() => Err(EngineError::new(
                    sqlstate::PROGRAM_LIMIT_EXCEEDED,
                    format!("Invalid value for PARTITIONS: {p}: at most {} partitions", max_partitions()),
                )),
                Some(n) => Ok(Some(n)),
                None => {
                    Err(EngineError::new(sqlstate::INVALID_PARAMETER, format!("Invalid value for PARTITIONS: {p}")))
                }
            },
        }
    }

    fn replicas_property(props: &Properties) -> Result<i16, EngineError> {
        match props.get("REPLICAS") {
            None => Ok(1),
            Some(r) => r.parse::<i16>().ok().filter(|n| *n > 0).ok_or_else(|| {
                EngineError::new(sqlstate::INVALID_PARAMETER, format!("Invalid value for REPLICAS: {r}"))
            }),
        }
    }

    /// Checks the name is free (or replaceable) before creating a source.
    fn check_name(
        state: &State,
        name: &str,
        kind: SourceKind,
        or_replace: bool,
        if_not_exists: bool,
    ) -> Result<bool, EngineError> {
        if let Ok(existing) = state.catalog.source(name) {
            if if_not_exists {
                return Ok(false);
            }
            if !or_replace {
                let existing_kind = existing.kind.to_string().to_lowercase();
                return Err(EngineError::new(
                    sqlstate::DUPLICATE_OBJECT,
                    format!(
                        "Cannot add {} '{name}': A {existing_kind} with the same name already exists",
                        kind.to_string().to_lowercase()
                    ),
                ));
            }
            if existing.kind != kind {
                return Err(EngineError::new(
                    sqlstate::DUPLICATE_OBJECT,
                    format!("Cannot replace {} '{name}' with a {}", existing.kind, kind),
                ));
            }
        }
        Ok(true)
    }

    pub(super) async fn create_source(
        &self,
        session: &Session,
        c: &CreateSource,
        text: &str,
        replay: Option<&Command>,
    ) -> Result<Output, EngineError> {
        let _ddl = self.ddl.lock().await;
        let state = self.state.lock().await;
        // Source (read-only) streams and tables are never replaced, nor replace anything.
        let replaces_source = state.catalog.source(&c.name).is_ok_and(|s| s.is_source);
        if c.or_replace && (c.is_source || replaces_source) {
            let kind = c.kind.to_string().to_lowercase();
            return Err(EngineError::new(
                sqlstate::INVALID_PARAMETER,
                format!("Cannot add {kind} '{}': CREATE OR REPLACE is not supported on source {kind}s.", c.name),
            ));
        }
        if !Self::check_name(&state, &c.name, c.kind, c.or_replace, c.if_not_exists)? {
            return Ok(already_exists(c.kind, &c.name));
        }
        let topic = c.properties.get("KAFKA_TOPIC").unwrap_or_default();
        let wanted = Self::partitions_property(&c.properties)?;
        let replicas = Self::replicas_property(&c.properties)?;
        // Validate the statement before touching Kafka.
        let mut source = build_source(c, text, &session.properties, wanted.unwrap_or(1)).map_err(EngineError::plan)?;
        let columns: Vec<(String, SqlType)> = source.columns.iter().map(|c| (c.name.clone(), c.ty.clone())).collect();
        let connector = ConnectorSpec::from_properties(&c.properties, &columns)
            .map_err(|e| EngineError::new(sqlstate::INVALID_PARAMETER, e.to_string()))?;
        if connector.is_some() && source.columns.iter().any(|c| !matches!(c.kind, ColumnKind::Key | ColumnKind::Value))
        {
            return Err(EngineError::new(
                sqlstate::INVALID_PARAMETER,
                "A generator connector cannot fill HEADER(S) columns",
            ));
        }
        // Kafka is called without the state held: SHOW and the catalog's readers go on meanwhile;
        // other catalog changes wait on `ddl`, so what was checked above still holds after.
        drop(state);
        let partitions = match self.broker.partitions(&topic).await? {
            Some(existing) => {
                if let Some(w) = wanted {
                    if w != existing && replay.is_none() {
                        return Err(EngineError::new(
                            sqlstate::INVALID_PARAMETER,
                            format!("A Kafka topic with the name '{topic}' already exists, with different partition/replica configuration than required. KSQL expects {w} partitions (topic has {existing})."),
                        ));
                    }
                }
                existing
            }
            None => match wanted {
                Some(p) => {
                    self.broker.create_topic(&topic, p, replicas).await?;
                    p
                }
                None => {
                    return Err(EngineError::new(
                        sqlstate::UNDEFINED_OBJECT,
                        format!("Topic '{topic}' does not exist. If you want to create a new topic for the {} please re-run the statement providing the required 'PARTITIONS' configuration in the WITH clause (and optionally 'REPLICAS'). For example: CREATE {} {} (...) WITH (KAFKA_TOPIC='{topic}', PARTITIONS=2, ...);", c.kind.to_string().to_lowercase(), c.kind, c.name),
                    ))
                }
            },
        };
        source.partitions = partitions;
        if replay.is_none() {
            self.append_command(Command::new(text, session.properties.clone(), None)).await?;
        }
        let kind = source.kind;
        let task = match connector {
            Some(spec) => {
                // Continue after the rows already in the topic (a restart, or a topic that existed).
                let first_row = self.broker.records_written(&source.topic).await?;
                let formats = (&source.key_format, &source.value_format);
                let keys = source.key_columns().count();
                let task = ConnectorTask::start(self.broker.clone(), &source.topic, spec, formats, keys, first_row)
                    .map_err(|e| EngineError::new(sqlstate::INVALID_PARAMETER, e.to_string()))?;
                Some(task)
            }
            None => None,
        };
        let replaced = {
            let mut state = self.state.lock().await;
            let replaced = task.and_then(|task| state.connectors.insert(source.name.clone(), task));
            state.catalog.put_source(source);
            replaced
        };
        if let Some(old) = replaced {
            old.stop().await;
        }
        Ok(Output::done_with(
            format!("CREATE {kind}"),
            format!("{} created", if kind == SourceKind::Stream { "Stream" } else { "Table" }),
        ))
    }

    pub(super) async fn create_as_select(
        &self,
        session: &Session,
        c: &CreateAsSelect,
        text: &str,
        replay: Option<&Command>,
    ) -> Result<Output, EngineError> {
        let _ddl = self.ddl.lock().await;
        let state = self.state.lock().await;
        if !Self::check_name(&state, &c.name, c.kind, c.or_replace, c.if_not_exists)? {
            return Ok(already_exists(c.kind, &c.name));
        }
        if c.or_replace && state.catalog.has_source(&c.name) {
            return Err(EngineError::new(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "CREATE OR REPLACE of a persistent query is not supported yet",
            ));
        }
        let plan = plan_persistent(&c.query, &state.catalog, SinkRequest::create(c, &session.properties, text))?;
        drop(state);
        let kind =
            if c.kind == SourceKind::Stream { QueryKind::CreateStreamAsSelect } else { QueryKind::CreateTableAsSelect };
        let id = self.start_persistent(session, plan, kind, text, replay, true).await?;
        Ok(Output::done_with(format!("CREATE {}", c.kind), format!("Created query with ID {id}")))
    }

    pub(super) async fn insert_select(
        &self,
        session: &Session,
        (target, target_at): (&str, Location),
        props: &Properties,
        query: &Select,
        text: &str,
        replay: Option<&Command>,
    ) -> Result<Output, EngineError> {
        let _ddl = self.ddl.lock().await;
        let state = self.state.lock().await;
        let existing = state
            .catalog
            .source(target)
            .map_err(|_| {
                let (line, col) = (target_at.line, target_at.column);
                EngineError::new(
                    sqlstate::UNDEFINED_TABLE,
                    format!("Line: {line}, Col: {col}: Source `{target}` does not exist."),
                )
            })?
            .clone();
        if existing.kind == SourceKind::Table {
            return Err(EngineError::new(
                sqlstate::INVALID_PARAMETER,
                format!("INSERT INTO can only be used to insert into a stream. {target} is a table."),
            ));
        }
        if existing.is_source {
            return Err(EngineError::new(
                sqlstate::INVALID_PARAMETER,
                format!("Cannot insert into read-only {} {target}.", existing.kind.to_string().to_lowercase()),
            ));
        }
        if existing.columns.iter().any(|c| matches!(c.kind, ColumnKind::Headers | ColumnKind::Header(_))) {
            return Err(EngineError::new(
                sqlstate::INVALID_PARAMETER,
                format!("Cannot insert into {target} because it has header columns"),
            ));
        }
        let plan = plan_persistent(
            query,
            &state.catalog,
            SinkRequest {
                kind: existing.kind,
                name: target,
                properties: props,
                existing: Some(&existing),
                session: &session.properties,
                statement: text,
            },
        )?;
        drop(state);
        let id = self.start_persistent(session, plan, QueryKind::InsertQuery, text, replay, false).await?;
        Ok(Output::done_with("INSERT 0 0", format!("Created query with ID {id}")))
    }

    /// Creates the sink topic if needed, records the command, registers and starts the query. A
    /// record the broker refuses is skipped and counted unless `ksql.fail.on.production.error` is
    /// `true` for the statement. Called with `ddl` held; holds the state only to change it.
    async fn start_persistent(
        &self,
        session: &Session,
        plan: PersistentPlan,
        kind: QueryKind,
        text: &str,
        replay: Option<&Command>,
        creates_sink: bool,
    ) -> Result<String, EngineError> {
        let sink: Source = plan.sink;
        // A replayed query runs the topology it first ran, or none: a re-plan that creates a
        // different stream or table (an upgrade changed planning) is refused, and the caller lists
        // the query as failed.
        if let Some(stored) = replay.and_then(|c| c.sink.as_ref()).filter(|_| creates_sink) {
            if *stored != sink {
                return Err(EngineError::replanned_differently(stored, &sink));
            }
        }
        match self.broker.partitions(&sink.topic).await? {
            Some(p) if creates_sink && p != sink.partitions && replay.is_none() => {
                return Err(EngineError::new(
                    sqlstate::INVALID_PARAMETER,
                    format!("A Kafka topic with the name '{}' already exists, with different partition/replica configuration than required. KSQL expects {} partitions (topic has {p}).", sink.topic, sink.partitions),
                ))
            }
            Some(_) => {}
            None => self.broker.create_topic(&sink.topic, sink.partitions, 1).await?,
        }
        let id = {
            let mut state = self.state.lock().await;
            match replay.and_then(|c| c.query_id.clone()) {
                Some(id) => {
                    state.catalog.observe_query_id(&id);
                    id
                }
                // Taken once the query is recorded: a statement refused before keeps it free.
                None => state.catalog.peek_query_id(kind, &sink.name),
            }
        };
        let properties = match replay {
            Some(c) => c.properties.clone(),
            None => session.properties.clone(),
        };
        let options = super::properties::query_options(&properties)?;
        let mut query = plan.query;
        query.dataflow.sink.fail_on_production_error =
            properties.get(FAIL_ON_PRODUCTION_ERROR).is_some_and(|v| v.eq_ignore_ascii_case("true"));
        if replay.is_none() {
            self.broker.prepare_query(&id, &query.dataflow).await?;
            let mut command = Command::new(text, properties, Some(id.clone()));
            command.sink = creates_sink.then(|| sink.clone());
            self.append_command(command).await?;
            self.state.lock().await.catalog.next_query_id(kind, &sink.name);
        }
        let metrics = Arc::new(QueryMetrics::default());
        let explained = query.dataflow.explain();
        let (handle, deferred): (Box<dyn eddy_runtime::RunningQuery>, _) = match replay {
            // Replayed: started after the whole log, if no later command terminated it.
            Some(_) => (
                Box::new(super::command_log::NotStarted::default()),
                Some(super::command_log::Deferred { id: id.clone(), dataflow: query.dataflow, options }),
            ),
            None => (self.broker.start_query(&id, query.dataflow, options, metrics.clone()).await?, None),
        };
        let mut state = self.state.lock().await;
        state.replayed.extend(deferred);
        state.catalog.put_query(QueryInfo {
            id: id.clone(),
            kind,
            statement: text.to_string(),
            sources: query.sources,
            sink: sink.name.clone(),
            sink_topic: sink.topic.clone(),
        });
        if creates_sink {
            state.catalog.put_source(sink);
        }
        state.running.insert(id.clone(), Running { handle, metrics, plan: explained });
        if replay.is_none() {
            tracing::info!(query = %id, "persistent query started");
        }
        Ok(id)
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) async fn drop_source(
        &self,
        session: &Session,
        kind: SourceKind,
        name: &str,
        if_exists: bool,
        delete_topic: bool,
        text: &str,
        replay: Option<&Command>,
    ) -> Result<Output, EngineError> {
        let _ddl = self.ddl.lock().await;
        let state = self.state.lock().await;
        let source = match state.catalog.source(name) {
            Ok(s) => s.clone(),
            Err(_) if if_exists => {
                return Ok(Output::done_with(format!("DROP {kind}"), format!("{name} does not exist.")))
            }
            Err(_) => {
                return Err(EngineError::new(sqlstate::UNDEFINED_TABLE, format!("{kind} {name} does not exist.")))
            }
        };
        if source.kind != kind {
            return Err(EngineError::new(
                sqlstate::INVALID_PARAMETER,
                format!("Incompatible data source type is {}, but statement was DROP {kind}", source.kind),
            ));
        }
        if delete_topic && source.is_source {
            return Err(EngineError::new(
                sqlstate::INVALID_PARAMETER,
                format!("Cannot delete topic for read-only source: {name}"),
            ));
        }
        let users = state.catalog.queries_using(name);
        if !users.is_empty() {
            let readers: Vec<String> =
                users.iter().filter(|q| q.sources.iter().any(|s| s == name)).map(|q| q.id.clone()).collect();
            let writers: Vec<String> = users.iter().filter(|q| q.sink == name).map(|q| q.id.clone()).collect();
            return Err(EngineError::new(
                sqlstate::DEPENDENT_OBJECTS,
                format!(
                    "Cannot drop {name}.\nThe following queries read from this source: [{}].\nThe following queries write into this source: [{}].\nYou need to terminate them before dropping {name}.",
                    readers.join(", "),
                    writers.join(", ")
                ),
            ));
        }
        drop(state);
        if replay.is_none() {
            self.append_command(Command::new(text, session.properties.clone(), None)).await?;
        }
        let connector = {
            let mut state = self.state.lock().await;
            state.catalog.remove_source(name);
            state.connectors.remove(name)
        };
        if let Some(connector) = connector {
            connector.stop().await;
        }
        let mut message = format!("Source `{name}` (topic: {}) was dropped.", source.topic);
        if delete_topic && replay.is_none() {
            if let Err(e) = self.broker.delete_topic(&source.topic).await {
                message.push_str(&format!(" The topic was not deleted: {e}"));
            }
        }
        Ok(Output::done_with(format!("DROP {kind}"), message))
    }

    pub(super) async fn terminate(
        &self,
        session: &Session,
        id: Option<&str>,
        text: &str,
        replay: Option<&Command>,
    ) -> Result<Output, EngineError> {
        let _ddl = self.ddl.lock().await;
        let state = self.state.lock().await;
        let ids: Vec<String> = match id {
            None => state.catalog.queries().map(|q| q.id.clone()).collect(),
            Some(id) => {
                let found = state.catalog.queries().find(|q| q.id.eq_ignore_ascii_case(id)).map(|q| q.id.clone());
                match found {
                    Some(id) => vec![id],
                    None => return Err(EngineError::new(sqlstate::UNDEFINED_OBJECT, format!("Unknown queryId: {id}"))),
                }
            }
        };
        drop(state);
        if replay.is_none() {
            self.append_command(Command::new(text, session.properties.clone(), None)).await?;
        }
        let stopping: Vec<Running> = {
            let mut state = self.state.lock().await;
            ids.iter()
                .filter_map(|id| {
                    state.catalog.remove_query(id);
                    state.running.remove(id)
                })
                .collect()
        };
        // A query stops within seconds (it flushes and commits): without the state held.
        for r in stopping {
            r.handle.stop().await;
        }
        Ok(Output::done_with(
            "TERMINATE",
            format!("Terminated {}", if ids.is_empty() { "no queries".to_string() } else { ids.join(", ") }),
        ))
    }
}

/// The answer to `CREATE ... IF NOT EXISTS` when the source exists.
fn already_exists(kind: SourceKind, name: &str) -> Output {
    Output::done_with(format!("CREATE {kind}"), format!("{kind} {name} already exists"))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use eddy_runtime::MemoryBroker;
    use tokio::sync::Semaphore;

    use super::super::test_broker::Gated;
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_broker_that_does_not_answer_delays_ddl_but_not_show_or_describe() {
        let broker = Arc::new(Gated { create: Semaphore::new(0), ..Gated::open(MemoryBroker::new()) });
        let engine = Arc::new(Engine::new(broker.clone(), None).await.expect("engine"));
        let mut session = Session::default();
        let setup = engine.execute(
            &mut session,
            "CREATE STREAM a (id INT KEY, v STRING) WITH (KAFKA_TOPIC='a', VALUE_FORMAT='JSON', PARTITIONS=1);",
        );
        // `a`'s topic waits for the broker: let it through once.
        let (done, ()) = tokio::join!(setup, async {
            broker.waiting.notified().await;
            broker.create.add_permits(1);
        });
        assert!(done.iter().all(Result::is_ok));

        // A CREATE whose topic creation hangs...
        let creating = {
            let engine = engine.clone();
            tokio::spawn(async move {
                let mut session = Session::default();
                engine
                    .execute(
                        &mut session,
                        "CREATE STREAM b (id INT KEY) WITH (KAFKA_TOPIC='b', VALUE_FORMAT='JSON', PARTITIONS=1);",
                    )
                    .await
            })
        };
        broker.waiting.notified().await;
        // ...does not hold up readers of the catalog.
        for sql in ["SHOW STREAMS;", "DESCRIBE a;", "SHOW QUERIES;", "SELECT * FROM a;"] {
            let answered = tokio::time::timeout(Duration::from_secs(5), engine.execute(&mut session, sql))
                .await
                .unwrap_or_else(|_| panic!("{sql} waited for the CREATE"));
            let errors: Vec<&EngineError> = answered.iter().filter_map(|r| r.as_ref().err()).collect();
            assert!(errors.is_empty(), "{sql}: {errors:?}");
        }
        // Another DDL statement waits its turn, then both complete.
        let dropping = {
            let engine = engine.clone();
            tokio::spawn(async move { engine.execute(&mut Session::default(), "DROP STREAM a;").await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!dropping.is_finished(), "DDL runs one statement at a time");
        broker.create.add_permits(1);
        assert!(creating.await.expect("create").iter().all(Result::is_ok));
        assert!(dropping.await.expect("drop").iter().all(Result::is_ok));
        let streams = engine.catalog().await;
        assert!(streams.source("B").is_ok() && streams.source("A").is_err());
    }
}
