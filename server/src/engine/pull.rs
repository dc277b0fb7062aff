//! Pull queries: a SELECT without EMIT answers with the source's current rows and ends. A table's
//! rows come from its materialized view (only the keys the WHERE clause fixes, when it fixes them);
//! a stream's from a bounded scan of its topic.

use std::sync::Arc;

use eddy_catalog::SourceKind;
use eddy_parser::Select;
use eddy_planner::{plan_pull, PullOptions, PullPlan};
use eddy_runtime::{evaluate_snapshot, QueryMetrics, Record};

use super::error::EngineError;
use super::queries::visible_rows;
use super::{Engine, Output, ResultColumn, Session};

/// The session's pull-query options (`ksql.query.pull.*` properties).
pub(super) fn pull_options(session: &Session) -> PullOptions {
    PullOptions::from_properties(|name| session.properties.get(name).cloned())
}

impl Engine {
    pub(super) async fn pull_query(&self, session: &Session, select: &Select) -> Result<Output, EngineError> {
        let catalog = self.published.borrow().clone();
        let plan = plan_pull(select, &catalog, pull_options(session))?;
        self.run_pull(&plan, select.limit).await
    }

    /// Runs a planned pull query: its rows, at most `limit` of them.
    pub(super) async fn run_pull(&self, plan: &PullPlan, limit: Option<u64>) -> Result<Output, EngineError> {
        let columns: Vec<ResultColumn> =
            plan.query.columns.iter().map(|c| ResultColumn::new(&c.name, c.ty.clone())).collect();
        let width = columns.len();
        let limit = limit.map(|l| usize::try_from(l).unwrap_or(usize::MAX)).unwrap_or(usize::MAX);
        let records = self.pull_records(plan).await?;
        let batches = evaluate_snapshot(&plan.query.dataflow, &records, Arc::new(QueryMetrics::default()))?;
        let rows = batches.iter().flat_map(|batch| visible_rows(batch, width)).take(limit).collect();
        Ok(Output::Rows { columns, rows })
    }

    /// The records a pull plan reads: a table's from its view, a stream's whole topic.
    pub(super) async fn pull_records(&self, plan: &PullPlan) -> Result<Vec<Record>, EngineError> {
        let source = plan.query.dataflow.input.first_source();
        Ok(match plan.kind {
            SourceKind::Table => self.views.rows(source, &plan.access).await?,
            SourceKind::Stream => self.broker.read_all(&source.topic).await?,
        })
    }
}
