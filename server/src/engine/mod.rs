//! The engine: one entry point (`execute`) that runs statements for the wire server, the tests and the tools.
//!
//! Life of a statement: `parse_statements` splits the text; `execute_parsed` dispatches on the
//! statement kind; DDL changes the catalog and is appended to the command log; persistent queries are
//! planned by the planner and started on the broker; push queries stream rows back to the session.

mod command_log;
mod copy;
mod cursor;
mod ddl;
mod error;
mod insert;
mod observe;
mod output;
mod pg;
mod prepare;
mod properties;
mod pull;
mod push_registry;
mod queries;
mod router;
mod show;
mod sql;
#[cfg(test)]
mod test_broker;
mod transaction;

use std::collections::BTreeMap;
use std::sync::Arc;

use eddy_catalog::{Catalog, Command};
use eddy_parser::{ParsedStatement, Statement};
use eddy_runtime::generator::ConnectorTask;
use eddy_runtime::{Broker, QueryMetrics, RunningQuery};
use tokio::sync::{watch, Mutex};

pub use crate::session::Session;
use crate::sql::{SourceRelations, SqlEngine};
use crate::views::Views;
pub use copy::{CopyFormat, CopyIn, CopyOptions};
pub use error::{runtime_sqlstate, sqlstate as error_sqlstate, EngineError};
pub use observe::{EngineStatus, QueryState, QueryStatus};
pub use output::{Output, ResultColumn, RowChannel};
pub use prepare::{Columns, Parameter, Prepared, PreparedKind};
pub use pull::PullCache;
pub use push_registry::{PushLimits, DEFAULT_MAX_PUSH_QUERIES, DEFAULT_MAX_SESSION_PUSH_QUERIES};

struct Running {
    handle: Box<dyn RunningQuery>,
    metrics: Arc<QueryMetrics>,
    /// The dataflow tree, for EXPLAIN query_id.
    plan: Vec<String>,
}

pub(crate) struct State {
    catalog: Catalog,
    running: BTreeMap<String, Running>,
    /// Queries the command log's replay declared, started once the whole log is replayed (a query
    /// a later command terminates never runs).
    replayed: Vec<command_log::Deferred>,
    /// Generator connectors, by the name of the source they write.
    connectors: BTreeMap<String, ConnectorTask>,
}

/// Executes statements against a broker, keeping the catalog and the running queries.
pub struct Engine {
    broker: Arc<dyn Broker>,
    /// The catalog, running queries and connectors: held only to read or change them, never across
    /// I/O (a Kafka call, stopping a query).
    state: Mutex<State>,
    /// Serializes the statements that change the catalog, as ksqlDB's command queue runs them one
    /// at a time; held across their Kafka calls (topic creation, the command log, starting and
    /// stopping queries), so a slow broker delays other DDL but never SHOW, DESCRIBE or queries.
    ddl: Mutex<()>,
    /// Where successful DDL is recorded; None disables the command log.
    command_topic: Option<String>,
    pushes: Arc<push_registry::PushRegistry>,
    /// The catalog as the SQL engine reads it, replaced after every change.
    published: watch::Sender<Arc<Catalog>>,
    sql: SqlEngine,
    /// Tables' materialized views, read by pull queries and the SQL engine.
    views: Arc<Views>,
    /// Statements run, by kind and outcome.
    statements: observe::StatementCounts,
}

impl Engine {
    /// An engine over a broker; `command_topic` enables durability of the catalog.
    pub async fn new(broker: Arc<dyn Broker>, command_topic: Option<String>) -> Result<Self, EngineError> {
        let (published, view) = watch::channel(Arc::new(Catalog::default()));
        let views = Arc::new(Views::new(broker.clone()));
        let sql = SqlEngine::new(SourceRelations::new(view, views.clone()))
            .map_err(|e| EngineError::new(error::sqlstate::INTERNAL, format!("cannot start the SQL engine: {e}")))?;
        let engine = Self {
            broker,
            state: Mutex::new(State {
                catalog: Catalog::default(),
                running: BTreeMap::new(),
                replayed: Vec::new(),
                connectors: BTreeMap::new(),
            }),
            ddl: Mutex::new(()),
            command_topic,
            pushes: Arc::default(),
            published,
            sql,
            views,
            statements: observe::StatementCounts::default(),
        };
        engine.recover().await?;
        engine.publish_catalog().await;
        Ok(engine)
    }

