//! pgwire handlers: startup (trust), simple and extended query, cancel.

use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use futures::{stream, Sink, SinkExt};
use pgwire::api::auth::noop::NoopStartupHandler;
use pgwire::api::cancel::DefaultCancelHandler;
use pgwire::api::portal::{Format, Portal};
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::results::{
    DescribePortalResponse, DescribeStatementResponse, FieldInfo, QueryResponse, Response, Tag,
};
use pgwire::api::stmt::{QueryParser, StoredStatement};
use pgwire::api::{ClientInfo, ClientPortalStore, ConnectionManager, PgWireServerHandlers, Type};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::data::RowDescription;
use pgwire::messages::response::NoticeResponse;
use pgwire::messages::startup::ParameterStatus;
use pgwire::messages::PgWireBackendMessage;

use super::types::{encode_row, pg_type};
use crate::engine::{Engine, EngineError, Output, ResultColumn, RowChannel, Session};

/// How often an idle push query checks that its client is still connected.
const KEEPALIVE: std::time::Duration = std::time::Duration::from_secs(1);

/// Handles one server's connections.
pub struct WireHandler {
    engine: Arc<Engine>,
    manager: Arc<ConnectionManager>,
    parser: Arc<SqlText>,
}

/// Statements of the extended protocol are kept as text and parsed at execution.
#[derive(Debug, Default)]
pub struct SqlText;

#[async_trait]
impl QueryParser for SqlText {
    type Statement = String;

    async fn parse_sql<C>(&self, _client: &C, sql: &str, _types: &[Option<Type>]) -> PgWireResult<Option<String>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        Ok(Some(sql.to_string()))
    }

    fn get_parameter_types(&self, stmt: &String) -> PgWireResult<Vec<Type>> {
        Ok(vec![Type::TEXT; parameter_count(stmt)])
    }

    fn get_result_schema(&self, _stmt: &String, _format: Option<&Format>) -> PgWireResult<Vec<FieldInfo>> {
        Ok(Vec::new())
    }
}

/// The highest `$n` in the text.
fn parameter_count(sql: &str) -> usize {
    let bytes = sql.as_bytes();
    let mut max = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'$' {
            let start = i + 1;
            let mut j = start;
            while j < bytes.len() && bytes[j].is_ascii_digit() {
                j += 1;
            }
            if let Ok(n) = sql[start..j].parse::<usize>() {
                max = max.max(n);
            }
            i = j;
        } else {
            i += 1;
        }
    }
    max
}

/// Substitutes `$n` with literal values (numbers bare, everything else quoted).
fn bind_parameters(sql: &str, params: &[Option<String>]) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.char_indices().peekable();
    let mut in_string = false;
    while let Some((i, c)) = chars.next() {
        if c == '\'' {
            in_string = !in_string;
        }
        if c == '$' && !in_string {
            let digits: String = sql[i + 1..].chars().take_while(|d| d.is_ascii_digit()).collect();
            if let Ok(n) = digits.parse::<usize>() {
                for _ in 0..digits.len() {
                    chars.next();
                }
                match params.get(n.wrapping_sub(1)).cloned().flatten() {
                    None => out.push_str("NULL"),
                    Some(v) if v.parse::<f64>().is_ok() => out.push_str(&v),
                    Some(v) => {
                        out.push('\'');
                        out.push_str(&v.replace('\'', "''"));
                        out.push('\'');
                    }
                }
                continue;
            }
        }
        out.push(c);
    }
    out
}

fn error_info(e: &EngineError) -> ErrorInfo {
    let mut info = ErrorInfo::new("ERROR".to_string(), e.sqlstate.to_string(), e.message.clone());
    info.position = e.position.map(|p| p.to_string());
    info
}

fn user_error(e: &EngineError) -> PgWireError {
    PgWireError::UserError(Box::new(error_info(e)))
}

fn fields(columns: &[ResultColumn], format: &Format) -> Arc<Vec<FieldInfo>> {
    Arc::new(
        columns
            .iter()
            .enumerate()
            .map(|(i, c)| FieldInfo::new(c.name.clone(), None, None, pg_type(&c.ty), format.format_for(i)))
            .collect(),
    )
}

/// The connection's session, kept in its extensions.
fn session_of<C: ClientInfo>(client: &C) -> Arc<Mutex<Session>> {
    client.session_extensions().get_or_insert_with(|| Mutex::new(Session::default()))
}

