//! GROUP BY planning: aggregate calls are pulled out of the projection and HAVING, the input is
//! projected to the group keys and the aggregates' arguments, and an Aggregate step computes them.

use std::collections::HashSet;
use std::sync::Arc;

use arrow::datatypes::Schema;
use eddy_catalog::{arrow_field, SqlType, WindowKind};
use eddy_parser::{fold_ident, object_name, WindowSpec};
use eddy_runtime::aggregate::{resolve_aggregate, resolve_offset_aggregate, resolve_topk, AggregateFunction};
use eddy_runtime::operator::AggregateCall;
use eddy_runtime::{Step, WindowPlan, Windowing, HEADERS_COLUMN, VALUE_NULL_COLUMN};
use sqlparser::ast::{self as sql, Spanned};

use crate::error::{PlanError, PlanErrorKind, Result};

/// Windows one record may fall into (a HOPPING window's SIZE / ADVANCE BY): each is an aggregate
/// updated and an output row emitted per record. Default 10,000; the server sets it from its
/// configuration (`eddy.limit.window.hopping.windows.per.record`).
pub static MAX_WINDOWS_PER_RECORD: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(10_000);
use crate::expr::{is_aggregate, ExprPlanner, Typed};
use crate::scope::{Scope, ScopeColumn};
use crate::sources::WINDOW_BOUNDS;

/// An aggregate call found in the query.
struct Call {
    name: String,
    args: Vec<sql::Expr>,
    star: bool,
    text: String,
}

/// Rewrites expressions over the aggregated rows: group expressions become key columns, aggregate
/// calls become their result columns.
struct Rewriter {
    group_texts: Vec<String>,
    key_names: Vec<String>,
    calls: Vec<Call>,
}

fn normalized(e: &sql::Expr) -> String {
    e.to_string().to_uppercase().replace(' ', "")
}

fn ident(name: &str) -> sql::Expr {
    sql::Expr::Identifier(sql::Ident::with_quote('`', name.to_string()))
}

/// The column holding aggregate `i`'s result.
pub(crate) fn agg_column(i: usize) -> String {
    format!("$agg{i}")
}

