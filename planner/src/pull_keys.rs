//! How a pull query over a table reaches its rows: the WHERE clause analysed into key lookups (served
//! from the table's materialized view without a scan) or a table scan, with ksqlDB's validation and
//! wording (ksqlDB's `QueryFilterNode`, `PullQueryValidator`, `FilterTypeValidator`).
//!
//! The WHERE clause is rewritten to disjunctive normal form (`IN` lists become equalities, `BETWEEN`
//! two bounds). Each disjunct that fixes every key column with `=` contributes a key; any other
//! disjunct needs a table scan, which `ksql.query.pull.table.scan.enabled=false` refuses. The full
//! WHERE clause is still applied to the rows fetched, so a lookup only narrows what is read.

use std::borrow::Cow;

use eddy_catalog::{Column, Source, SqlType};
use eddy_parser::fold_ident;
use eddy_runtime::Value;
use sqlparser::ast as sql;

use crate::error::{PlanError, Result};
use crate::expr::evaluate_constant;

/// Pull-query settings from the session's ksqlDB properties.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PullOptions {
    /// `ksql.query.pull.table.scan.enabled` (default true).
    pub table_scan: bool,
    /// `ksql.query.pull.range.scan.enabled` (default true).
    pub range_scan: bool,
    /// `ksql.query.pull.limit.clause.enabled` (default true).
    pub limit_clause: bool,
}

impl Default for PullOptions {
    fn default() -> Self {
        Self { table_scan: true, range_scan: true, limit_clause: true }
    }
}

impl PullOptions {
    /// Reads the options from ksqlDB properties (`true`/`false`, any case); absent ones default.
    pub fn from_properties(get: impl Fn(&str) -> Option<String>) -> Self {
        let flag = |name: &str| get(name).map(|v| !v.trim().eq_ignore_ascii_case("false")).unwrap_or(true);
        Self {
            table_scan: flag("ksql.query.pull.table.scan.enabled"),
            range_scan: flag("ksql.query.pull.range.scan.enabled"),
            limit_clause: flag("ksql.query.pull.limit.clause.enabled"),
        }
    }
}

/// Which rows of a table a pull query reads.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyAccess {
    /// Every row (ksqlDB's TABLE_SCAN; a stream is always scanned).
    Scan,
    /// A range of a single STRING key (ksqlDB's RANGE_SCAN): read as a scan, filtered by the WHERE.
    Range,
    /// Only the rows of these keys (ksqlDB's KEY_LOOKUP): one value per key column, in key order.
    Lookup(Vec<Vec<Value>>),
}

impl std::fmt::Display for KeyAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Scan => write!(f, "table scan"),
            Self::Range => write!(f, "range scan"),
            Self::Lookup(keys) => {
                let keys: Vec<String> = keys
                    .iter()
                    .map(|k| k.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(", "))
                    .map(|k| format!("({k})"))
                    .collect();
                write!(f, "key lookup of {}", keys.join(", "))
            }
        }
    }
}

const HELP: &str =
    " See https://cnfl.io/queries for more info.\nAdd EMIT CHANGES if you intended to issue a push query.";

/// Disjuncts beyond this many make the query a scan rather than a lookup of each.
const MAX_DISJUNCTS: usize = 1024;

/// ksqlDB's explanation of what a pull query's WHERE clause must be.
fn invalid_where(message: &str, windowed: bool) -> PlanError {
    let mut text = format!(
        "{message}.{HELP}\nPull queries require a WHERE clause that:\n - includes a key equality expression, e.g. `SELECT * FROM X WHERE <key-column> = Y;`.\n - in the case of a multi-column key, is a conjunction of equality expressions that cover all key columns.\n - to support range expressions, e.g.,  SELECT * FROM X WHERE <key-column> < Y;`, range scans need to be enabled by setting ksql.query.pull.range.scan.enabled=true"
    );
    if windowed {
        text.push_str("\n - (optionally) limits the time bounds of the windowed table.\n\t Bounds on [`WINDOWSTART`, `WINDOWEND`] are supported\n\t Supported operators are [EQUAL, GREATER_THAN, GREATER_THAN_OR_EQUAL, LESS_THAN, LESS_THAN_OR_EQUAL]");
    }
    text.push_str("\nIf more flexible queries are needed, , table scans can be enabled by setting ksql.query.pull.table.scan.enabled=true.");
    PlanError::new(text)
}

