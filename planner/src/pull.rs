//! Pull queries: a SELECT without EMIT reads a source's current contents and ends. Streams are
//! scanned to their end offsets; tables answer with each key's latest row.

use eddy_catalog::{Catalog, SourceKind};
use eddy_parser::Select;
use eddy_runtime::{Input, Step};

use crate::error::{PlanError, Result};
use crate::query::{plan_push, PlannedQuery};

/// A planned pull query: the dataflow runs over a snapshot of `kind` rows.
#[derive(Debug, Clone)]
pub struct PullPlan {
    pub query: PlannedQuery,
    /// TABLE: the snapshot keeps each key's latest record and drops deleted keys.
    pub kind: SourceKind,
}

/// ksqlDB's refusal of something (`GROUP BY clauses`, ...) in a pull query.
fn refuse_what(what: &str, position: Option<usize>) -> PlanError {
    PlanError::at_position(
        format!(
            "Pull queries don't support {what}. See https://cnfl.io/queries for more info.\nAdd EMIT CHANGES if you intended to issue a push query."
        ),
        position,
    )
}

/// ksqlDB's refusal of a clause in a pull query.
fn refuse(clause: &str, position: Option<usize>) -> PlanError {
    refuse_what(&format!("{clause} clauses"), position)
}

/// Plans a SELECT without EMIT.
pub fn plan_pull(select: &Select, catalog: &Catalog) -> Result<PullPlan> {
    if !select.from.joins.is_empty() {
        return Err(refuse("JOIN", select.position));
    }
    if select.window.is_some() {
        return Err(refuse("WINDOW", select.position));
    }
    if !select.group_by.is_empty() {
        return Err(refuse("GROUP BY", select.position));
    }
    if select.having.is_some() {
        return Err(refuse("HAVING", select.position));
    }
    if !select.partition_by.is_empty() {
        return Err(refuse("PARTITION BY", select.position));
    }
    let query = plan_push(select, catalog)?;
    if query.dataflow.steps.iter().any(|s| matches!(s, Step::Aggregate { .. })) {
        return Err(refuse_what("aggregate functions", select.position));
    }
    let kind = match &query.dataflow.input {
        Input::Source(source) => source.kind,
        Input::Join(_) => return Err(refuse("JOIN", select.position)),
    };
    Ok(PullPlan { query, kind })
}