impl Rewriter {
    fn rewrite(&mut self, e: &sql::Expr) -> Result<sql::Expr> {
        use sql::Expr as E;
        if let Some(i) = self.group_texts.iter().position(|g| *g == normalized(e)) {
            return Ok(ident(&self.key_names[i]));
        }
        let boxed = |s: &mut Self, x: &sql::Expr| -> Result<Box<sql::Expr>> { Ok(Box::new(s.rewrite(x)?)) };
        Ok(match e {
            E::Function(f) if is_aggregate(&object_name(&f.name).to_uppercase()) => {
                let name = object_name(&f.name).to_uppercase();
                let mut args = Vec::new();
                // COUNT() counts rows, like COUNT(*).
                let mut star =
                    name == "COUNT" && matches!(&f.args, sql::FunctionArguments::List(l) if l.args.is_empty());
                if let sql::FunctionArguments::List(list) = &f.args {
                    for a in &list.args {
                        match a {
                            sql::FunctionArg::Unnamed(sql::FunctionArgExpr::Expr(sql::Expr::Wildcard(_)))
                            | sql::FunctionArg::Unnamed(sql::FunctionArgExpr::Wildcard) => star = true,
                            sql::FunctionArg::Unnamed(sql::FunctionArgExpr::Expr(x)) => args.push(x.clone()),
                            other => {
                                return Err(PlanError::at(
                                    format!("Unsupported argument in {name}: {other}"),
                                    e.span().start,
                                ))
                            }
                        }
                    }
                }
                let text = normalized(e);
                let i = match self.calls.iter().position(|c| c.text == text) {
                    Some(i) => i,
                    None => {
                        self.calls.push(Call { name, args, star, text });
                        self.calls.len() - 1
                    }
                };
                ident(&agg_column(i))
            }
            E::Function(f) => {
                let mut f = f.clone();
                if let sql::FunctionArguments::List(list) = &mut f.args {
                    for a in list.args.iter_mut() {
                        // Named arguments too: STRUCT(F := COLLECT_LIST(X)).
                        match a {
                            sql::FunctionArg::Unnamed(sql::FunctionArgExpr::Expr(x))
                            | sql::FunctionArg::Named { arg: sql::FunctionArgExpr::Expr(x), .. }
                            | sql::FunctionArg::ExprNamed { arg: sql::FunctionArgExpr::Expr(x), .. } => {
                                *x = self.rewrite(x)?
                            }
                            _ => {}
                        }
                    }
                }
                E::Function(f)
            }
            E::BinaryOp { left, op, right } => {
                E::BinaryOp { left: boxed(self, left)?, op: op.clone(), right: boxed(self, right)? }
            }
            E::UnaryOp { op, expr } => E::UnaryOp { op: *op, expr: boxed(self, expr)? },
            E::Nested(x) => E::Nested(boxed(self, x)?),
            E::Struct { values, fields } => E::Struct {
                values: values.iter().map(|v| self.rewrite(v)).collect::<Result<_>>()?,
                fields: fields.clone(),
            },
            E::Array(array) => E::Array(sql::Array {
                elem: array.elem.iter().map(|v| self.rewrite(v)).collect::<Result<_>>()?,
                named: array.named,
            }),
            E::IsNull(x) => E::IsNull(boxed(self, x)?),
            E::IsNotNull(x) => E::IsNotNull(boxed(self, x)?),
            E::Cast { kind, expr, data_type, array, format } => E::Cast {
                kind: kind.clone(),
                expr: boxed(self, expr)?,
                data_type: data_type.clone(),
                array: *array,
                format: format.clone(),
            },
            E::Between { expr, negated, low, high } => E::Between {
                expr: boxed(self, expr)?,
                negated: *negated,
                low: boxed(self, low)?,
                high: boxed(self, high)?,
            },
            E::Substring { expr, substring_from, substring_for, special, shorthand } => E::Substring {
                expr: boxed(self, expr)?,
                substring_from: substring_from.as_ref().map(|x| boxed(self, x)).transpose()?,
                substring_for: substring_for.as_ref().map(|x| boxed(self, x)).transpose()?,
                special: *special,
                shorthand: *shorthand,
            },
            E::InList { expr, list, negated } => E::InList {
                expr: boxed(self, expr)?,
                list: list.iter().map(|x| self.rewrite(x)).collect::<Result<_>>()?,
                negated: *negated,
            },
            E::Case { case_token, end_token, operand, conditions, else_result } => E::Case {
                case_token: case_token.clone(),
                end_token: end_token.clone(),
                operand: operand.as_ref().map(|o| boxed(self, o)).transpose()?,
                conditions: conditions
                    .iter()
                    .map(|c| {
                        Ok(sql::CaseWhen { condition: self.rewrite(&c.condition)?, result: self.rewrite(&c.result)? })
                    })
                    .collect::<Result<_>>()?,
                else_result: else_result.as_ref().map(|x| boxed(self, x)).transpose()?,
            },
            other => other.clone(),
        })
    }
}

/// Aggregates with literal parameters: EARLIEST_BY_OFFSET / LATEST_BY_OFFSET `(col, n)`,
/// `(col, ignore_nulls)` or `(col, n, ignore_nulls)`; TOPK / TOPKDISTINCT `(col, [more,] k)`.
/// None for any other call.
fn literal_parameters(call: &Call, types: &[SqlType]) -> Result<Option<(AggregateFunction, SqlType)>> {
    if matches!(call.name.as_str(), "TOPK" | "TOPKDISTINCT") {
        // TOPK(col, [carried columns...,] k): k is a literal.
        let k = match call.args.last() {
            Some(sql::Expr::Value(v)) if call.args.len() >= 2 => match &v.value {
                sql::Value::Number(n, _) => n.parse::<i64>().ok(),
                _ => None,
            },
            _ => None,
        };
        let Some(k) = k else {
            return Err(PlanError::new(format!(
                "Function '{}' takes the number of values to keep as a literal last argument, e.g. {}(price, 3)",
                call.name, call.name
            )));
        };
        return resolve_topk(&call.name, &types[..types.len() - 1], k).map(Some).map_err(PlanError::new);
    }
    if !matches!(call.name.as_str(), "EARLIEST_BY_OFFSET" | "LATEST_BY_OFFSET") || call.args.len() < 2 {
        return Ok(None);
    }
    let bad = || {
        PlanError::new(format!(
            "Function '{}' does not accept parameters ({})",
            call.name,
            types.iter().map(|t| t.to_string()).collect::<Vec<_>>().join(", ")
        ))
    };
    let literal = |e: &sql::Expr| match e {
        sql::Expr::Value(v) => Some(v.value.clone()),
        _ => None,
    };
    let number = |e: &sql::Expr| match literal(e) {
        Some(sql::Value::Number(n, _)) => n.parse::<i64>().ok(),
        _ => None,
    };
    let boolean = |e: &sql::Expr| match literal(e) {
        Some(sql::Value::Boolean(b)) => Some(b),
        _ => None,
    };
    let (n, ignore_nulls) = match &call.args[1..] {
        [p] if types[1] == SqlType::Boolean => (None, Some(boolean(p).ok_or_else(bad)?)),
        [p] => (Some(number(p).ok_or_else(bad)?), None),
        [p, q] => (Some(number(p).ok_or_else(bad)?), Some(boolean(q).ok_or_else(bad)?)),
        _ => return Err(bad()),
    };
    resolve_offset_aggregate(&call.name, &types[0], n, ignore_nulls).map(Some).map_err(PlanError::new)
}