/// Refuses pseudo columns pull queries cannot read (ksqlDB's `PullQueryValidator`).
pub fn check_pseudo_columns(projection: &[sql::Expr], selection: Option<&sql::Expr>) -> Result<()> {
    const DISALLOWED: [&str; 2] = ["ROWPARTITION", "ROWOFFSET"];
    let used = |e: &sql::Expr, out: &mut Vec<String>| {
        let _ = sql::visit_expressions(e, |x| {
            if let sql::Expr::Identifier(i) = x {
                let name = fold_ident(i);
                if DISALLOWED.contains(&name.as_str()) && !out.contains(&format!("`{name}`")) {
                    out.push(format!("`{name}`"));
                }
            }
            std::ops::ControlFlow::<()>::Continue(())
        });
    };
    let mut in_select = Vec::new();
    for e in projection {
        used(e, &mut in_select);
    }
    if !in_select.is_empty() {
        return Err(PlanError::new(format!(
            "Pull queries don't support the following columns in SELECT clauses: {}\n{}",
            in_select.join(", "),
            HELP.trim_start()
        )));
    }
    let mut in_where = Vec::new();
    if let Some(w) = selection {
        used(w, &mut in_where);
    }
    if !in_where.is_empty() {
        return Err(PlanError::new(format!(
            "Pull queries don't support the following columns in WHERE clauses: {}\n{}",
            in_where.join(", "),
            HELP.trim_start()
        )));
    }
    Ok(())
}

/// How a pull query over `source` (a table) reaches its rows, or ksqlDB's refusal.
pub fn key_access(selection: Option<&sql::Expr>, source: &Source, options: PullOptions) -> Result<KeyAccess> {
    let windowed = source.window.is_some();
    let Some(selection) = selection else {
        if !options.table_scan {
            return Err(invalid_where("Missing WHERE clause", windowed));
        }
        return Ok(KeyAccess::Scan);
    };
    check_types(selection, source)?;
    let keys: Vec<&Column> = source.key_columns().collect();
    let key_list =
        format!("[{}]", keys.iter().map(|c| format!("`{}` {} KEY", c.name, c.ty)).collect::<Vec<_>>().join(", "));
    let (mut disjuncts, mut too_many) = (Vec::new(), false);
    dnf(selection, &mut disjuncts, &mut too_many);
    let mut lookups = Vec::new();
    let (mut needs_scan, mut ranges) = (too_many || disjuncts.len() > MAX_DISJUNCTS, 0);
    for disjunct in disjuncts.iter().take(if needs_scan { 0 } else { MAX_DISJUNCTS }) {
        let mut scan = |reason: &str| -> Result<()> {
            if options.table_scan {
                needs_scan = true;
                Ok(())
            } else {
                Err(invalid_where(reason, windowed))
            }
        };
        let mut equal: Vec<Option<&sql::Expr>> = vec![None; keys.len()];
        let mut seen = vec![false; keys.len()];
        let mut ranged = false;
        let mut scanned = false;
        for conjunct in disjunct {
            let Some((column, op, other)) = comparison(conjunct.as_ref()) else { continue };
            let Some(column) = column else {
                scan("A comparison must directly reference a key column")?;
                scanned = true;
                continue;
            };
            if references_column(other) {
                scan("A comparison must be between a key column and a resolvable expression")?;
                scanned = true;
                continue;
            }
            let Some(k) = keys.iter().position(|c| c.name == column) else { continue };
            if matches!(op, sql::BinaryOperator::NotEq) {
                scan(&format!("Bound on key columns '{key_list}' must currently be '='"))?;
                scanned = true;
                continue;
            }
            if seen[k] && !options.table_scan {
                return Err(invalid_where(
                    "A comparison condition on the key column cannot be combined with other comparisons such as an IN predicate",
                    windowed,
                ));
            }
            seen[k] = true;
            match op {
                sql::BinaryOperator::Eq => equal[k] = Some(other),
                _ => ranged = equal[k].is_none(),
            }
        }
        if scanned {
            continue;
        }
        if !seen.iter().any(|s| *s) {
            scan(&format!("WHERE clause missing key column for disjunct: {}", format_conjunction(disjunct)))?;
            continue;
        }
        if !seen.iter().all(|s| *s) {
            let specified: Vec<String> =
                keys.iter().zip(&seen).filter(|(_, s)| **s).map(|(c, _)| format!("`{}`", c.name)).collect();
            scan(&format!(
                "Multi-column sources must specify every key in the WHERE clause. Specified: [{}] Expected: {key_list}",
                specified.join(", ")
            ))?;
            continue;
        }
        if equal.iter().all(Option::is_some) {
            let mut tuple = Vec::with_capacity(keys.len());
            for (column, expr) in keys.iter().zip(&equal) {
                // A key equal to a NULL that is not written as one (a parameter, a cast) matches
                // nothing: the disjunct adds no key.
                match expr.map(|e| key_value(column, e)).transpose()?.flatten() {
                    Some(v) => tuple.push(v),
                    None => break,
                }
            }
            if tuple.len() == keys.len() && !lookups.contains(&tuple) {
                lookups.push(tuple);
            }
        } else if ranged {
            ranges += 1;
        } else {
            needs_scan = true;
        }
    }
    if !needs_scan && ranges == 0 {
        return Ok(KeyAccess::Lookup(lookups));
    }
    let range_scan = !needs_scan
        && ranges == 1
        && lookups.is_empty()
        && options.range_scan
        && !windowed
        && keys.len() == 1
        && matches!(keys[0].ty, SqlType::String | SqlType::Bytes);
    if range_scan {
        return Ok(KeyAccess::Range);
    }
    if !options.table_scan {
        return Err(PlanError::new(
            "Query requires table scan to be enabled. Table scans can be enabled by setting ksql.query.pull.table.scan.enabled=true",
        ));
    }
    Ok(KeyAccess::Scan)
}

