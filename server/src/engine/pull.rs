//! Pull queries: a SELECT without EMIT answers with the source's current rows and ends. A table's
//! rows come from its materialized view (only the keys the WHERE clause fixes, when it fixes them);
//! a stream's from a bounded scan of its topic. A prepared pull query keeps a template and runs
//! executions that only look keys up without planning again.

use std::sync::{Arc, Mutex};

use eddy_catalog::{Catalog, SourceKind};
use eddy_parser::Select;
use eddy_planner::{plan_pull, KeyAccess, PullOptions, PullPlan, PullTemplate};
use eddy_runtime::{evaluate_snapshot, QueryMetrics, Record, Value};
use sqlparser::ast::Expr;

use super::error::EngineError;
use super::error_sqlstate as sqlstate;
use super::prepare::bind_expr;
use super::queries::visible_rows;
use super::{Engine, Output, ResultColumn, Session};
use crate::limits::{get, MAX_PULL_BYTES, MAX_PULL_ROWS};
use crate::session::Transaction;

/// The session's pull-query options (`ksql.query.pull.*` properties).
pub(super) fn pull_options(session: &Session) -> PullOptions {
    PullOptions::from_properties(|name| session.properties.get(name).cloned())
}

/// A prepared pull query's template, with the catalog and options it was planned against; it is
/// planned again when either changes (a DDL statement, a `SET` of a pull-query property). Clones
/// share it.
#[derive(Clone, Default)]
pub struct PullCache(Arc<Mutex<Option<Arc<CachedTemplate>>>>);

struct CachedTemplate {
    catalog: Arc<Catalog>,
    options: PullOptions,
    /// None: the query has no template (it is not a lookup of a table's keys).
    template: Option<PullTemplate>,
}

impl std::fmt::Debug for PullCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PullCache")
    }
}

impl PullCache {
    /// The template of `select` against `catalog` and `options`, planned now unless it is cached.
    fn template(&self, select: &Select, catalog: &Arc<Catalog>, options: PullOptions) -> Arc<CachedTemplate> {
        let mut cached = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = cached.as_ref().filter(|c| Arc::ptr_eq(&c.catalog, catalog) && c.options == options) {
            return c.clone();
        }
        let template = PullTemplate::plan(select, catalog, options);
        let fresh = Arc::new(CachedTemplate { catalog: catalog.clone(), options, template });
        *cached = Some(fresh.clone());
        fresh
    }
}

impl Engine {
    pub(super) async fn pull_query(&self, session: &Session, select: &Select) -> Result<Output, EngineError> {
        let catalog = self.published.borrow().clone();
        let plan = plan_pull(select, &catalog, pull_options(session))?;
        self.run_pull(&plan, &plan.access, select.limit).await
    }

    /// Runs an execution of a prepared pull query (`values`: its parameters as literals) by its
    /// template, when the WHERE clause with the values in it only looks keys up. None: the
    /// execution needs the full path (planning, which also reports any error in ksqlDB's words).
    pub(super) async fn prepared_pull(
        &self,
        session: &mut Session,
        select: &Select,
        cache: &PullCache,
        values: &[Expr],
    ) -> Option<Result<Output, EngineError>> {
        if session.transaction == Transaction::Failed {
            return None;
        }
        let selection = bind_expr(select.selection.as_ref()?, values).ok()?;
        let catalog = self.published.borrow().clone();
        let cached = cache.template(select, &catalog, pull_options(session));
        let template = cached.template.as_ref()?;
        let access = template.access(&selection)?;
        let result = self.run_pull(template.rows(), &access, select.limit).await;
        if result.is_err() && session.transaction == Transaction::Block {
            session.transaction = Transaction::Failed;
        }
        Some(result)
    }

    /// Runs a planned pull query over the rows `access` reads: its rows, at most `limit` of them.
    pub(super) async fn run_pull(
        &self,
        plan: &PullPlan,
        access: &KeyAccess,
        limit: Option<u64>,
    ) -> Result<Output, EngineError> {
        let columns: Vec<ResultColumn> =
            plan.query.columns.iter().map(|c| ResultColumn::new(&c.name, c.ty.clone())).collect();
        let width = columns.len();
        let limit = limit.map(|l| usize::try_from(l).unwrap_or(usize::MAX)).unwrap_or(usize::MAX);
        let records = self.pull_records(plan, access).await?;
        let batches = evaluate_snapshot(&plan.query.dataflow, &records, Arc::new(QueryMetrics::default()))?;
        drop(records);
        let mut rows = Vec::new();
        let mut bytes = 0usize;
        for row in batches.iter().flat_map(|batch| visible_rows(batch, width)).take(limit) {
            bytes += row.iter().map(Value::approx_bytes).sum::<usize>();
            let (most_rows, most_bytes) = (get(&MAX_PULL_ROWS), get(&MAX_PULL_BYTES));
            if rows.len() == most_rows || bytes > most_bytes {
                let what = if bytes > most_bytes { format!("{most_bytes} bytes") } else { format!("{most_rows} rows") };
                return Err(EngineError::new(
                    sqlstate::PROGRAM_LIMIT_EXCEEDED,
                    format!("the pull query's result is larger than {what}"),
                )
                .with_hint(
                    "Add a LIMIT, or a WHERE clause on the key, to read fewer rows \
                     (the limits are eddy.limit.pull.result.rows and eddy.limit.pull.result.bytes).",
                ));
            }
            rows.push(row);
        }
        Ok(Output::Rows { columns, rows })
    }

    /// The records a pull plan reads: a table's (those `access` names) from its view, a stream's
    /// whole topic.
    pub(super) async fn pull_records(&self, plan: &PullPlan, access: &KeyAccess) -> Result<Vec<Record>, EngineError> {
        let source = plan.query.dataflow.input.first_source();
        Ok(match plan.kind {
            SourceKind::Table => self.views.rows(source, access).await?,
            SourceKind::Stream => self.broker.read_all(&source.topic).await?,
        })
    }
}