/// What the aggregation adds to a plan.
pub(crate) struct Aggregation {
    pub steps: Vec<Step>,
    pub scope: Scope,
    pub keys: Vec<String>,
    /// The windows of a windowed aggregation's result.
    pub window: Option<WindowKind>,
}

/// Kafka Streams' default grace period when none is given: a day less the window size.
const DEFAULT_GRACE_MS: i64 = 86_400_000;

/// The first window bound column an expression refers to.
pub(crate) fn window_bound(e: &sql::Expr) -> Option<String> {
    let mut found = None;
    let _ = sql::visit_expressions(e, |x: &sql::Expr| {
        let name = match x {
            sql::Expr::Identifier(i) => Some(fold_ident(i)),
            sql::Expr::CompoundIdentifier(parts) => parts.last().map(fold_ident),
            _ => None,
        };
        if let Some(n) = name.filter(|n| WINDOW_BOUNDS.contains(&n.as_str())) {
            found = Some(n);
            return std::ops::ControlFlow::Break(());
        }
        std::ops::ControlFlow::Continue(())
    });
    found
}

/// ksqlDB's refusal of window bounds outside a windowed aggregation's projection.
pub(crate) fn bounds_only_in_select(name: &str) -> PlanError {
    PlanError::new(format!(
        "Window bounds column {name} can only be used in the SELECT clause of windowed aggregations"
    ))
}

/// The runtime windows of a WINDOW clause, with ksqlDB's defaults: without a GRACE PERIOD, EMIT
/// CHANGES keeps windows open for a day less their size and EMIT FINAL closes them at their end.
pub(crate) fn windowing(spec: &WindowSpec, emit_final: bool) -> Result<(WindowPlan, WindowKind)> {
    let ms = |v: u64| i64::try_from(v).map_err(|_| PlanError::new(format!("Window duration out of range: {v} ms")));
    let grace = |g: Option<u64>, size: i64| -> Result<i64> {
        match g {
            Some(g) => ms(g),
            None if emit_final => Ok(0),
            None => Ok(DEFAULT_GRACE_MS.max(size) - size),
        }
    };
    let positive = |what: &str, v: i64| {
        if v <= 0 {
            Err(PlanError::new(format!("{what} must be positive, got {v} ms.")))
        } else {
            Ok(v)
        }
    };
    let (windowing, kind, retention) = match *spec {
        WindowSpec::Tumbling { size_ms, retention_ms, grace_ms } => {
            let size = positive("Window size", ms(size_ms)?)?;
            let grace_ms = grace(grace_ms, size)?;
            let retention_ms = retention_ms.map(ms).transpose()?.unwrap_or(size + grace_ms);
            (
                Windowing::Time { size_ms: size, advance_ms: size, grace_ms, retention_ms },
                WindowKind::Tumbling { size_ms: size },
                retention_ms,
            )
        }
        WindowSpec::Hopping { size_ms, advance_ms, retention_ms, grace_ms } => {
            let size = positive("Window size", ms(size_ms)?)?;
            let advance = positive("Window advance", ms(advance_ms)?)?;
            if advance > size {
                return Err(PlanError::new(format!(
                    "Window advance ({advance} ms) must not be larger than the window size ({size} ms)."
                )));
            }
            // Each record updates SIZE / ADVANCE windows: a day advancing by a millisecond would
            // hold 86,400,000 aggregates per record.
            let windows = (size + advance - 1) / advance;
            let most = MAX_WINDOWS_PER_RECORD.load(std::sync::atomic::Ordering::Relaxed).max(1) as i64;
            if windows > most {
                return Err(PlanError::new(format!(
                    "A HOPPING window of size {size} ms advancing by {advance} ms puts each record in {windows} windows; \
                     at most {most} are allowed (make ADVANCE BY at least {} ms)",
                    (size + most - 1) / most
                ))
                .of_kind(PlanErrorKind::LimitExceeded));
            }
            let grace_ms = grace(grace_ms, size)?;
            let retention_ms = retention_ms.map(ms).transpose()?.unwrap_or(size + grace_ms);
            (
                Windowing::Time { size_ms: size, advance_ms: advance, grace_ms, retention_ms },
                WindowKind::Hopping { size_ms: size },
                retention_ms,
            )
        }
        WindowSpec::Session { gap_ms, retention_ms, grace_ms } => {
            let gap = positive("Session gap", ms(gap_ms)?)?;
            let grace_ms = grace(grace_ms, gap)?;
            let retention_ms = retention_ms.map(ms).transpose()?.unwrap_or(gap + grace_ms);
            (Windowing::Session { gap_ms: gap, grace_ms }, WindowKind::Session, retention_ms)
        }
    };
    let (size, grace_ms) = match windowing {
        Windowing::Time { size_ms, grace_ms, .. } => (size_ms, grace_ms),
        Windowing::Session { gap_ms, grace_ms } => (gap_ms, grace_ms),
    };
    if retention < size + grace_ms {
        return Err(PlanError::new(format!(
            "The retention period ({retention} ms) must be at least the window size plus the grace period ({} ms).",
            size + grace_ms
        )));
    }
    Ok((WindowPlan { windowing, emit_final }, kind))
}