impl WireHandler {
    /// A handler over an engine.
    pub fn new(engine: Arc<Engine>, manager: Arc<ConnectionManager>) -> Self {
        Self { engine, manager, parser: Arc::new(SqlText) }
    }

    async fn run<C: ClientInfo>(&self, client: &C, sql: &str) -> Vec<Result<Output, EngineError>> {
        let handle = session_of(client);
        let mut session = handle.lock().map(|s| s.clone()).unwrap_or_default();
        let results = self.engine.execute(&mut session, sql).await;
        if let Ok(mut s) = handle.lock() {
            *s = session;
        }
        results
    }
}

/// Streams a push query's rows, flushing each one so it reaches the client at once.
/// Returns the number of rows sent; ends at LIMIT, at the end of the stream, or when the client goes away.
async fn stream_rows<C>(client: &mut C, channel: RowChannel, format: &Format, describe: bool) -> PgWireResult<usize>
where
    C: Sink<PgWireBackendMessage> + Unpin + Send,
    C::Error: Debug,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    let RowChannel { columns, mut rows, limit } = channel;
    let schema = fields(&columns, format);
    let types: Vec<_> = columns.iter().map(|c| c.ty.clone()).collect();
    if describe {
        let desc = RowDescription::new(schema.iter().map(Into::into).collect());
        client.send(PgWireBackendMessage::RowDescription(desc)).await?;
    }
    let mut sent = 0usize;
    if limit == Some(0) {
        return Ok(0);
    }
    // While no row flows, a harmless ParameterStatus every second finds out whether the client is
    // still there: writing to a closed connection fails, which ends the query and frees its consumer.
    let mut keepalive = tokio::time::interval(KEEPALIVE);
    keepalive.tick().await;
    loop {
        let row = tokio::select! {
            row = rows.recv() => row,
            _ = keepalive.tick() => {
                let status = ParameterStatus::new("integer_datetimes".into(), "on".into());
                client.send(PgWireBackendMessage::ParameterStatus(status)).await?;
                continue;
            }
        };
        let Some(row) = row else { break };
        let row = row.map_err(|e| user_error(&e))?;
        client.send(PgWireBackendMessage::DataRow(encode_row(&schema, &types, &row)?)).await?;
        keepalive.reset();
        sent += 1;
        if limit.is_some_and(|l| sent as u64 >= l) {
            break;
        }
    }
    Ok(sent)
}

#[async_trait]
impl NoopStartupHandler for WireHandler {
    fn connection_manager(&self) -> Option<Arc<ConnectionManager>> {
        Some(self.manager.clone())
    }
}

#[async_trait]
impl SimpleQueryHandler for WireHandler {
    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: pgwire::api::store::PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        // Responses are sent here, in order, rather than returned: a push query streams for as long
        // as it runs and must not wait behind (or hold back) the statements before it.
        for result in self.run(client, query).await {
            match result {
                Err(e) => return Err(user_error(&e)),
                Ok(Output::Done { tag, message }) => {
                    if let Some(m) = message {
                        let notice = ErrorInfo::new("NOTICE".into(), "00000".into(), m);
                        client.feed(PgWireBackendMessage::NoticeResponse(NoticeResponse::from(notice))).await?;
                    }
                    pgwire::api::query::send_execution_response(client, Tag::new(&tag)).await?;
                }
                Ok(Output::Rows { columns, rows }) => {
                    let schema = fields(&columns, &Format::UnifiedText);
                    let types: Vec<_> = columns.iter().map(|c| c.ty.clone()).collect();
                    let encoded: Vec<_> = rows.iter().map(|r| encode_row(&schema, &types, r)).collect();
                    let response = QueryResponse::new(schema, stream::iter(encoded));
                    pgwire::api::query::send_query_response(client, response, true).await?;
                }
                Ok(Output::Stream(channel)) => {
                    let sent = stream_rows(client, channel, &Format::UnifiedText, true).await?;
                    pgwire::api::query::send_execution_response(client, Tag::new("SELECT").with_rows(sent)).await?;
                }
            }
        }
        Ok(Vec::new())
    }
}

#[async_trait]
impl ExtendedQueryHandler for WireHandler {
    type Statement = String;
    type QueryParser = SqlText;

