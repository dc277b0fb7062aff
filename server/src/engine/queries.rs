//! Push queries (pull queries in `pull`), PRINT and EXPLAIN, and the result columns of any statement (for Describe).

use std::sync::Arc;

use arrow::record_batch::RecordBatch;
use base64::Engine as _;
use eddy_catalog::SourceKind;
use eddy_parser::{EmitMode, Select, Statement};
use eddy_planner::{plan_persistent, plan_pull, plan_push, PlanErrorKind, SinkRequest};
use eddy_runtime::{array_value, QueryMetrics, Record, Value};
use tokio::sync::mpsc;

use super::error::{sqlstate, EngineError};
use super::{show, Engine, Output, ResultColumn, RowChannel, Session, State};

impl Engine {
    pub(super) async fn push_query(
        &self,
        session: &Session,
        select: &Select,
        text: &str,
    ) -> Result<Output, EngineError> {
        if select.emit != Some(EmitMode::Changes) {
            return self.pull_query(session, select).await;
        }
        if !select.partition_by.is_empty() {
            return Err(EngineError::new(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "PARTITION BY is only supported in persistent queries (CREATE STREAM AS SELECT).",
            ));
        }
        let planned = {
            let state = self.state.lock().await;
            plan_push(select, &state.catalog)?
        };
        let columns: Vec<ResultColumn> =
            planned.columns.iter().map(|c| ResultColumn::new(&c.name, c.ty.clone())).collect();
        let width = columns.len();
        // Counted before the consumer starts, so that a burst of push queries cannot pass the limit.
        let guard = self.pushes.register(text, &session.push_queries)?;
        let options = super::properties::query_options(&session.properties)?;
        let batches = self.broker.start_push(planned.dataflow, options, Arc::new(QueryMetrics::default())).await?;
        let rx = forward(batches, move |batch| {
            // Lives as long as the query: dropping it unregisters the query.
            let _ = &guard;
            visible_rows(&batch, width)
        });
        Ok(Output::Stream(RowChannel { columns, rows: rx, limit: select.limit }))
    }

    pub(super) async fn print(
        &self,
        topic: &str,
        from_beginning: bool,
        interval: Option<u64>,
        limit: Option<u64>,
    ) -> Result<Output, EngineError> {
        if self.broker.partitions(topic).await?.is_none() {
            return Err(EngineError::new(sqlstate::UNDEFINED_OBJECT, format!("Could not find topic '{topic}', or the KSQL user does not have permissions to list the topic. Topic names are case-sensitive.")));
        }
        let records = self.broker.print(topic, from_beginning).await?;
        let every = interval.unwrap_or(1).max(1);
        let mut seen = 0u64;
        let rx = forward(records, move |record| {
            seen += 1;
            if (seen - 1).is_multiple_of(every) {
                vec![vec![Value::String(print_line(&record))]]
            } else {
                Vec::new()
            }
        });
        Ok(Output::Stream(RowChannel { columns: vec![ResultColumn::text("PRINT")], rows: rx, limit }))
    }

    pub(super) async fn explain(
        &self,
        session: &mut Session,
        inner: &Statement,
        text: &str,
    ) -> Result<Output, EngineError> {
        let state = self.state.lock().await;
        let lines = match inner {
            Statement::Select(select) if select.emit.is_none() => {
                // A pull query: how its rows are reached, then the dataflow that evaluates them.
                // What the SQL engine answers instead, it explains (DataFusion's plans).
                let plan = match plan_pull(select, &state.catalog, super::pull::pull_options(session)) {
                    Ok(plan) => plan,
                    Err(e) if matches!(e.kind, PlanErrorKind::PullUnsupported | PlanErrorKind::UnknownSource) => {
                        drop(state);
                        return self.sql_text(session, text).await;
                    }
                    Err(e) => return Err(e.into()),
                };
                let source = plan.query.dataflow.input.first_source();
                let mut lines = vec![match plan.kind {
                    SourceKind::Table => format!(
                        "Pull query: {} on the materialized view of TABLE {} (topic {})",
                        plan.access, source.name, source.topic
                    ),
                    SourceKind::Stream => {
                        format!("Pull query: bounded scan of STREAM {} (topic {})", source.name, source.topic)
                    }
                }];
                lines.extend(plan.query.dataflow.explain());
                lines
            }
            Statement::Select(select) => plan_push(select, &state.catalog)?.dataflow.explain(),
            Statement::CreateAsSelect(c) => {
                plan_persistent(&c.query, &state.catalog, SinkRequest::create(c, &session.properties, ""))?
                    .query
                    .dataflow
                    .explain()
            }
            _ => {
                return Err(EngineError::new(
                    sqlstate::FEATURE_NOT_SUPPORTED,
                    "EXPLAIN supports a SELECT from a stream or table and CREATE ... AS SELECT only",
                ))
            }
        };
        Ok(Output::text_table(&["QUERY PLAN"], lines.into_iter().map(|l| vec![l]).collect()))
    }

