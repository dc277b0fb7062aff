//! Pull queries: a SELECT without EMIT answers with the source's current rows and ends.

use std::sync::Arc;

use eddy_parser::Select;
use eddy_planner::plan_pull;
use eddy_runtime::QueryMetrics;

use super::error::EngineError;
use super::queries::visible_rows;
use super::{Engine, Output, ResultColumn};

impl Engine {
    pub(super) async fn pull_query(&self, select: &Select) -> Result<Output, EngineError> {
        let plan = {
            let state = self.state.lock().await;
            plan_pull(select, &state.catalog)?
        };
        let columns: Vec<ResultColumn> =
            plan.query.columns.iter().map(|c| ResultColumn::new(&c.name, c.ty.clone())).collect();
        let width = columns.len();
        let limit = select.limit.map(|l| usize::try_from(l).unwrap_or(usize::MAX)).unwrap_or(usize::MAX);
        let batches = self.broker.pull(&plan.query.dataflow, plan.kind, Arc::new(QueryMetrics::default())).await?;
        let rows = batches.iter().flat_map(|batch| visible_rows(batch, width)).take(limit).collect();
        Ok(Output::Rows { columns, rows })
    }
}
