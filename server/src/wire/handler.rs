//! pgwire handlers: the simple query protocol (statements run and answered one by one), the
//! extended protocol (prepared statements with typed parameters, portals, Describe), COPY data,
//! startup and cancel.

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use futures::future::{select, Either};
use futures::{Sink, SinkExt};
use pgwire::api::cancel::DefaultCancelHandler;
use pgwire::api::copy::CopyHandler;
use pgwire::api::portal::{Format, Portal};
use pgwire::api::query::{send_ready_for_query, ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::results::{DescribePortalResponse, DescribeStatementResponse, FieldInfo, Response, Tag};
use pgwire::api::stmt::{QueryParser, StoredStatement};
use pgwire::api::store::PortalStore;
use pgwire::api::{
    ClientInfo, ClientPortalStore, ConnectionHandle, ConnectionManager, PgWireConnectionState, PgWireServerHandlers,
    Type,
};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::copy::{CopyData, CopyDone, CopyFail};
use pgwire::messages::extendedquery::Execute;
use pgwire::messages::response::{CommandComplete, EmptyQueryResponse};
use pgwire::messages::simplequery::Query;
use pgwire::messages::PgWireBackendMessage;

use super::auth::{AuthMethod, Users};
use super::connection::{
    add_copy_data, begin_copy_in, end_copy_in, format_options, put_session, take_session, transaction_status,
    user_error,
};
use super::encode::{column_fields, schema_fields};
use super::limits::{Activity, Busy, ConnectionSlots};
use super::respond::{response, send_simple, stream_rows, Next};
use super::startup::StartupHandler;
use crate::engine::{Columns, Engine, EngineError, Output, Parameter, Prepared};
use crate::session::Transaction;

/// Handles one server's connections.
#[derive(Clone)]
pub struct WireHandler {
    engine: Arc<Engine>,
    parser: Arc<StatementParser>,
    /// The connection's activity, for its idle timeout (per-connection handlers only).
    activity: Option<Arc<Activity>>,
}

/// Parses and plans statements of the extended protocol.
pub struct StatementParser {
    engine: Arc<Engine>,
}

#[async_trait]
impl QueryParser for StatementParser {
    type Statement = Prepared;

    async fn parse_sql<C>(&self, client: &C, sql: &str, types: &[Option<Type>]) -> PgWireResult<Option<Prepared>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        let mut session = take_session(client);
        let prepared = self.engine.prepare(&mut session, sql, types).await;
        put_session(client, session);
        prepared.map(Some).map_err(|e| user_error(&e))
    }

    fn get_parameter_types(&self, stmt: &Prepared) -> PgWireResult<Vec<Type>> {
        Ok(stmt.parameter_types.clone())
    }

    fn get_result_schema(&self, _stmt: &Prepared, _format: Option<&Format>) -> PgWireResult<Vec<FieldInfo>> {
        Ok(Vec::new())
    }
}

/// A query's cancellation, when the client asks for it (a CancelRequest on another connection).
async fn cancel_receiver<C: ClientInfo>(client: &C) -> Option<impl std::future::Future + Unpin> {
    let handle = client.session_extensions().get::<Arc<ConnectionHandle>>()?;
    Some(handle.start_query().await)
}

fn canceled() -> PgWireError {
    user_error(&EngineError::new(
        crate::engine::error_sqlstate::QUERY_CANCELED,
        "canceling statement due to user request",
    ))
}

impl WireHandler {
    /// A handler over an engine.
    pub fn new(engine: Arc<Engine>) -> Self {
        Self { parser: Arc::new(StatementParser { engine: engine.clone() }), engine, activity: None }
    }

    /// Marks the connection busy while the guard lives.
    fn busy(&self) -> Option<Busy> {
        self.activity.as_ref().map(|a| a.busy())
    }

    /// Tells the idle watchdog the session's state after a statement.
    fn after_statement(&self, session: &crate::session::Session) {
        let Some(activity) = &self.activity else { return };
        let ms = |name: &str| {
            session
                .settings
                .read()
                .ok()
                .and_then(|s| s.get(name).ok())
                .and_then(|v| crate::session::settings::duration_ms(&v))
                .unwrap_or(0)
        };
        activity.after_statement(
            session.transaction != Transaction::Idle,
            ms("idle_session_timeout"),
            ms("idle_in_transaction_session_timeout"),
        );
    }

