//! Planning SELECTs: push queries to the client, and persistent queries (CSAS, INSERT INTO) to a sink topic,
//! with ksqlDB's rules for output names, key columns and PARTITION BY.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use arrow::datatypes::Schema;
use eddy_catalog::{
    arrow_field, Catalog, Column, ColumnKind, Format, FormatSpec, Source, SourceKind, SqlType, WindowKind,
};
use eddy_parser::{fold_ident, object_name, EmitMode, Properties, Select, SelectItem};
use eddy_runtime::aggregate::AggregateFunction;
use eddy_runtime::{Dataflow, Input, SinkSpec, Step, HEADERS_COLUMN, VALUE_NULL_COLUMN};
use sqlparser::ast::{self as sql, BinaryOperator, Spanned};

use crate::aggregation::{bounds_only_in_select, plan_aggregation, window_bound, windowing};
use crate::error::{PlanError, PlanErrorKind, Result};
use crate::expr::{cast_to, ExprPlanner, Typed};
use crate::join::{plan_from, Copartitioning, FromPlan, JoinKey};
use crate::scope::{Scope, ScopeColumn};
use crate::sources::{check_codecs, default_wrapping, formats, timestamp_spec, RESERVED, WINDOW_BOUNDS};
use crate::table_functions::{first_table_function, plan_table_functions};

/// A column of a query's output.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputColumn {
    pub name: String,
    pub ty: SqlType,
    pub key: bool,
}

/// A planned query: its dataflow, its output columns and the sources it reads.
#[derive(Debug, Clone)]
pub struct PlannedQuery {
    pub dataflow: Dataflow,
    pub columns: Vec<OutputColumn>,
    pub sources: Vec<String>,
}

/// What a persistent query writes to.
pub struct SinkRequest<'a> {
    pub kind: SourceKind,
    pub name: &'a str,
    pub properties: &'a Properties,
    /// INSERT INTO: the existing target.
    pub existing: Option<&'a Source>,
    pub session: &'a BTreeMap<String, String>,
    pub statement: &'a str,
}

impl<'a> SinkRequest<'a> {
    /// The sink of `CREATE STREAM|TABLE ... AS SELECT`.
    pub fn create(
        c: &'a eddy_parser::CreateAsSelect,
        session: &'a BTreeMap<String, String>,
        statement: &'a str,
    ) -> Self {
        Self { kind: c.kind, name: &c.name, properties: &c.properties, existing: None, session, statement }
    }
}

/// A persistent query plus the sink source it creates or writes.
pub struct PersistentPlan {
    pub query: PlannedQuery,
    pub sink: Source,
}

struct Projected {
    name: String,
    typed: Typed,
    ast: Option<sql::Expr>,
}

/// The source, the steps so far, the columns the projection sees, and the projection itself.
struct SelectPlan {
    /// The single source, or a join's leftmost source.
    source: Source,
    input: Input,
    /// Stream or table rows, before any aggregation.
    kind: SourceKind,
    join: Option<JoinKey>,
    sources: Vec<String>,
    steps: Vec<Step>,
    /// Key columns after PARTITION BY (the source's keys without it), by name.
    keys: Vec<String>,
    /// The PARTITION BY expressions, as written, per key.
    partition_exprs: Vec<String>,
    partition_by_null: bool,
    /// GROUP BY: the result is a table keyed by the grouping expressions.
    aggregated: bool,
    /// The result's rows are windowed (a windowed aggregation, or a windowed source): WINDOWSTART and
    /// WINDOWEND are in scope and follow the keys in the output.
    window: Option<WindowKind>,
    items: Vec<Projected>,
    rowtime: Typed,
    hidden: Vec<Typed>,
    scope: Scope,
    /// A join of sources that are not co-partitioned: refused after every other check, as
    /// ksqlDB refuses it when it builds the topology.
    copartitioning: Option<Copartitioning>,
}

fn unsupported(select: &Select) -> Result<()> {
    if select.window.is_some() && select.group_by.is_empty() {
        return Err(PlanError::new("WINDOW clause requires a GROUP BY clause."));
    }
    if select.emit == Some(EmitMode::Final) && select.window.is_none() {
        return Err(PlanError::new("EMIT FINAL is only supported for windowed aggregations."));
    }
    if select.having.is_some() && select.group_by.is_empty() {
        return Err(PlanError::new("HAVING requires a GROUP BY clause."));
    }
    if !select.group_by.is_empty() && !select.partition_by.is_empty() {
        return Err(PlanError::new("A query cannot have both GROUP BY and PARTITION BY."));
    }
    Ok(())
}

fn ident(name: &str) -> sql::Expr {
    sql::Expr::Identifier(sql::Ident::with_quote('`', name.to_string()))
}

fn is_null_literal(e: &sql::Expr) -> bool {
    matches!(e, sql::Expr::Value(v) if v.value == sql::Value::Null)
}

/// Aggregates whose running state ksqlDB keeps as a STRUCT, ARRAY or MAP in the source's value
/// format: DELIMITED cannot hold it, and ksqlDB refuses them (and any GROUP BY over KAFKA values).
const STRUCTURED_STATE: &[&str] = &[
    "ATTR",
    "AVG",
    "COLLECT_LIST",
    "COLLECT_SET",
    "CORRELATION",
    "COUNT_DISTINCT",
    "EARLIEST_BY_OFFSET",
    "HISTOGRAM",
    "LATEST_BY_OFFSET",
    "STDDEV_POP",
    "STDDEV_SAMP",
    "STDDEV_SAMPLE",
    "TOPK",
    "TOPKDISTINCT",
];