    pub(super) async fn explain_query(&self, id: &str) -> Result<Output, EngineError> {
        let state = self.state.lock().await;
        let Some((id, running)) = state.running.iter().find(|(q, _)| q.eq_ignore_ascii_case(id)) else {
            return Err(EngineError::new(
                sqlstate::UNDEFINED_OBJECT,
                format!("Query with id:{id} does not exist, use SHOW QUERIES to view the full set of running queries."),
            ));
        };
        let statement = state.catalog.query(id).map(|q| q.statement.clone()).unwrap_or_default();
        let mut lines = vec![format!("Query {id}: {statement}")];
        lines.extend(running.plan.iter().cloned());
        Ok(Output::text_table(&["QUERY PLAN"], lines.into_iter().map(|l| vec![l]).collect()))
    }

    /// The columns a statement returns, if it returns rows.
    pub(super) fn result_columns(
        &self,
        state: &State,
        session: &Session,
        stmt: &Statement,
    ) -> Result<Option<Vec<ResultColumn>>, EngineError> {
        Ok(match stmt {
            Statement::Select(select) => {
                let planned = match select.emit {
                    Some(EmitMode::Changes) => plan_push(select, &state.catalog)?,
                    _ => plan_pull(select, &state.catalog, super::pull::pull_options(session))?.query,
                };
                Some(planned.columns.iter().map(|c| ResultColumn::new(&c.name, c.ty.clone())).collect())
            }
            Statement::Show(kind) => Some(show::show_columns(kind)),
            Statement::Describe { .. } => Some(vec![ResultColumn::text("Field"), ResultColumn::text("Type")]),
            Statement::Explain(_) | Statement::ExplainQuery(_) => Some(vec![ResultColumn::text("QUERY PLAN")]),
            Statement::Print { .. } => Some(vec![ResultColumn::text("PRINT")]),
            _ => None,
        })
    }
}

/// The rows of an output batch as the client sees them: column 0 is ROWTIME and the last two are hidden
/// (used by sinks only), so the `width` visible columns start at 1.
pub(super) fn visible_rows(batch: &RecordBatch, width: usize) -> Vec<Vec<Value>> {
    (0..batch.num_rows())
        .map(|i| batch.columns()[1..=width].iter().map(|c| array_value(c.as_ref(), i)).collect())
        .collect()
}

/// Turns a runtime stream into rows for the session, until either side goes away.
fn forward<T: Send + 'static>(
    mut input: mpsc::Receiver<eddy_runtime::Result<T>>,
    mut rows_of: impl FnMut(T) -> Vec<Vec<Value>> + Send + 'static,
) -> mpsc::Receiver<Result<Vec<Value>, EngineError>> {
    let (tx, rx) = mpsc::channel(256);
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = tx.closed() => break,
                item = input.recv() => match item {
                    None => break,
                    Some(Err(e)) => {
                        let _ = tx.send(Err(EngineError::from(e))).await;
                        break;
                    }
                    Some(Ok(item)) => {
                        for row in rows_of(item) {
                            if tx.send(Ok(row)).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            }
        }
    });
    rx
}

/// One PRINT line, as ksqlDB formats it.
fn print_line(r: &Record) -> String {
    let ts = chrono::DateTime::from_timestamp_millis(r.timestamp)
        .map(|t| t.format("%Y/%m/%d %H:%M:%S%.3f Z").to_string())
        .unwrap_or_else(|| r.timestamp.to_string());
    let show = |b: &Option<Vec<u8>>| match b {
        None => "<null>".to_string(),
        Some(bytes) => match std::str::from_utf8(bytes) {
            Ok(s) if s.chars().all(|c| !c.is_control() || c == '\n' || c == '\t') => s.to_string(),
            _ => match bytes.len() {
                4 => i32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]).to_string(),
                8 => i64::from_be_bytes(bytes[..8].try_into().unwrap_or([0; 8])).to_string(),
                _ => base64::engine::general_purpose::STANDARD.encode(bytes),
            },
        },
    };
    format!("rowtime: {ts}, key: {}, value: {}, partition: {}", show(&r.key), show(&r.value), r.partition)
}