/// The keys a WHERE clause selects when it is nothing but key lookups: every disjunct fixes each
/// key column exactly once with `=` to a constant (a literal, or a cast of one) of the column's own
/// type (or an INT for a BIGINT key), and says nothing else. Then the rows of those keys are exactly the rows the clause
/// accepts, and a lookup needs no filter after it. Only STRING, INT and BIGINT keys qualify (their
/// equality is the identity of their encoded bytes; DOUBLE's `-0.0 = 0.0` and DECIMAL's scales are
/// not). None for any other clause (a caller plans it in full).
pub fn exact_lookup(selection: &sql::Expr, keys: &[Column]) -> Option<Vec<Vec<Value>>> {
    if keys.is_empty() || !keys.iter().all(|c| matches!(c.ty, SqlType::String | SqlType::Int | SqlType::Bigint)) {
        return None;
    }
    let (mut disjuncts, mut too_many) = (Vec::new(), false);
    dnf(selection, &mut disjuncts, &mut too_many);
    if too_many || disjuncts.len() > MAX_DISJUNCTS {
        return None;
    }
    let mut lookups: Vec<Vec<Value>> = Vec::with_capacity(disjuncts.len());
    for disjunct in &disjuncts {
        let mut tuple: Vec<Option<Value>> = vec![None; keys.len()];
        for conjunct in disjunct {
            let (Some(column), sql::BinaryOperator::Eq, other) = comparison(conjunct.as_ref())? else { return None };
            let k = keys.iter().position(|c| c.name == column)?;
            if tuple[k].is_some() || !is_constant(other) {
                return None;
            }
            let value = evaluate_constant(other, None).ok()?;
            tuple[k] = Some(match (value, &keys[k].ty) {
                (v @ Value::String(_), SqlType::String) | (v @ Value::Int(_), SqlType::Int) => v,
                (v @ Value::Bigint(_), SqlType::Bigint) => v,
                // ksqlDB widens an INT to a BIGINT key; the value is the same.
                (Value::Int(i), SqlType::Bigint) => Value::Bigint(i64::from(i)),
                _ => return None,
            });
        }
        let tuple: Vec<Value> = tuple.into_iter().collect::<Option<_>>()?;
        if !lookups.contains(&tuple) {
            lookups.push(tuple);
        }
    }
    Some(lookups)
}

/// A literal, a negated one, or a cast of one: a value known without reading a row or calling a
/// function.
fn is_constant(e: &sql::Expr) -> bool {
    match e {
        sql::Expr::Nested(inner) => is_constant(inner),
        sql::Expr::Value(v) => !matches!(v.value, sql::Value::Placeholder(_) | sql::Value::Null),
        sql::Expr::UnaryOp { op: sql::UnaryOperator::Minus, expr } => is_constant(expr),
        sql::Expr::Cast { expr, .. } => is_constant(expr),
        _ => false,
    }
}