    /// Runs the statements of a simple Query message one by one, answering each before the next
    /// runs; stops at the first error.
    async fn run_simple<C>(&self, client: &mut C, sql: &str) -> PgWireResult<Next>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let weight = crate::limits::check_text(sql).map_err(|e| user_error(&e))?;
        // A heavy text is parsed, run and dropped (its syntax tree too) off the worker's turn.
        crate::limits::heavy_async(weight, self.run_statements(client, sql)).await
    }

    async fn run_statements<C>(&self, client: &mut C, sql: &str) -> PgWireResult<Next>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let statements = eddy_parser::parse_each(sql).map_err(|e| user_error(&EngineError::syntax(e)))?;
        if statements.is_empty() {
            client.feed(PgWireBackendMessage::EmptyQueryResponse(EmptyQueryResponse::new())).await?;
            return Ok(Next::Continue);
        }
        for (i, statement) in statements.iter().enumerate() {
            // A message of many statements lets the worker's other sessions run between them.
            if i > 0 {
                tokio::task::yield_now().await;
            }
            let mut session = take_session(client);
            let output = self.engine.execute_statement(&mut session, statement).await.map_err(|e| e.locate(sql));
            client.set_transaction_status(transaction_status(&session));
            let sent = match output {
                Err(e) => {
                    put_session(client, session);
                    return Err(user_error(&e));
                }
                Ok(output) => send_simple(client, &session, output).await,
            };
            put_session(client, session);
            if let Next::CopyIn(copy) = sent? {
                begin_copy_in(client, copy.clone());
                return Ok(Next::CopyIn(copy));
            }
        }
        Ok(Next::Continue)
    }
}

#[async_trait]
impl SimpleQueryHandler for WireHandler {
    async fn on_query<C>(&self, client: &mut C, query: Query) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if !matches!(client.state(), PgWireConnectionState::ReadyForQuery) {
            return Err(PgWireError::NotReadyForQuery);
        }
        let _busy = self.busy();
        client.set_state(PgWireConnectionState::QueryInProgress);
        let result = match cancel_receiver(client).await {
            Some(cancel) => match select(Box::pin(self.run_simple(client, &query.query)), cancel).await {
                Either::Left((result, _)) => result,
                Either::Right(_) => Err(canceled()),
            },
            None => self.run_simple(client, &query.query).await,
        };
        // The session decides the transaction status, whatever the statements did.
        let session = take_session(client);
        let status = transaction_status(&session);
        self.after_statement(&session);
        put_session(client, session);
        client.set_transaction_status(status);
        match result {
            Ok(Next::CopyIn(_)) => {
                client.set_state(PgWireConnectionState::CopyInProgress(false));
                client.flush().await?;
                Ok(())
            }
            Ok(Next::Continue) => {
                client.set_state(PgWireConnectionState::ReadyForQuery);
                send_ready_for_query(client, status).await
            }
            Err(e) => Err(e),
        }
    }

    async fn do_query<C>(&self, _client: &mut C, _query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        // `on_query` runs and answers the statements itself.
        Ok(Vec::new())
    }
}

/// The parameters of a portal, with the types they are read as.
fn parameters(portal: &Portal<Prepared>) -> Vec<Parameter> {
    let types = &portal.statement.statement.parameter_types;
    let declared = &portal.statement.parameter_types;
    portal
        .parameters
        .iter()
        .enumerate()
        .map(|(i, bytes)| {
            let ty = declared.get(i).cloned().flatten().or_else(|| types.get(i).cloned()).unwrap_or(Type::TEXT);
            Parameter {
                bytes: bytes.as_ref().map(|b| b.to_vec()),
                binary: portal.parameter_format.format_for(i) == pgwire::api::results::FieldFormat::Binary,
                oid: ty.oid(),
            }
        })
        .collect()
}

