//! A pull query over a table planned once and run many times with different key values, as a
//! prepared statement's executions are (`SELECT ... FROM t WHERE id = $1`).
//!
//! The query's rows are planned without its WHERE clause. At each execution the clause, with the
//! parameters' values in it, is analysed: when it is nothing but key lookups
//! ([`exact_lookup`]), those keys are read and the planned rows are the answer (the keys' rows are
//! exactly the rows the clause accepts). Any other clause is left to [`plan_pull`] in full.

use eddy_catalog::{Catalog, Column, SourceKind};
use eddy_parser::Select;
use sqlparser::ast as sql;

use crate::pull::{plan_pull, PullPlan};
use crate::pull_keys::{exact_lookup, KeyAccess, PullOptions};

/// A table's pull query planned without its WHERE clause, for executions whose WHERE clause is
/// only key lookups.
#[derive(Debug, Clone)]
pub struct PullTemplate {
    /// The query's rows over every row of the table (`access` is set per execution).
    plan: PullPlan,
    /// The table's key columns, in key order.
    keys: Vec<Column>,
}

impl PullTemplate {
    /// The template of `select`, a pull query whose only parameters (if any) are in its WHERE
    /// clause. None when the query does not read a non-windowed table, or `plan_pull` refuses the
    /// query without its WHERE clause; errors are left for `plan_pull` to report in full.
    pub fn plan(select: &Select, catalog: &Catalog, options: PullOptions) -> Option<Self> {
        let source = catalog.source(&select.from.source.name).ok()?;
        if source.kind != SourceKind::Table || source.window.is_some() || select.selection.is_none() {
            return None;
        }
        let rows = Select { selection: None, ..select.clone() };
        // Without a WHERE clause the query is a scan; lookups replace it at each execution.
        let plan = plan_pull(&rows, catalog, PullOptions { table_scan: true, ..options }).ok()?;
        Some(Self { plan, keys: source.key_columns().cloned().collect() })
    }

    /// The query planned over every row of the table: run it over the rows [`Self::access`] reads.
    pub fn rows(&self) -> &PullPlan {
        &self.plan
    }

    /// The rows one execution reads, whose WHERE clause (its parameters bound) is `selection`: the
    /// keys it looks up. None when the clause is more than key lookups.
    pub fn access(&self, selection: &sql::Expr) -> Option<KeyAccess> {
        exact_lookup(selection, &self.keys).map(KeyAccess::Lookup)
    }
}