fn refuse_intermediate_state(exprs: &[&sql::Expr], source: &Source) -> Result<()> {
    if source.value_format.format == Format::Kafka {
        return Err(PlanError::new(format!(
            "Source(s) {} are using the 'KAFKA' value format. This format does not yet support GROUP BY.",
            source.name
        )));
    }
    if source.value_format.format != Format::Delimited {
        return Ok(());
    }
    for e in exprs {
        let found = sql::visit_expressions(*e, |x: &sql::Expr| match x {
            sql::Expr::Function(f) if STRUCTURED_STATE.contains(&object_name(&f.name).to_uppercase().as_str()) => {
                std::ops::ControlFlow::Break(())
            }
            _ => std::ops::ControlFlow::Continue(()),
        });
        if found.is_break() {
            return Err(PlanError::new(
                "One of the functions used in the statement has an intermediate type that the value format can not handle. Please remove the function or change the format.",
            ));
        }
    }
    Ok(())
}

/// `ksql.functions.collect_list.limit` / `ksql.functions.collect_set.limit` from the session, for the
/// COLLECT_LIST / COLLECT_SET calls of a persistent query.
fn apply_collect_limits(steps: &mut [Step], session: &BTreeMap<String, String>) -> Result<()> {
    let limit = |key: &str| -> Result<Option<usize>> {
        match session.get(key) {
            None => Ok(None),
            Some(v) => v.trim().parse::<usize>().map(Some).map_err(|_| {
                PlanError::new(format!("Invalid value {v} for configuration {key}: a non-negative number is expected"))
            }),
        }
    };
    let (list, set) = (limit("ksql.functions.collect_list.limit")?, limit("ksql.functions.collect_set.limit")?);
    for step in steps {
        let Step::Aggregate { calls, .. } = step else { continue };
        for call in calls {
            match (&mut call.function, list, set) {
                (AggregateFunction::CollectList { limit }, Some(n), _)
                | (AggregateFunction::CollectSet { limit }, _, Some(n)) => *limit = n,
                _ => {}
            }
        }
    }
    Ok(())
}

/// A synthetic column name not yet used.
fn synthetic_name(counter: &mut usize, used: &HashSet<String>) -> String {
    loop {
        let n = format!("KSQL_COL_{counter}");
        *counter += 1;
        if !used.contains(&n) {
            return n;
        }
    }
}