#[async_trait]
impl ExtendedQueryHandler for WireHandler {
    type Statement = Prepared;
    type QueryParser = StatementParser;

    fn query_parser(&self) -> Arc<Self::QueryParser> {
        self.parser.clone()
    }

    async fn on_execute<C>(&self, client: &mut C, message: Execute) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let result = self._on_execute(client, message).await;
        // ReadyForQuery (at Sync) reports the session's transaction status.
        let session = take_session(client);
        client.set_transaction_status(transaction_status(&session));
        put_session(client, session);
        result
    }

    async fn do_query<C>(&self, client: &mut C, portal: &Portal<Prepared>, max_rows: usize) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let busy = self.busy();
        let prepared = &portal.statement.statement;
        let mut session = take_session(client);
        let before = session.transaction;
        let output = self.engine.execute_prepared(&mut session, prepared, &parameters(portal)).await;
        let after = session.transaction;
        let output = match output {
            Ok(output) => output,
            Err(e) => {
                put_session(client, session);
                return Err(user_error(&e.locate(&prepared.text)));
            }
        };
        let result = match output {
            Output::Done { tag, .. } if before == Transaction::Idle && after != Transaction::Idle => {
                Ok(Response::TransactionStart(Tag::new(&tag)))
            }
            Output::Done { tag, .. } if before != Transaction::Idle && after == Transaction::Idle => {
                Ok(Response::TransactionEnd(Tag::new(&tag)))
            }
            Output::Done { tag, .. } if tag.is_empty() => Ok(Response::EmptyQuery),
            // Without a row limit, a push query's rows are sent (and flushed) as they happen.
            Output::Stream(channel) if max_rows == 0 => {
                let fields = column_fields(&channel.columns, &portal.result_column_format, &format_options(&session));
                match stream_rows(client, channel, &fields, false).await {
                    Ok(sent) => Ok(Response::Execution(Tag::new("SELECT").with_rows(sent))),
                    Err(e) => Err(e),
                }
            }
            Output::CopyIn(copy) => {
                begin_copy_in(client, copy.clone());
                response(Output::CopyIn(copy), &portal.result_column_format, &session)
            }
            Output::CursorDeclared(name) => {
                // A cursor is a portal too: clients describe it (and may execute it) by name.
                let mut cursor = Portal::default();
                cursor.name = name.clone();
                cursor.statement =
                    Arc::new(StoredStatement::new(name.clone(), Prepared::cursor_portal(&name), Vec::new()));
                client.portal_store().put_portal(Arc::new(cursor));
                Ok(Response::Execution(Tag::new("DECLARE CURSOR")))
            }
            other => response(other, &portal.result_column_format, &session),
        };
        self.after_statement(&session);
        put_session(client, session);
        // Rows pgwire streams after this returns keep the connection busy until they end.
        match (result, busy) {
            (Ok(Response::Query(mut query)), Some(busy)) => {
                let rows = std::mem::replace(&mut query.data_rows, Box::pin(futures::stream::empty()));
                query.data_rows = Box::pin(futures::StreamExt::map(rows, move |row| {
                    let _ = &busy;
                    row
                }));
                Ok(Response::Query(query))
            }
            (result, _) => result,
        }
    }

    async fn do_describe_statement<C>(
        &self,
        client: &mut C,
        stmt: &StoredStatement<Prepared>,
    ) -> PgWireResult<DescribeStatementResponse>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let params: Vec<Type> = stmt
            .statement
            .parameter_types
            .iter()
            .enumerate()
            .map(|(i, t)| stmt.parameter_types.get(i).cloned().flatten().unwrap_or_else(|| t.clone()))
            .collect();
        let fields = self.describe(client, &stmt.statement, &Format::UnifiedBinary).await?;
        Ok(DescribeStatementResponse::new(params, fields))
    }

    async fn do_describe_portal<C>(
        &self,
        client: &mut C,
        portal: &Portal<Prepared>,
    ) -> PgWireResult<DescribePortalResponse>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let fields = self.describe(client, &portal.statement.statement, &portal.result_column_format).await?;
        Ok(DescribePortalResponse::new(fields))
    }
}