/// The WHERE clause in disjunctive normal form: each inner list is a conjunction.
/// Sets `too_many` (and stops expanding) when the form would exceed `MAX_DISJUNCTS`.
fn dnf<'a>(e: &'a sql::Expr, out: &mut Vec<Vec<Cow<'a, sql::Expr>>>, too_many: &mut bool) {
    let compare = |a: &sql::Expr, op: sql::BinaryOperator, b: &sql::Expr| {
        Cow::Owned(sql::Expr::BinaryOp { left: Box::new(a.clone()), op, right: Box::new(b.clone()) })
    };
    match e {
        sql::Expr::Nested(inner) => dnf(inner, out, too_many),
        sql::Expr::BinaryOp { left, op: sql::BinaryOperator::Or, right } => {
            dnf(left, out, too_many);
            dnf(right, out, too_many);
        }
        sql::Expr::BinaryOp { left, op: sql::BinaryOperator::And, right } => {
            let (mut l, mut r) = (Vec::new(), Vec::new());
            dnf(left, &mut l, too_many);
            dnf(right, &mut r, too_many);
            if *too_many || out.len() + l.len().saturating_mul(r.len()) > MAX_DISJUNCTS {
                *too_many = true;
                return;
            }
            for a in &l {
                for b in &r {
                    out.push(a.iter().chain(b).cloned().collect());
                }
            }
        }
        sql::Expr::InList { expr, list, negated: false } => {
            for item in list {
                out.push(vec![compare(expr, sql::BinaryOperator::Eq, item)]);
            }
        }
        sql::Expr::Between { expr, negated: false, low, high } => out
            .push(vec![compare(expr, sql::BinaryOperator::GtEq, low), compare(expr, sql::BinaryOperator::LtEq, high)]),
        other => out.push(vec![Cow::Borrowed(other)]),
    }
}

/// A comparison's bare-column side (None when neither side is one), operator (normalised to the
/// column on the left) and other side.
fn comparison(e: &sql::Expr) -> Option<(Option<String>, sql::BinaryOperator, &sql::Expr)> {
    use sql::BinaryOperator as Op;
    let sql::Expr::BinaryOp { left, op, right } = e else { return None };
    if !matches!(op, Op::Eq | Op::NotEq | Op::Lt | Op::LtEq | Op::Gt | Op::GtEq) {
        return None;
    }
    if let Some(name) = column_name(right) {
        let flipped = match op {
            Op::Lt => Op::Gt,
            Op::LtEq => Op::GtEq,
            Op::Gt => Op::Lt,
            Op::GtEq => Op::LtEq,
            other => other.clone(),
        };
        return Some((Some(name), flipped, left));
    }
    if let Some(name) = column_name(left) {
        return Some((Some(name), op.clone(), right));
    }
    Some((None, op.clone(), right))
}

fn column_name(e: &sql::Expr) -> Option<String> {
    match e {
        sql::Expr::Nested(inner) => column_name(inner),
        sql::Expr::Identifier(i) => Some(fold_ident(i)),
        sql::Expr::CompoundIdentifier(parts) if parts.len() == 2 => Some(fold_ident(&parts[1])),
        _ => None,
    }
}

fn references_column(e: &sql::Expr) -> bool {
    sql::visit_expressions(e, |x| match x {
        sql::Expr::Identifier(_) | sql::Expr::CompoundIdentifier(_) => std::ops::ControlFlow::Break(()),
        _ => std::ops::ControlFlow::Continue(()),
    })
    .is_break()
}

