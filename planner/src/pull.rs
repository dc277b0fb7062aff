//! Pull queries: a SELECT without EMIT reads a source's current contents and ends. Streams are
//! scanned to their end offsets; tables answer with each key's latest row.

use eddy_catalog::{Catalog, SourceKind};
use eddy_parser::{object_name, Select, SelectItem};
use eddy_runtime::{Input, Step};
use sqlparser::ast as sql;

use crate::error::{PlanError, PlanErrorKind, Result};
use crate::expr::is_aggregate;
use crate::query::{plan_push, PlannedQuery};

/// A planned pull query: the dataflow runs over a snapshot of `kind` rows.
#[derive(Debug, Clone)]
pub struct PullPlan {
    pub query: PlannedQuery,
    /// TABLE: the snapshot keeps each key's latest record and drops deleted keys.
    pub kind: SourceKind,
}

/// ksqlDB's refusal of something (`GROUP BY clauses`, ...) in a pull query. `answerable`: full SQL
/// (the SQL engine) can still answer it, so the error is of kind `PullUnsupported`.
fn refuse_what(what: &str, position: Option<usize>, answerable: bool) -> PlanError {
    let error = PlanError::at_position(
        format!(
            "Pull queries don't support {what}. See https://cnfl.io/queries for more info.\nAdd EMIT CHANGES if you intended to issue a push query."
        ),
        position,
    );
    error.of_kind(if answerable { PlanErrorKind::PullUnsupported } else { PlanErrorKind::Unsupported })
}

/// ksqlDB's refusal of a clause in a pull query.
fn refuse(clause: &str, position: Option<usize>, answerable: bool) -> PlanError {
    refuse_what(&format!("{clause} clauses"), position, answerable)
}

/// Whether an expression calls an aggregate function.
fn calls_aggregate(e: &sql::Expr) -> bool {
    sql::visit_expressions(e, |x| match x {
        sql::Expr::Function(f) if is_aggregate(&object_name(&f.name).to_uppercase()) => {
            std::ops::ControlFlow::Break(())
        }
        _ => std::ops::ControlFlow::Continue(()),
    })
    .is_break()
}

/// Plans a SELECT without EMIT.
pub fn plan_pull(select: &Select, catalog: &Catalog) -> Result<PullPlan> {
    if !select.from.joins.is_empty() {
        return Err(refuse("JOIN", select.position, true));
    }
    if select.window.is_some() {
        return Err(refuse("WINDOW", select.position, false));
    }
    if !select.group_by.is_empty() {
        return Err(refuse("GROUP BY", select.position, true));
    }
    if select.having.is_some() {
        return Err(refuse("HAVING", select.position, true));
    }
    if !select.partition_by.is_empty() {
        return Err(refuse("PARTITION BY", select.position, false));
    }
    if select.projection.iter().any(|item| matches!(item, SelectItem::Expr { expr, .. } if calls_aggregate(expr))) {
        return Err(refuse_what("aggregate functions", select.position, true));
    }
    let query = plan_push(select, catalog)?;
    if query.dataflow.steps.iter().any(|s| matches!(s, Step::Aggregate { .. })) {
        return Err(refuse_what("aggregate functions", select.position, true));
    }
    let kind = match &query.dataflow.input {
        Input::Source(source) => source.kind,
        Input::Join(_) => return Err(refuse("JOIN", select.position, true)),
    };
    Ok(PullPlan { query, kind })
}
