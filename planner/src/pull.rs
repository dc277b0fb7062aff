//! Pull queries: a SELECT without EMIT reads a source's current contents and ends. Streams are
//! scanned to their end offsets; tables answer with each key's latest row.

use eddy_catalog::{Catalog, SourceKind};
use eddy_parser::{object_name, Select, SelectItem};
use eddy_runtime::{Input, Step};
use sqlparser::ast as sql;

use crate::error::{PlanError, PlanErrorKind, Result};
use crate::expr::is_aggregate;
use crate::pull_keys::{check_pseudo_columns, key_access, KeyAccess, PullOptions};
use crate::query::{plan_push, PlannedQuery};

/// A planned pull query: the dataflow runs over a snapshot of `kind` rows.
#[derive(Debug, Clone)]
pub struct PullPlan {
    pub query: PlannedQuery,
    /// TABLE: the snapshot keeps each key's latest record and drops deleted keys.
    pub kind: SourceKind,
    /// The rows read: a table's keys when the WHERE clause fixes them, else every row.
    pub access: KeyAccess,
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

/// Plans a SELECT without EMIT, with the session's pull-query options.
pub fn plan_pull(select: &Select, catalog: &Catalog, options: PullOptions) -> Result<PullPlan> {
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
    let projection: Vec<sql::Expr> = select
        .projection
        .iter()
        .filter_map(|item| match item {
            SelectItem::Expr { expr, .. } => Some(expr.as_ref().clone()),
            SelectItem::Wildcard { .. } => None,
        })
        .collect();
    check_pseudo_columns(&projection, select.selection.as_ref())?;
    if select.limit.is_some() && !options.limit_clause {
        return Err(PlanError::at_position(
            "LIMIT clause in pull queries is currently disabled. You can enable them by setting ksql.query.pull.limit.clause.enabled=true. See https://cnfl.io/queries for more info.\nAdd EMIT CHANGES if you intended to issue a push query.",
            select.position,
        ));
    }
    let access = match catalog.source(&select.from.source.name) {
        Ok(source) if source.kind == SourceKind::Table => key_access(select.selection.as_ref(), source, options)?,
        _ => KeyAccess::Scan,
    };
    let query = plan_push(select, catalog)?;
    if query.dataflow.steps.iter().any(|s| matches!(s, Step::Aggregate { .. })) {
        return Err(refuse_what("aggregate functions", select.position, true));
    }
    let kind = match &query.dataflow.input {
        Input::Source(source) => source.kind,
        Input::Join(_) => return Err(refuse("JOIN", select.position, true)),
    };
    Ok(PullPlan { query, kind, access })
}