/// A key column's lookup value: the expression's own type must be the key's, or widen to it
/// (INT to BIGINT, DECIMAL or DOUBLE; BIGINT to DECIMAL or DOUBLE), as ksqlDB coerces keys.
/// None for an expression that is NULL without being the NULL literal, which ksqlDB refuses.
fn key_value(column: &Column, e: &sql::Expr) -> Result<Option<Value>> {
    let value = evaluate_constant(e, None)?;
    if value.is_null() {
        if matches!(e, sql::Expr::Value(v) if matches!(v.value, sql::Value::Null)) {
            return Err(PlanError::new(format!(
                "Primary key columns can not be NULL: ({} = {})",
                column.name,
                format_expr(e)
            )));
        }
        return Ok(None);
    }
    let natural = natural_type(e);
    let widens = match (&natural, &column.ty) {
        (Some(t), k) if t == k => true,
        (Some(SqlType::Int), SqlType::Bigint | SqlType::Double | SqlType::Decimal { .. }) => true,
        (Some(SqlType::Bigint), SqlType::Double | SqlType::Decimal { .. }) => true,
        (Some(SqlType::Decimal { .. }), SqlType::Decimal { .. } | SqlType::Double) => true,
        (None, _) => true,
        _ => false,
    };
    if !widens {
        let shown = match &value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        return Err(PlanError::new(format!(
            "'{shown}' can not be converted to the type of the key column: {} {} KEY",
            column.name, column.ty
        )));
    }
    Ok(Some(evaluate_constant(e, Some(&column.ty))?))
}

/// The type a literal has on its own (None for other expressions, which are cast to the key type).
fn natural_type(e: &sql::Expr) -> Option<SqlType> {
    match e {
        sql::Expr::Nested(inner) => natural_type(inner),
        sql::Expr::Value(v) => match &v.value {
            sql::Value::SingleQuotedString(_) => Some(SqlType::String),
            sql::Value::Boolean(_) => Some(SqlType::Boolean),
            sql::Value::Number(n, _) => {
                if n.contains(['.']) {
                    Some(SqlType::Decimal { precision: 38, scale: 0 })
                } else if n.contains(['e', 'E']) {
                    Some(SqlType::Double)
                } else if n.parse::<i32>().is_ok() {
                    Some(SqlType::Int)
                } else {
                    Some(SqlType::Bigint)
                }
            }
            _ => None,
        },
        sql::Expr::UnaryOp { op: sql::UnaryOperator::Minus, expr } => natural_type(expr),
        _ => None,
    }
}

/// ksqlDB's WHERE type check for pull queries: comparisons of a column with a literal of another
/// type, or with NULL, are errors (IN, BETWEEN and LIKE are checked where they are used).
fn check_types(selection: &sql::Expr, source: &Source) -> Result<()> {
    let statement = format_expr(selection);
    let mut error = None;
    let _ = sql::visit_expressions(selection, |x| {
        let sql::Expr::BinaryOp { left, op, right } = x else { return std::ops::ControlFlow::Continue(()) };
        let Some(name) = comparison_name(op) else { return std::ops::ControlFlow::Continue(()) };
        let side = |e: &sql::Expr| -> Option<(String, SqlType, bool)> {
            if let Some(c) = column_name(e).and_then(|n| source.column(&n)) {
                return Some((c.name.clone(), c.ty.clone(), false));
            }
            if matches!(e, sql::Expr::Value(v) if matches!(v.value, sql::Value::Null)) {
                return Some(("null".into(), SqlType::String, true));
            }
            natural_type(e).map(|t| (format_expr(e), t, false))
        };
        let (Some((l, lt, l_null)), Some((r, rt, r_null))) = (side(left), side(right)) else {
            return std::ops::ControlFlow::Continue(());
        };
        let message = if l_null || r_null {
            let (typ, null_left) = if l_null { (rt.to_string(), true) } else { (lt.to_string(), false) };
            let shown = if null_left { format!("NULL {op} {typ}") } else { format!("{typ} {op} NULL") };
            Some(format!("Comparison with NULL not supported: {shown}\nUse 'IS NULL' or 'IS NOT NULL' instead."))
        } else if lt.is_numeric() != rt.is_numeric() || (lt == SqlType::String) != (rt == SqlType::String) {
            Some(format!("Cannot compare {l} ({lt}) to {r} ({rt}) with {name}."))
        } else {
            None
        };
        match message {
            Some(m) => {
                error = Some(PlanError::new(format!("Error in WHERE expression: {m}\nStatement: {statement}")));
                std::ops::ControlFlow::Break(())
            }
            None => std::ops::ControlFlow::Continue(()),
        }
    });
    error.map_or(Ok(()), Err)
}

fn comparison_name(op: &sql::BinaryOperator) -> Option<&'static str> {
    use sql::BinaryOperator as Op;
    Some(match op {
        Op::Eq => "EQUAL",
        Op::NotEq => "NOT_EQUAL",
        Op::Lt => "LESS_THAN",
        Op::LtEq => "LESS_THAN_OR_EQUAL",
        Op::Gt => "GREATER_THAN",
        Op::GtEq => "GREATER_THAN_OR_EQUAL",
        _ => return None,
    })
}