/// Plans GROUP BY over `scope0` (the source after WHERE). `exprs` are the projection and HAVING
/// expressions; they come back rewritten over the aggregated rows.
pub(crate) fn plan_aggregation(
    group_by: &[sql::Expr],
    exprs: &[&sql::Expr],
    scope0: &Scope,
    qualifier: &str,
    window: Option<(WindowPlan, WindowKind)>,
    table_keys: &[sql::Expr],
) -> Result<(Aggregation, Vec<sql::Expr>)> {
    let planner0 = ExprPlanner::new(scope0);
    if window.is_some() {
        if let Some(b) = group_by.iter().find_map(window_bound) {
            return Err(bounds_only_in_select(&b));
        }
    }
    let mut key_names = Vec::new();
    let mut key_typed = Vec::new();
    let mut synthetic = 0usize;
    let used: HashSet<String> = scope0.columns.iter().map(|c| c.name.clone()).collect();
    for g in group_by {
        let t = planner0.plan(g).map_err(|e| match e.message.strip_prefix("Column '") {
            Some(rest) => PlanError { message: format!("GROUP BY column '{rest}"), ..e },
            None => e,
        })?;
        if matches!(t.ty, SqlType::Map(..)) {
            return Err(PlanError::at(format!("Map keys, including types that contain maps, are not supported as they may lead to unexpected behavior due to inconsistent serialization. Key column name: `{g}`. Column type: {}. See https://github.com/confluentinc/ksql/issues/6621 for more.", t.ty), g.span().start));
        }
        let name = match g {
            sql::Expr::Identifier(i) => fold_ident(i),
            sql::Expr::CompoundIdentifier(parts) => parts.last().map(fold_ident).unwrap_or_default(),
            _ => loop {
                let n = format!("KSQL_COL_{synthetic}");
                synthetic += 1;
                if !used.contains(&n) {
                    break n;
                }
            },
        };
        key_names.push(name);
        key_typed.push(t);
    }
    let mut rewriter = Rewriter {
        group_texts: group_by.iter().map(normalized).collect(),
        key_names: key_names.clone(),
        calls: Vec::new(),
    };
    let rewritten = exprs.iter().map(|e| rewriter.rewrite(e)).collect::<Result<Vec<_>>>()?;

    // Pre-aggregation projection: ROWTIME, keys, arguments, hidden columns.
    let col = |name: &str| planner0.plan(&ident(name));
    let mut pre: Vec<(String, Typed)> = vec![("ROWTIME".into(), col("ROWTIME")?)];
    for (n, t) in key_names.iter().zip(&key_typed) {
        pre.push((n.clone(), t.clone()));
    }
    let mut calls = Vec::new();
    let mut results = Vec::new();
    let mut texts = Vec::new();
    for (i, call) in rewriter.calls.iter().enumerate() {
        if window.is_some() {
            if let Some(b) = call.args.iter().find_map(window_bound) {
                return Err(bounds_only_in_select(&b));
            }
        }
        let mut args = call.args.iter().map(|a| planner0.plan(a)).collect::<Result<Vec<_>>>()?;
        let types: Vec<SqlType> = args.iter().map(|a| a.ty.clone()).collect();
        let (function, ret) = match literal_parameters(call, &types)? {
            Some(resolved) => {
                // The literal parameters are not columns.
                let columns = if matches!(call.name.as_str(), "TOPK" | "TOPKDISTINCT") { args.len() - 1 } else { 1 };
                args.truncate(columns);
                resolved
            }
            None => match resolve_aggregate(&call.name, &types, call.star) {
                Some(Ok(x)) => x,
                Some(Err(m)) => return Err(PlanError::new(m)),
                None => return Err(PlanError::new(format!("Can't find any functions with the name '{}'", call.name))),
            },
        };
        let arg_count = args.len();
        for (j, a) in args.into_iter().enumerate() {
            pre.push((format!("$arg{i}_{j}"), a));
        }
        calls.push(AggregateCall { function, args: arg_count });
        results.push((agg_column(i), ret));
        texts.push(call.text.clone());
    }
    if !table_keys.is_empty() {
        let cannot: Vec<&str> = rewriter
            .calls
            .iter()
            .zip(&calls)
            .filter(|(_, c)| !c.function.supports_undo())
            .map(|(call, _)| call.name.as_str())
            .collect();
        if !cannot.is_empty() {
            let list = match cannot.as_slice() {
                [one] => format!("function {one}"),
                [init @ .., last] => format!("functions {} and {last}", init.join(", ")),
                [] => String::new(),
            };
            return Err(PlanError::new(format!(
                "The aggregation {list} cannot be applied to a table source, only to a stream source."
            )));
        }
        // The table's rows are told apart by their key: each row's old contribution is taken back out.
        for (j, k) in table_keys.iter().enumerate() {
            pre.push((format!("$row_key{j}"), planner0.plan(k)?));
        }
    }
    pre.push((HEADERS_COLUMN.into(), col(HEADERS_COLUMN)?));
    pre.push((VALUE_NULL_COLUMN.into(), col(VALUE_NULL_COLUMN)?));
    let pre_step = Step::Project {
        exprs: pre.iter().map(|(_, t)| t.expr.clone()).collect(),
        schema: Arc::new(Schema::new(pre.iter().map(|(n, t)| arrow_field(n, &t.ty)).collect::<Vec<_>>())),
        texts: pre.iter().map(|(n, t)| format!("{} AS {n}", t.expr)).collect(),
    };
    // The aggregated rows and the scope the projection sees.
    let mut out: Vec<(Option<String>, String, SqlType)> =
        vec![(Some(qualifier.to_string()), "ROWTIME".into(), SqlType::Bigint)];
    for (n, t) in key_names.iter().zip(&key_typed) {
        out.push((Some(qualifier.to_string()), n.clone(), t.ty.clone()));
    }
    if window.is_some() {
        for bound in WINDOW_BOUNDS {
            out.push((Some(qualifier.to_string()), bound.to_string(), SqlType::Bigint));
        }
    }
    for (n, t) in &results {
        out.push((None, n.clone(), t.clone()));
    }
    out.push((None, HEADERS_COLUMN.into(), eddy_runtime::headers_type()));
    out.push((None, VALUE_NULL_COLUMN.into(), SqlType::Boolean));
    let schema = Arc::new(Schema::new(out.iter().map(|(_, n, t)| arrow_field(n, t)).collect::<Vec<_>>()));
    let agg_step = Step::Aggregate {
        keys: key_names.len(),
        calls,
        schema,
        texts,
        window: window.map(|(plan, _)| plan),
        table_keys: table_keys.len(),
    };
    let scope = Scope::new(out.into_iter().map(|(q, n, t)| ScopeColumn { qualifier: q, name: n, ty: t }).collect());
    let aggregation =
        Aggregation { steps: vec![pre_step, agg_step], scope, keys: key_names, window: window.map(|(_, kind)| kind) };
    Ok((aggregation, rewritten))
}