    fn query_parser(&self) -> Arc<Self::QueryParser> {
        self.parser.clone()
    }

    async fn do_query<C>(
        &self,
        client: &mut C,
        portal: &Portal<Self::Statement>,
        _max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: pgwire::api::store::PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let params: Vec<Option<String>> =
            (0..portal.parameter_len()).map(|i| portal.parameter::<String>(i, &Type::TEXT).ok().flatten()).collect();
        let sql = bind_parameters(&portal.statement.statement, &params);
        let mut results = self.run(client, &sql).await;
        if results.len() > 1 {
            return Err(user_error(&EngineError::new(
                crate::engine::error_sqlstate::SYNTAX_ERROR,
                "cannot insert multiple commands into a prepared statement",
            )));
        }
        let Some(result) = results.pop() else { return Ok(Response::EmptyQuery) };
        match result.map_err(|e| user_error(&e))? {
            Output::Done { tag, .. } => Ok(Response::Execution(Tag::new(&tag))),
            Output::Rows { columns, rows } => {
                let schema = fields(&columns, &portal.result_column_format);
                let types: Vec<_> = columns.iter().map(|c| c.ty.clone()).collect();
                let encoded: Vec<_> = rows.iter().map(|r| encode_row(&schema, &types, r)).collect();
                Ok(Response::Query(QueryResponse::new(schema, stream::iter(encoded))))
            }
            Output::Stream(channel) => {
                let sent = stream_rows(client, channel, &portal.result_column_format, false).await?;
                Ok(Response::Execution(Tag::new("SELECT").with_rows(sent)))
            }
        }
    }

    async fn do_describe_statement<C>(
        &self,
        client: &mut C,
        stmt: &StoredStatement<Self::Statement>,
    ) -> PgWireResult<DescribeStatementResponse>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        let params = vec![Type::TEXT; parameter_count(&stmt.statement)];
        let columns = self.describe_columns(client, &stmt.statement, params.len()).await?;
        Ok(match columns {
            Some(c) => DescribeStatementResponse::new(params, fields(&c, &Format::UnifiedBinary).to_vec()),
            None => DescribeStatementResponse::new(params, Vec::new()),
        })
    }

    async fn do_describe_portal<C>(
        &self,
        client: &mut C,
        portal: &Portal<Self::Statement>,
    ) -> PgWireResult<DescribePortalResponse>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        let columns = self
            .describe_columns(client, &portal.statement.statement, parameter_count(&portal.statement.statement))
            .await?;
        Ok(match columns {
            Some(c) => DescribePortalResponse::new(fields(&c, &portal.result_column_format).to_vec()),
            None => DescribePortalResponse::new(Vec::new()),
        })
    }
}

impl WireHandler {
    async fn describe_columns<C: ClientInfo>(
        &self,
        client: &C,
        sql: &str,
        params: usize,
    ) -> PgWireResult<Option<Vec<ResultColumn>>> {
        // Parameters are unknown at Describe: describe with NULLs in their place.
        let sql = bind_parameters(sql, &vec![None; params]);
        let session = session_of(client).lock().map(|s| s.clone()).unwrap_or_default();
        self.engine.describe(&session, &sql).await.map_err(|e| user_error(&e))
    }
}

/// Hands pgwire the handlers of one server.
pub struct HandlerFactory {
    pub handler: Arc<WireHandler>,
    pub cancel: Arc<DefaultCancelHandler>,
}

impl HandlerFactory {
    /// Handlers over an engine, with Postgres cancel requests wired to running statements.
    pub fn new(engine: Arc<Engine>) -> Self {
        let manager = Arc::new(ConnectionManager::new());
        Self {
            handler: Arc::new(WireHandler::new(engine, manager.clone())),
            cancel: Arc::new(DefaultCancelHandler::new(manager)),
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
        self.handler.clone()
    }

    fn cancel_handler(&self) -> Arc<impl pgwire::api::cancel::CancelHandler> {
        self.cancel.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_parameters_outside_strings() {
        let sql = "SELECT * FROM s WHERE a = $1 AND b = '$2' AND c = $2";
        assert_eq!(parameter_count(sql), 2);
        let bound = bind_parameters(sql, &[Some("5".into()), Some("it's".into())]);
        assert_eq!(bound, "SELECT * FROM s WHERE a = 5 AND b = '$2' AND c = 'it''s'");
    }
}