fn format_conjunction(conjuncts: &[Cow<'_, sql::Expr>]) -> String {
    let mut parts = conjuncts.iter().map(|e| format_expr(e));
    let first = parts.next().unwrap_or_default();
    parts.fold(first, |acc, p| format!("({acc} AND {p})"))
}

/// ksqlDB's expression text (`ExpressionFormatter`): `(L op R)`, names folded, `null` lower case.
pub fn format_expr(e: &sql::Expr) -> String {
    match e {
        sql::Expr::Nested(inner) => format_expr(inner),
        sql::Expr::BinaryOp { left, op, right } => format!("({} {op} {})", format_expr(left), format_expr(right)),
        sql::Expr::Identifier(i) => fold_ident(i),
        sql::Expr::CompoundIdentifier(parts) => parts.iter().map(fold_ident).collect::<Vec<_>>().join("."),
        sql::Expr::Value(v) if matches!(v.value, sql::Value::Null) => "null".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use eddy_catalog::ColumnKind;
    use eddy_parser::{parse_each, Statement};

    use super::*;

    fn selection(where_clause: &str) -> sql::Expr {
        let parsed = parse_each(&format!("SELECT * FROM t WHERE {where_clause};")).expect("parse");
        let Ok(Statement::Select(select)) = &parsed[0].result else { panic!("not a select: {where_clause}") };
        select.selection.clone().expect("where")
    }

    fn keys(types: &[(&str, SqlType)]) -> Vec<Column> {
        types.iter().map(|(n, t)| Column::new(*n, t.clone(), ColumnKind::Key)).collect()
    }

    #[test]
    fn exact_lookups_are_key_equalities_with_constants_of_the_keys_type() {
        let id = keys(&[("ID", SqlType::String)]);
        let s = |v: &str| Value::String(v.into());
        assert_eq!(exact_lookup(&selection("id = 'a'"), &id), Some(vec![vec![s("a")]]));
        assert_eq!(exact_lookup(&selection("'a' = ID"), &id), Some(vec![vec![s("a")]]));
        assert_eq!(
            exact_lookup(&selection("id IN ('a', 'b', 'a') OR (id = 'c')"), &id),
            Some(vec![vec![s("a")], vec![s("b")], vec![s("c")]])
        );
        assert_eq!(exact_lookup(&selection("id = CAST(7 AS STRING)"), &id), Some(vec![vec![s("7")]]));
        let pair = keys(&[("A", SqlType::Int), ("B", SqlType::Bigint)]);
        assert_eq!(
            exact_lookup(&selection("b = 2 AND a = -1"), &pair),
            Some(vec![vec![Value::Int(-1), Value::Bigint(2)]])
        );
        assert_eq!(
            exact_lookup(&selection("a = CAST(1 AS INT) AND b = CAST(5000000000 AS BIGINT)"), &pair),
            Some(vec![vec![Value::Int(1), Value::Bigint(5_000_000_000)]])
        );
    }

    #[test]
    fn anything_more_than_key_lookups_is_not_exact() {
        let id = keys(&[("ID", SqlType::String)]);
        for clause in [
            "id = 'a' AND name = 'x'",
            "id = 'a' OR name = 'x'",
            "id = 'a' AND id = 'b'",
            "id > 'a'",
            "id <> 'a'",
            "id = 7",
            "id = NULL",
            "id = UCASE('a')",
            "id = name",
            "id LIKE 'a%'",
            "NOT id = 'a'",
        ] {
            assert_eq!(exact_lookup(&selection(clause), &id), None, "{clause}");
        }
        let int = keys(&[("K", SqlType::Int)]);
        assert_eq!(exact_lookup(&selection("k = 5000000000"), &int), None, "a BIGINT is not an INT key");
        assert_eq!(exact_lookup(&selection("k = 1.0"), &int), None);
        let pair = keys(&[("A", SqlType::Int), ("B", SqlType::Int)]);
        assert_eq!(exact_lookup(&selection("a = 1"), &pair), None, "every key column is needed");
        let double = keys(&[("D", SqlType::Double)]);
        assert_eq!(exact_lookup(&selection("d = 0.0"), &double), None, "DOUBLE keys are looked up and filtered");
    }
}