    /// Sets how many push queries the server and each session may run at once.
    pub fn set_push_limits(&self, limits: PushLimits) {
        self.pushes.set_limits(limits);
    }

    /// A snapshot of the catalog.
    pub async fn catalog(&self) -> Catalog {
        self.state.lock().await.catalog.clone()
    }

    /// Makes the catalog's current state what the SQL engine reads.
    async fn publish_catalog(&self) {
        let catalog = self.state.lock().await.catalog.clone();
        self.views.retain(&catalog);
        self.published.send_replace(Arc::new(catalog));
    }

    /// Whether every generator connector has stopped (written its MAX_EVENTS, or failed).
    pub async fn connectors_finished(&self) -> bool {
        let state = self.state.lock().await;
        state.connectors.values().all(|c| c.progress.finished.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// The broker the engine runs on.
    pub fn broker(&self) -> &Arc<dyn Broker> {
        &self.broker
    }

    /// Runs one parsed statement of Eddy's dialect. `replay` is set when re-running a command from
    /// the command log.
    pub(crate) async fn execute_parsed(
        &self,
        session: &mut Session,
        stmt: &ParsedStatement,
        replay: Option<&Command>,
    ) -> Result<Output, EngineError> {
        let changes_catalog = matches!(
            stmt.statement,
            Statement::CreateSource(_)
                | Statement::CreateAsSelect(_)
                | Statement::InsertSelect { .. }
                | Statement::Drop { .. }
                | Statement::Terminate(_)
        );
        let result = self.dispatch(session, stmt, replay).await;
        if changes_catalog {
            self.publish_catalog().await;
        }
        result
    }

    async fn dispatch(
        &self,
        session: &mut Session,
        stmt: &ParsedStatement,
        replay: Option<&Command>,
    ) -> Result<Output, EngineError> {
        match &stmt.statement {
            Statement::CreateSource(c) => self.create_source(session, c, &stmt.text, replay).await,
            Statement::CreateAsSelect(c) => self.create_as_select(session, c, &stmt.text, replay).await,
            Statement::InsertSelect { target, target_at, properties, query } => {
                self.insert_select(session, (target, *target_at), properties, query, &stmt.text, replay).await
            }
            Statement::InsertValues { target, columns, values } => {
                self.insert_values(target, columns.as_deref(), values).await
            }
            Statement::Select(select) => self.select(session, select, &stmt.text, stmt.offset).await,
            Statement::SelectValues(_) => self.sql_text(session, &stmt.text).await.map_err(|e| e.shifted(stmt.offset)),
            Statement::Show(kind) => self.show(session, kind).await,
            Statement::Describe { name, extended } => self.describe_source(name, *extended).await,
            Statement::Drop { kind, name, if_exists, delete_topic } => {
                self.drop_source(session, *kind, name, *if_exists, *delete_topic, &stmt.text, replay).await
            }
            Statement::Terminate(id) => self.terminate(session, id.as_deref(), &stmt.text, replay).await,
            Statement::Print { topic, from_beginning, interval, limit } => {
                self.print(topic, *from_beginning, *interval, *limit).await
            }
            Statement::Set { name, value } => pg::set(session, name, Some(value)),
            Statement::Unset { name } => {
                session.properties.remove(name);
                Ok(Output::done("UNSET"))
            }
            Statement::Explain(inner) => self.explain(session, inner, &stmt.text).await,
            Statement::ExplainQuery(id) => self.explain_query(id).await,
        }
    }

    /// Stops every query: flushes output and commits offsets. Called on shutdown.
    pub async fn shutdown(&self) {
        let _ddl = self.ddl.lock().await;
        let (connectors, running) = {
            let mut state = self.state.lock().await;
            (std::mem::take(&mut state.connectors), std::mem::take(&mut state.running))
        };
        for (name, c) in connectors {
            tracing::info!(source = %name, "stopping connector");
            c.stop().await;
        }
        for (id, r) in running {
            tracing::info!(query = %id, "stopping query");
            r.handle.stop().await;
        }
    }
}