/// Plans source, WHERE, PARTITION BY (applied to the input, as ksqlDB does) and the projection.
/// With `star_bounds`, `*` over windowed rows includes WINDOWSTART and WINDOWEND (push queries).
fn plan_select(select: &Select, catalog: &Catalog, star_bounds: bool) -> Result<SelectPlan> {
    unsupported(select)?;
    let FromPlan { input, source, kind, scope: scope0, qualifier, join, sources, copartitioning, .. } =
        plan_from(&select.from, catalog)?;
    let planner0 = ExprPlanner::new(&scope0);
    let mut steps = Vec::new();
    if let (Some(w), Some(_), None) = (&select.selection, &select.window, source.window) {
        if let Some(b) = window_bound(w) {
            return Err(PlanError::new(format!("Error in WHERE expression: Unknown column {b}.")));
        }
    }
    let selection = select.selection.as_ref().map(crate::time_literals::rewrite_time_literals).transpose()?;
    if let Some(w) = &selection {
        let t = planner0.plan(w).map_err(|e| {
            if let (Some(rest), true) = (e.message.strip_prefix("Column '"), e.message.ends_with("cannot be resolved."))
            {
                PlanError { message: format!("WHERE column '{rest}"), ..e }
            } else if e.message.starts_with("Cannot compare") || e.message.starts_with("Error processing") {
                PlanError { message: format!("Error in WHERE expression: {}", e.message), ..e }
            } else {
                e
            }
        })?;
        if t.ty != SqlType::Boolean && !t.null_literal {
            return Err(PlanError::at(
                format!(
                    "Type error in WHERE expression: Should evaluate to boolean but is {} ({}) instead.",
                    crate::expr::ksql_format(w),
                    t.ty
                ),
                w.span().start,
            ));
        }
        let t = cast_to(t, &SqlType::Boolean)?;
        if kind == SourceKind::Table {
            steps.push(Step::TableFilter { predicate: t.expr, text: w.to_string(), keys: None });
        } else {
            steps.push(Step::Filter { predicate: t.expr, text: w.to_string() });
        }
    }
    let col = |scope: &Scope, name: &str| -> Result<Typed> { ExprPlanner::new(scope).plan(&ident(name)) };
    let key_names: Vec<String> =
        if join.is_some() { Vec::new() } else { source.key_columns().map(|c| c.name.clone()).collect() };
    let value_names: Vec<String> = source.columns.iter().filter(|c| !c.is_key()).map(|c| c.name.clone()).collect();
    let partition_by_null = select.partition_by.len() == 1 && is_null_literal(&select.partition_by[0]);
    let mut synthetic = 0usize;
    let aggregated = !select.group_by.is_empty();
    let mut window = if join.is_none() { source.window } else { None };
    if window.is_some() && !select.partition_by.is_empty() {
        return Err(PlanError::new(
            "Implicit repartitioning of windowed sources is not supported. See https://github.com/confluentinc/ksql/issues/4385.",
        ));
    }
    let mut projection: Vec<SelectItem> = select.projection.clone();
    let table_function = first_table_function(&projection);
    if let Some(call) = &table_function {
        let refuse = |message: &str| Err(PlanError::at(message, call.span().start));
        if aggregated {
            return refuse("Table functions cannot be used with aggregations.");
        }
        if kind == SourceKind::Table {
            return refuse("Table source is not supported with table functions");
        }
    }
    let (scope, keys, partition_exprs) = if aggregated {
        // Over a table, the aggregation tells its rows apart by the table's key (a join's key).
        let table_keys: Vec<sql::Expr> = match (kind, &join) {
            (SourceKind::Stream, _) => Vec::new(),
            (SourceKind::Table, None) => key_names.iter().map(|k| ident(k)).collect(),
            (SourceKind::Table, Some(j)) => {
                let c = &scope0.columns[j.index];
                vec![match &c.qualifier {
                    Some(q) => qualified(q, &c.name),
                    None => ident(&c.name),
                }]
            }
        };
        let mut exprs: Vec<&sql::Expr> = select
            .projection
            .iter()
            .filter_map(|i| match i {
                SelectItem::Expr { expr, .. } => Some(expr.as_ref()),
                SelectItem::Wildcard { .. } => None,
            })
            .collect();
        if let Some(h) = &select.having {
            exprs.push(h);
        }
        refuse_intermediate_state(&exprs, &source)?;
        let windows = select.window.as_ref().map(|w| windowing(w, select.emit == Some(EmitMode::Final))).transpose()?;
        if let (Some(_), Some(h)) = (&windows, &select.having) {
            if let Some(b) = window_bound(h) {
                return Err(bounds_only_in_select(&b));
            }
        }
        let (agg, rewritten) = plan_aggregation(&select.group_by, &exprs, &scope0, &qualifier, windows, &table_keys)?;
        window = agg.window;
        steps.extend(agg.steps);
        let mut rewritten = rewritten.into_iter();
        for item in projection.iter_mut() {
            if let SelectItem::Expr { expr, alias } = item {
                let original = expr.clone();
                let new = rewritten.next().unwrap_or_else(|| (*original).clone());
                // Keep the name the unrewritten expression would have had.
                if alias.is_none() {
                    *alias = derived_name(&original);
                }
                **expr = new;
            }
        }
        if let Some(h) = &select.having {
            let h_rewritten = rewritten.next().unwrap_or_else(|| h.clone());
            let t = ExprPlanner::new(&agg.scope).plan(&h_rewritten).map_err(|e| {
                match e.message.strip_prefix("Column '").filter(|_| e.message.ends_with("cannot be resolved.")) {
                    Some(rest) => {
                        let column = rest.split('\'').next().unwrap_or_default().to_string();
                        PlanError {
                            message: format!("Non-aggregate HAVING expression not part of GROUP BY: {column}"),
                            ..e
                        }
                    }
                    None => e,
                }
            })?;
            let t = cast_to(t, &SqlType::Boolean)?;
            // The filter tracks rows by key (and window).
            let keys = agg.keys.len() + if window.is_some() { WINDOW_BOUNDS.len() } else { 0 };
            steps.push(Step::TableFilter { predicate: t.expr, text: h.to_string(), keys: Some(keys) });
        }
        let group_texts = select.group_by.iter().map(|g| g.to_string()).collect();
        (agg.scope, agg.keys, group_texts)
    } else if select.partition_by.is_empty() {
        (scope0.clone(), key_names.clone(), Vec::new())
    } else {
        // New keys: the PARTITION BY expressions. Values: the old values without the columns that
        // became keys, then the old keys.
        let mut new_keys: Vec<(String, Typed)> = Vec::new();
        let mut moved: HashSet<String> = HashSet::new();
        let mut moved_index: HashSet<usize> = HashSet::new();
        let mut texts = Vec::new();
        if !partition_by_null {
            let used: HashSet<String> = source.columns.iter().map(|c| c.name.clone()).collect();
            for pb in &select.partition_by {
                let t = planner0.plan(pb).map_err(|e| match e.message.strip_prefix("Column '") {
                    Some(rest) => {
                        let name = rest.split('\'').next().unwrap_or_default().to_string();
                        PlanError { message: format!("PARTITION BY column '{name}' cannot be resolved. '{name}' must be a column in the source schema since PARTITION BY is applied on the input."), ..e }
                    }
                    None => e,
                })?;
                let name = match pb {
                    sql::Expr::Identifier(_) | sql::Expr::CompoundIdentifier(_) if join.is_some() => {
                        if let Some(i) = scope0.index_of(pb) {
                            moved_index.insert(i);
                        }
                        join_name(pb, join.as_ref().map(|_| &scope0)).unwrap_or_default()
                    }
                    sql::Expr::Identifier(_) | sql::Expr::CompoundIdentifier(_) => {
                        let n = derived_name(pb).unwrap_or_default();
                        moved.insert(n.clone());
                        n
                    }
                    sql::Expr::BinaryOp { op: BinaryOperator::Arrow, .. } => {
                        derived_name(pb).unwrap_or_else(|| synthetic_name(&mut synthetic, &used))
                    }
                    _ => synthetic_name(&mut synthetic, &used),
                };
                if matches!(t.ty, SqlType::Map(..)) {
                    return Err(PlanError::new(format!("Map keys, including types that contain maps, are not supported as they may lead to unexpected behavior due to inconsistent serialization. Key column name: `{name}`. Column type: {}. See https://github.com/confluentinc/ksql/issues/6621 for more.", t.ty)));
                }
                texts.push(if join.is_some() { pb.to_string() } else { qualify(pb, &source.name) });
                new_keys.push((name, t));
            }
        }
        let mut cols: Vec<(Option<String>, String, Typed)> = Vec::new();
        let own = if join.is_some() { None } else { Some(qualifier.clone()) };
        for pseudo in PSEUDO {
            cols.push((own.clone(), pseudo.to_string(), col(&scope0, pseudo)?));
        }
        for (n, t) in &new_keys {
            cols.push((own.clone(), n.clone(), t.clone()));
        }
        if join.is_some() {
            // Every source column keeps its qualifier; the moved ones are keys now.
            for (i, c) in scope0.columns.iter().enumerate() {
                let Some(q) = &c.qualifier else { continue };
                if !moved_index.contains(&i) {
                    let t = ExprPlanner::new(&scope0).plan(&qualified(q, &c.name))?;
                    cols.push((Some(q.clone()), c.name.clone(), t));
                }
            }
        } else {
            for n in value_names.iter().chain(key_names.iter()) {
                if !moved.contains(n) {
                    cols.push((Some(qualifier.clone()), n.clone(), col(&scope0, n)?));
                }
            }
        }
        for hidden in [HEADERS_COLUMN, VALUE_NULL_COLUMN] {
            cols.push((None, hidden.to_string(), col(&scope0, hidden)?));
        }
        let exprs = cols.iter().map(|(_, _, t)| t.expr.clone()).collect();
        let fields: Vec<_> = cols.iter().map(|(_, n, t)| arrow_field(n, &t.ty)).collect();
        let texts_step = cols.iter().map(|(_, n, t)| format!("{} AS {n}", t.expr)).collect();
        steps.push(Step::Project { exprs, schema: Arc::new(Schema::new(fields)), texts: texts_step });
        let scope = Scope::new(
            cols.iter()
                .map(|(q, n, t)| ScopeColumn { qualifier: q.clone(), name: n.clone(), ty: t.ty.clone() })
                .collect(),
        );
        (scope, new_keys.into_iter().map(|(n, _)| n).collect(), texts)
    };
    let scope =
        if table_function.is_some() { plan_table_functions(&mut projection, scope, &mut steps)? } else { scope };
    let planner = ExprPlanner::new(&scope);
    let partition_asts: Vec<String> = select.partition_by.iter().map(normalized).collect();
    let mut items = Vec::new();
    // Every SELECT expression of a GROUP BY query that is neither a group key nor made of aggregates,
    // as ksqlDB lists them.
    let mut stray: Vec<String> = Vec::new();
    for (i, item) in projection.iter().enumerate() {
        match item {
            SelectItem::Wildcard { qualifier: q } if join.is_some() => {
                // A join's star names every source column QUALIFIER_NAME, left to right.
                if let Some(q) = q {
                    if !scope.columns.iter().any(|c| c.qualifier.as_deref() == Some(q.as_str())) {
                        return Err(PlanError::new(format!("'{q}' is not a valid stream/table name or alias.")));
                    }
                }
                for c in &scope.columns {
                    let Some(cq) = &c.qualifier else { continue };
                    if q.as_ref().is_some_and(|q| q != cq) || PSEUDO.contains(&c.name.as_str()) {
                        continue;
                    }
                    let e = qualified(cq, &c.name);
                    items.push(Projected { name: format!("{cq}_{}", c.name), typed: planner.plan(&e)?, ast: Some(e) });
                }
            }
            SelectItem::Wildcard { qualifier: q } => {
                if let Some(q) = q {
                    if *q != qualifier {
                        return Err(PlanError::new(format!("'{q}' is not a valid stream/table name or alias.")));
                    }
                }
                let names: Vec<String> = scope
                    .columns
                    .iter()
                    .filter(|c| c.qualifier.is_some() && !PSEUDO.contains(&c.name.as_str()))
                    .filter(|c| !WINDOW_BOUNDS.contains(&c.name.as_str()))
                    .map(|c| c.name.clone())
                    .collect();
                // Keys first, (then the window bounds,) then values, in schema order.
                let (k, v): (Vec<String>, Vec<String>) = names.into_iter().partition(|n| keys.contains(n));
                let bounds: &[&str] = if star_bounds && window.is_some() { &WINDOW_BOUNDS } else { &[] };
                for n in k.into_iter().chain(bounds.iter().map(|b| b.to_string())).chain(v) {
                    let e = ident(&n);
                    items.push(Projected { name: n, typed: planner.plan(&e)?, ast: Some(e) });
                }
            }
            SelectItem::Expr { expr, alias } => {
                // An expression equal to a PARTITION BY expression is the key column it became.
                let pos = partition_asts.iter().position(|p| *p == normalized(expr));
                let ast = match pos {
                    Some(i) if !partition_by_null => ident(&keys[i]),
                    _ => (**expr).clone(),
                };
                let planned = planner.plan(&ast);
                if let Err(e) = &planned {
                    if aggregated && e.message.starts_with("Column '") && e.message.ends_with("cannot be resolved.") {
                        stray.push(match select.projection.get(i) {
                            Some(SelectItem::Expr { expr: shown, .. }) => crate::expr::ksql_display(shown),
                            _ => crate::expr::ksql_display(expr),
                        });
                        continue;
                    }
                }
                let typed = planned.map_err(|e| match e.message.strip_prefix("Column '") {
                    Some(rest) if e.message.ends_with("cannot be resolved.") => {
                        PlanError { message: format!("SELECT column '{rest}"), ..e }
                    }
                    // Casts are checked when the projection is compiled, which ksqlDB reports so.
                    None if e.message.starts_with("Cast of ") => {
                        PlanError { message: format!("Invalid Select: {}", e.message), ..e }
                    }
                    _ => e,
                })?;
                if typed.null_literal && matches!(&ast, sql::Expr::Value(v) if v.value == sql::Value::Null) {
                    return Err(PlanError::new(
                        "Can't infer a type of null. Please explicitly cast it to a required type, e.g. CAST(null AS VARCHAR).",
                    ));
                }
                let name = match alias {
                    Some(a) => a.clone(),
                    None => match pos {
                        Some(i) if !partition_by_null => keys[i].clone(),
                        _ => join_name(&ast, join.as_ref().map(|_| &scope0))
                            .filter(|n| !n.starts_with('$'))
                            .unwrap_or_else(|| {
                                let used: HashSet<String> = items
                                    .iter()
                                    .map(|i: &Projected| i.name.clone())
                                    .chain(keys.iter().cloned())
                                    .collect();
                                synthetic_name(&mut synthetic, &used)
                            }),
                    },
                };
                items.push(Projected { name, typed, ast: Some(ast) });
            }
        }
    }
    if !stray.is_empty() {
        return Err(PlanError::new(format!(
            "Non-aggregate SELECT expression(s) not part of GROUP BY: {}\nEither add the column(s) to the GROUP BY or remove them from the SELECT.",
            stray.join(", ")
        )));
    }
    let mut names = HashSet::new();
    for i in &items {
        if !names.insert(i.name.clone()) {
            return Err(PlanError::new(format!("Duplicate value columns found in schema: `{}`", i.name)));
        }
        if RESERVED.contains(&i.name.as_str())
            && !matches!(&i.ast, Some(e) if derived_name(e).as_deref() == Some(i.name.as_str()))
        {
            return Err(PlanError::new(format!(
                "`{}` is a reserved column name. You cannot use it as an alias for a column.",
                i.name
            )));
        }
    }
    let rowtime = col(&scope, "ROWTIME")?;
    let hidden = vec![col(&scope, HEADERS_COLUMN)?, col(&scope, VALUE_NULL_COLUMN)?];
    Ok(SelectPlan {
        source,
        input,
        kind,
        join,
        sources,
        steps,
        keys,
        partition_exprs,
        partition_by_null,
        aggregated,
        window,
        items,
        rowtime,
        hidden,
        scope,
        copartitioning,
    })
}