impl WireHandler {
    async fn describe<C: ClientInfo>(
        &self,
        client: &C,
        prepared: &Prepared,
        format: &Format,
    ) -> PgWireResult<Vec<FieldInfo>> {
        let mut session = take_session(client);
        let columns = self.engine.describe_prepared(&mut session, prepared).await;
        let options = format_options(&session);
        put_session(client, session);
        Ok(match columns.map_err(|e| user_error(&e))? {
            None => Vec::new(),
            Some(Columns::Eddy(columns)) => column_fields(&columns, format, &options).to_vec(),
            Some(Columns::Arrow(schema)) => schema_fields(&schema, format, &options).to_vec(),
        })
    }
}

#[async_trait]
impl CopyHandler for WireHandler {
    async fn on_copy_data<C>(&self, client: &mut C, copy_data: CopyData) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        add_copy_data(client, &copy_data.data).map_err(|e| user_error(&e))
    }

    async fn on_copy_done<C>(&self, client: &mut C, _done: CopyDone) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let Some((copy, data)) = end_copy_in(client) else {
            return Err(user_error(&EngineError::new("08P01", "COPY done without a COPY in progress")));
        };
        let output = self.engine.copy_from(&copy, &data).await.map_err(|e| user_error(&e))?;
        let tag = match output {
            Output::Done { tag, .. } => tag,
            _ => "COPY 0".into(),
        };
        client.send(PgWireBackendMessage::CommandComplete(CommandComplete::from(Tag::new(&tag)))).await?;
        Ok(())
    }

    async fn on_copy_fail<C>(&self, client: &mut C, fail: CopyFail) -> PgWireError
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let _ = end_copy_in(client);
        user_error(&EngineError::new(
            crate::engine::error_sqlstate::QUERY_CANCELED,
            format!("COPY from stdin failed: {}", fail.message),
        ))
    }
}

/// Hands pgwire the handlers of one server (or of one connection, with its activity tracked).
pub struct HandlerFactory {
    pub handler: Arc<WireHandler>,
    pub startup: Arc<StartupHandler>,
    pub cancel: Arc<DefaultCancelHandler>,
}

impl HandlerFactory {
    /// Handlers over an engine, trusting every client, with Postgres cancel requests wired to
    /// running statements.
    pub fn new(engine: Arc<Engine>) -> Self {
        Self::with_auth(engine, AuthMethod::Trust, Arc::default(), Vec::new(), Arc::new(ConnectionSlots::new(0)))
    }

    /// Handlers authenticating clients by `method` against `users`, sessions starting with the
    /// settings `defaults` (the server's configured values) unless the client sets them, at most
    /// as many at once as `slots` allows.
    pub fn with_auth(
        engine: Arc<Engine>,
        method: AuthMethod,
        users: Arc<Users>,
        defaults: Vec<(String, String)>,
        slots: Arc<ConnectionSlots>,
    ) -> Self {
        let manager = Arc::new(ConnectionManager::new());
        Self {
            handler: Arc::new(WireHandler::new(engine)),
            startup: Arc::new(StartupHandler::new(manager.clone(), method, users, defaults, slots)),
            cancel: Arc::new(DefaultCancelHandler::new(manager)),
        }
    }

    /// The handlers of one connection, which report what it does to `activity`.
    pub fn for_connection(&self, activity: Arc<Activity>) -> Self {
        Self {
            handler: Arc::new(WireHandler { activity: Some(activity), ..(*self.handler).clone() }),
            startup: self.startup.clone(),
            cancel: self.cancel.clone(),
        }
    }
}

impl PgWireServerHandlers for HandlerFactory {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        self.handler.clone()
    }

    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        self.handler.clone()
    }

    fn startup_handler(&self) -> Arc<impl pgwire::api::auth::StartupHandler> {
        self.startup.clone()
    }

    fn copy_handler(&self) -> Arc<impl CopyHandler> {
        self.handler.clone()
    }

    fn cancel_handler(&self) -> Arc<impl pgwire::api::cancel::CancelHandler> {
        self.cancel.clone()
    }
}