/// An expression as ksqlDB prints it in messages: column references qualified by the source name.
fn qualify(e: &sql::Expr, source: &str) -> String {
    let mut e = e.clone();
    let _ = sql::visit_expressions_mut(&mut e, |x: &mut sql::Expr| {
        match x {
            sql::Expr::Identifier(i) => {
                *x = sql::Expr::CompoundIdentifier(vec![sql::Ident::new(source), sql::Ident::new(fold_ident(i))]);
            }
            sql::Expr::CompoundIdentifier(parts) => {
                for p in parts.iter_mut() {
                    *p = sql::Ident::new(fold_ident(p));
                }
            }
            _ => {}
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
    e.to_string()
}

/// Pseudo-columns every source has.
const PSEUDO: [&str; 3] = ["ROWTIME", "ROWPARTITION", "ROWOFFSET"];

fn reserved_in_select(name: &str) -> PlanError {
    PlanError::new(format!("Reserved column name in select: `{name}`. Please remove or alias the column."))
}

fn qualified(q: &str, name: &str) -> sql::Expr {
    sql::Expr::CompoundIdentifier(vec![
        sql::Ident::with_quote('`', q.to_string()),
        sql::Ident::with_quote('`', name.to_string()),
    ])
}

/// In a join, a qualified column `L.A` is named `L_A` when more than one source has a column `A`;
/// otherwise as `derived_name`.
fn join_name(e: &sql::Expr, join_scope: Option<&Scope>) -> Option<String> {
    match (e, join_scope) {
        (sql::Expr::CompoundIdentifier(parts), Some(scope)) if parts.len() == 2 => {
            let name = fold_ident(&parts[1]);

            let sources: HashSet<&str> =
                scope.columns.iter().filter(|c| c.name == name).filter_map(|c| c.qualifier.as_deref()).collect();
            if sources.len() > 1 {
                Some(format!("{}_{name}", fold_ident(&parts[0])))
            } else {
                Some(name)
            }
        }
        _ => derived_name(e),
    }
}

/// The name ksqlDB gives an unaliased select item: the column, or the struct field for `a->b`.
fn derived_name(e: &sql::Expr) -> Option<String> {
    match e {
        sql::Expr::Identifier(i) => Some(fold_ident(i)),
        sql::Expr::CompoundIdentifier(parts) => parts.last().map(fold_ident),
        sql::Expr::BinaryOp { op: BinaryOperator::Arrow, right, .. } => derived_name(right),
        sql::Expr::Nested(inner) => derived_name(inner),
        _ => None,
    }
}

/// The final projection: ROWTIME, the columns, then the hidden columns.
fn project_step(rowtime: Typed, cols: &[(String, Typed)], hidden: &[Typed]) -> Step {
    let mut exprs = vec![rowtime.expr];
    let mut fields = vec![arrow_field("ROWTIME", &SqlType::Bigint)];
    let mut texts = Vec::new();
    for (name, t) in cols {
        exprs.push(t.expr.clone());
        fields.push(arrow_field(name, &t.ty));
        texts.push(format!("{} AS {name}", t.expr));
    }
    for (t, name) in hidden.iter().zip([HEADERS_COLUMN, VALUE_NULL_COLUMN]) {
        exprs.push(t.expr.clone());
        fields.push(arrow_field(name, &t.ty));
    }
    Step::Project { exprs, schema: Arc::new(Schema::new(fields)), texts }
}

/// Plans a push query (`SELECT ... EMIT CHANGES`): all selected columns go to the client.
pub fn plan_push(select: &Select, catalog: &Catalog) -> Result<PlannedQuery> {
    let plan = plan_select(select, catalog, true)?;
    let SelectPlan { source, input, sources, mut steps, items, rowtime, hidden, copartitioning, .. } = plan;
    if let Some(c) = copartitioning {
        return Err(c.error());
    }
    let cols: Vec<(String, Typed)> = items.iter().map(|i| (i.name.clone(), i.typed.clone())).collect();
    steps.push(project_step(rowtime, &cols, &hidden));
    let columns: Vec<OutputColumn> =
        items.iter().map(|i| OutputColumn { name: i.name.clone(), ty: i.typed.ty.clone(), key: false }).collect();
    let sink = SinkSpec {
        name: "client".into(),
        topic: None,
        kind: SourceKind::Stream,
        key_format: source.key_format.clone(),
        value_format: source.value_format.clone(),
        key_columns: Vec::new(),
        value_columns: columns.iter().map(|c| (c.name.clone(), c.ty.clone())).collect(),
        partitions: source.partitions,
        partition_by: None,
        source_key: false,
        window: None,
        fail_on_production_error: false,
    };
    Ok(PlannedQuery { dataflow: Dataflow { input, steps, sink }, columns, sources })
}

/// Finds, for each key column, the one projection item that is a bare reference to it.
fn key_items(plan: &SelectPlan, sink_name: &str) -> Result<Vec<usize>> {
    let planner = ExprPlanner::new(&plan.scope);
    let refers_to = |e: &sql::Expr, key: &str| -> bool {
        matches!(e, sql::Expr::Identifier(_) | sql::Expr::CompoundIdentifier(_))
            && derived_name(e).as_deref() == Some(key)
            && planner.plan(e).is_ok()
    };
    let mut out = Vec::new();
    let mut missing = Vec::new();
    for (k, key) in plan.keys.iter().enumerate() {
        let found: Vec<usize> = plan
            .items
            .iter()
            .enumerate()
            .filter(|(_, i)| i.ast.as_ref().is_some_and(|e| refers_to(e, key)))
            .map(|(n, _)| n)
            .collect();
        match found.as_slice() {
            [] => missing.push(plan.partition_exprs.get(k).cloned().unwrap_or_else(|| key.clone())),
            [one] => out.push(*one),
            many => {
                let names: Vec<&str> = many.iter().map(|i| plan.items[*i].name.as_str()).collect();
                return Err(PlanError::new(format!(
                    "The projection contains a key column (`{key}`) more than once, aliased as: {}.",
                    names.join(" and ")
                )));
            }
        }
    }
    if !missing.is_empty() {
        // ksqlDB names every key when any is missing.
        let missing: Vec<String> =
            if plan.partition_exprs.is_empty() { plan.keys.clone() } else { plan.partition_exprs.clone() };
        let (what, list) = if plan.partition_exprs.is_empty() {
            (if missing.len() == 1 { "key column" } else { "key columns" }, missing.join(" and "))
        } else if plan.aggregated {
            (if missing.len() == 1 { "grouping expression" } else { "grouping expressions" }, missing.join(" and "))
        } else {
            (
                if missing.len() == 1 { "partitioning expression" } else { "partitioning expressions" },
                missing.join(" and "),
            )
        };
        return Err(PlanError::new(format!(
            "Key missing from projection (ie, SELECT).\nThe query used to build `{sink_name}` must include the {what} {list} in its projection (eg, SELECT {}...).",
            missing.join(", ")
        )));
    }
    Ok(out)
}

/// A join's key column in the projection: the first item naming the key or a join column.
/// Its value is the join key itself (a LEFT join's right column may be NULL where the key is not).
fn join_key_item(plan: &SelectPlan, join: &JoinKey, sink_name: &str) -> Result<usize> {
    let resolved: Vec<Option<usize>> =
        plan.items.iter().map(|i| i.ast.as_ref().and_then(|e| plan.scope.index_of(e))).collect();
    let is_key = |i: usize| i == join.index || join.candidates.contains(&i);
    let Some(first) = resolved.iter().position(|r| r.is_some_and(is_key)) else {
        let message = if let Some((table, column)) = &join.foreign {
            format!(
                "Primary key column missing in projection. For foreign-key table-table joins, the projection must include all primary key columns from the left input table (`{table}`). Missing column: `{column}`."
            )
        } else if join.synthetic {
            let name = &plan.scope.columns[join.index].name;
            format!(
                "Key missing from projection (ie, SELECT). See https://cnfl.io/2LV7ouS.\nThe query used to build `{sink_name}` must include the join expression {name} in its projection (eg, SELECT {name}...).\n{name} was added as a synthetic key column because the join criteria did not match any source column. This expression must be included in the projection and may be aliased."
            )
        } else {
            let list = match join.texts.as_slice() {
                [one] => format!("join expression {one}"),
                [init @ .., last] => format!("join expressions {} or {last}", init.join(", ")),
                [] => "join expression".to_string(),
            };
            format!(
                "Key missing from projection (ie, SELECT). See https://cnfl.io/2LV7ouS.\nThe query used to build `{sink_name}` must include the {list} in its projection (eg, SELECT {}...).",
                join.texts.first().cloned().unwrap_or_default()
            )
        };
        return Err(PlanError::new(message));
    };
    let same: Vec<&str> = resolved
        .iter()
        .enumerate()
        .filter(|(_, r)| **r == resolved[first])
        .map(|(i, _)| plan.items[i].name.as_str())
        .collect();
    if same.len() > 1 {
        let mut names = same.clone();
        names.sort_unstable();
        // A foreign-key join's key column is named after the left table, as ksqlDB names it.
        let key = match &join.foreign {
            Some((table, column)) => format!("{table}_{column}"),
            None => plan.items[first].name.clone(),
        };
        return Err(PlanError::new(format!(
            "The projection contains a key column (`{key}`) more than once, aliased as: {}.",
            names.join(" and ")
        )));
    }
    Ok(first)
}

/// Plans CREATE STREAM AS SELECT and INSERT INTO ... SELECT.
pub fn plan_persistent(select: &Select, catalog: &Catalog, sink: SinkRequest<'_>) -> Result<PersistentPlan> {
    // Window bounds are named before they are resolved: ksqlDB rejects them whatever the source.
    for item in &select.projection {
        if let SelectItem::Expr { expr, alias } = item {
            let derived = derived_name(expr.as_ref());
            let name = alias.clone().or_else(|| derived.clone());
            if let Some(name) = name.filter(|n| WINDOW_BOUNDS.contains(&n.as_str()) && derived.as_ref() == Some(n)) {
                return Err(reserved_in_select(&name));
            }
        }
    }
    let mut plan = plan_select(select, catalog, false)?;
    apply_collect_limits(&mut plan.steps, sink.session)?;
    if plan.kind == SourceKind::Table && plan.source.window.is_some() && plan.join.is_none() {
        return Err(PlanError::new("KSQL does not support persistent queries on windowed tables."));
    }
    let result_kind = if plan.aggregated { SourceKind::Table } else { plan.kind };
    match (sink.kind, result_kind) {
        (SourceKind::Stream, SourceKind::Table) => {
            return Err(PlanError::new(
                "Invalid result type. Your SELECT query produces a TABLE. Please use CREATE TABLE AS SELECT statement instead.",
            ))
        }
        (SourceKind::Table, SourceKind::Stream) => {
            return Err(PlanError::new(
                "Invalid result type. Your SELECT query produces a STREAM. Please use CREATE STREAM AS SELECT statement instead.",
            ))
        }
        (SourceKind::Table, SourceKind::Table) if !select.partition_by.is_empty() => {
            return Err(PlanError::new("PARTITION BY is not supported on tables: a table's key cannot be changed."))
        }
        _ => {}
    }
    let mut key_idx = match &plan.join {
        Some(join) if !plan.aggregated && select.partition_by.is_empty() => {
            let i = join_key_item(&plan, join, sink.name)?;
            plan.items[i].typed = ExprPlanner::new(&plan.scope).plan(&ident(&plan.scope.columns[join.index].name))?;
            vec![i]
        }
        _ => key_items(&plan, sink.name)?,
    };
    // ksqlDB's new planner orders key columns as the projection does; the default keeps key order.
    if sink.session.get("ksql.new.query.planner.enabled").is_some_and(|v| v == "true") {
        key_idx.sort_unstable();
    }
    for item in &plan.items {
        if RESERVED.contains(&item.name.as_str()) {
            return Err(reserved_in_select(&item.name));
        }
    }
    if sink.existing.is_none() && key_idx.len() == plan.items.len() {
        return Err(PlanError::new("The projection contains no value columns."));
    }
    let keys: Vec<&Projected> = key_idx.iter().map(|i| &plan.items[*i]).collect();
    let values: Vec<&Projected> =
        plan.items.iter().enumerate().filter(|(i, _)| !key_idx.contains(i)).map(|(_, p)| p).collect();
    let mut columns: Vec<OutputColumn> =
        keys.iter().map(|p| OutputColumn { name: p.name.clone(), ty: p.typed.ty.clone(), key: true }).collect();
    columns.extend(values.iter().map(|p| OutputColumn { name: p.name.clone(), ty: p.typed.ty.clone(), key: false }));
    let source = &plan.source;

    let (sink_source, value_types) = match sink.existing {
        Some(target) => {
            if target.window != plan.window {
                let windowed = |w: &Option<WindowKind>| if w.is_some() { "windowed" } else { "not windowed" };
                return Err(PlanError::new(format!(
                    "Incompatible data sink and query result. Data sink ({}) is {} but the query result is {}.",
                    target.name,
                    windowed(&target.window),
                    windowed(&plan.window)
                )));
            }
            check_insert_schema(target, &columns)?;
            let value_types: Vec<(String, SqlType)> =
                target.value_columns().map(|c| (c.name.clone(), c.ty.clone())).collect();
            (target.clone(), value_types)
        }
        None => {
            let (mut key_format, mut value_format) =
                formats(sink.properties, sink.session, Some((&source.key_format, &source.value_format)))?;
            if keys.is_empty() {
                if sink.properties.get("KEY_FORMAT").is_some()
                    || sink.properties.get("FORMAT").is_some() && plan.partition_by_null
                {
                    return Err(PlanError::new("Key format specified for stream without key columns."));
                }
                key_format = FormatSpec::new(Format::None);
            } else if key_format.format == Format::None
                && sink.properties.get("KEY_FORMAT").is_none()
                && sink.properties.get("FORMAT").is_none()
            {
                // An inherited NONE key format cannot carry the new key: use the default key format.
                let default = sink.session.get("ksql.persistence.default.format.key").map(String::as_str);
                key_format = FormatSpec::new(Format::parse(default.unwrap_or("KAFKA"))?);
            }
            let cols: Vec<Column> = columns
                .iter()
                .map(|c| Column::new(&c.name, c.ty.clone(), if c.key { ColumnKind::Key } else { ColumnKind::Value }))
                .collect();
            default_wrapping(&mut value_format, &cols, sink.session);
            check_codecs(&key_format, &value_format, &cols)?;
            let prefix = sink.session.get("ksql.output.topic.name.prefix").cloned().unwrap_or_default();
            let topic = sink.properties.get("KAFKA_TOPIC").unwrap_or_else(|| format!("{prefix}{}", sink.name));
            let partitions = match sink.properties.get("PARTITIONS") {
                Some(p) => match p.parse::<i32>().ok().filter(|p| *p > 0) {
                    Some(n) if n > eddy_catalog::max_partitions() => {
                        return Err(PlanError::new(format!(
                            "Invalid PARTITIONS: {p}: at most {} partitions",
                            eddy_catalog::max_partitions()
                        ))
                        .of_kind(PlanErrorKind::LimitExceeded))
                    }
                    Some(n) => n,
                    None => return Err(PlanError::new(format!("Invalid PARTITIONS: {p}"))),
                },
                None => source.partitions,
            };
            let timestamp = timestamp_spec(sink.properties, &cols)?;
            let value_types = cols.iter().filter(|c| !c.is_key()).map(|c| (c.name.clone(), c.ty.clone())).collect();
            let s = Source {
                name: sink.name.to_string(),
                kind: sink.kind,
                columns: cols,
                topic,
                key_format,
                value_format,
                timestamp,
                partitions,
                window: plan.window,
                is_source: false,
                statement: sink.statement.to_string(),
            };
            (s, value_types)
        }
    };
    // The sink timestamp: the sink's TIMESTAMP column if set, else the input ROWTIME.
    let ts_expr = match &sink_source.timestamp {
        Some(ts) => plan
            .items
            .iter()
            .find(|i| i.name == ts.column)
            .map(|i| cast_to(i.typed.clone(), &SqlType::Bigint))
            .transpose()?
            .unwrap_or_else(|| plan.rowtime.clone()),
        None => plan.rowtime.clone(),
    };
    let key_cols: Vec<(String, Typed)> = keys
        .iter()
        .zip(sink_source.key_columns())
        .map(|(p, c)| Ok((c.name.clone(), cast_to(p.typed.clone(), &c.ty)?)))
        .collect::<Result<_>>()?;
    let value_cols: Vec<(String, Typed)> = values
        .iter()
        .zip(&value_types)
        .map(|(p, (n, t))| Ok((n.clone(), cast_to(p.typed.clone(), t)?)))
        .collect::<Result<_>>()?;
    let mut all = key_cols.clone();
    if plan.window.is_some() {
        for bound in WINDOW_BOUNDS {
            all.push((bound.to_string(), ExprPlanner::new(&plan.scope).plan(&ident(bound))?));
        }
    }
    all.extend(value_cols.iter().cloned());
    let mut steps = plan.steps.clone();
    steps.push(project_step(ts_expr, &all, &plan.hidden));
    let partition_by = if select.partition_by.is_empty() {
        None
    } else {
        Some(select.partition_by.iter().map(|e| e.to_string()).collect::<Vec<_>>().join(", "))
    };
    let sink_spec = SinkSpec {
        name: sink_source.name.clone(),
        topic: Some(sink_source.topic.clone()),
        kind: sink_source.kind,
        key_format: sink_source.key_format.clone(),
        value_format: sink_source.value_format.clone(),
        key_columns: key_cols.iter().map(|(n, t)| (n.clone(), t.ty.clone())).collect(),
        value_columns: value_cols.iter().map(|(n, t)| (n.clone(), t.ty.clone())).collect(),
        partitions: sink_source.partitions,
        source_key: partition_by.is_none() && !plan.aggregated && plan.join.is_none(),
        partition_by,
        window: plan.window,
        fail_on_production_error: false,
    };
    if let Some(c) = &plan.copartitioning {
        return Err(c.error());
    }
    Ok(PersistentPlan {
        query: PlannedQuery {
            dataflow: Dataflow { input: plan.input.clone(), steps, sink: sink_spec },
            columns,
            sources: plan.sources.clone(),
        },
        sink: sink_source,
    })
}

/// Expression text compared case-insensitively (unquoted identifiers fold).
fn normalized(e: &sql::Expr) -> String {
    e.to_string().to_uppercase().replace(' ', "")
}

/// INSERT INTO requires the query's schema to match the target's.
fn check_insert_schema(target: &Source, columns: &[OutputColumn]) -> Result<()> {
    let expected: Vec<(bool, &str, &SqlType)> =
        target.key_columns().chain(target.value_columns()).map(|c| (c.is_key(), c.name.as_str(), &c.ty)).collect();
    let got: Vec<(bool, &str, &SqlType)> = columns.iter().map(|c| (c.key, c.name.as_str(), &c.ty)).collect();
    if expected != got {
        let show = |v: &[(bool, &str, &SqlType)]| {
            v.iter()
                .map(|(k, n, t)| format!("`{n}` {t}{}", if *k { " KEY" } else { "" }))
                .collect::<Vec<_>>()
                .join(", ")
        };
        return Err(PlanError::new(format!(
            "Incompatible schema between results and sink.\nResult schema is {}\nSink schema is {}",
            show(&got),
            show(&expected)
        )));
    }
    Ok(())
}
