//! Planning SELECTs: push queries to the client, and persistent queries (CSAS, INSERT INTO) to a sink topic,
//! with ksqlDB's rules for output names, key columns and PARTITION BY.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use arrow::datatypes::Schema;
use eddy_catalog::{arrow_field, Catalog, Column, ColumnKind, Source, SourceKind, SqlType};
use eddy_parser::{fold_ident, Properties, Select, SelectItem};
use eddy_runtime::{Dataflow, SinkSpec, Step};
use sqlparser::ast::{self as sql, BinaryOperator, Spanned};

use crate::error::{PlanError, Result};
use crate::expr::{cast_to, ExprPlanner, Typed};
use crate::sources::{check_codecs, formats, source_spec, timestamp_spec};

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

fn unsupported(select: &Select) -> Result<()> {
    let at = |msg: &str| Err(PlanError::new(msg));
    if !select.from.joins.is_empty() {
        return at("Joins are not supported yet.");
    }
    if select.window.is_some() {
        return at("Windowed aggregations are not supported yet.");
    }
    if !select.group_by.is_empty() || select.having.is_some() {
        return at("Aggregations (GROUP BY / HAVING) are not supported yet.");
    }
    Ok(())
}

/// Plans the shared part: source, filter and projection.
fn plan_select(select: &Select, catalog: &Catalog) -> Result<(Source, Vec<Step>, Vec<Projected>, Typed)> {
    unsupported(select)?;
    let src_ref = &select.from.source;
    let source = catalog
        .source(&src_ref.name)
        .map_err(|_| PlanError::at_position(format!("{} does not exist.", src_ref.name), src_ref.position))?
        .clone();
    let qualifier = src_ref.alias.clone().unwrap_or_else(|| source.name.clone());
    let (_, scope) = source_spec(&source, &qualifier);
    let planner = ExprPlanner::new(&scope);
    let mut steps = Vec::new();
    if let Some(w) = &select.selection {
        let t = planner.plan(w)?;
        if t.ty != SqlType::Boolean && !t.null_literal {
            return Err(PlanError::at(
                format!("Type error in WHERE expression: Should evaluate to boolean but is {w} ({}) instead.", t.ty),
                w.span().start,
            ));
        }
        let t = cast_to(t, &SqlType::Boolean)?;
        steps.push(Step::Filter { predicate: t.expr, text: w.to_string() });
    }
    let mut items = Vec::new();
    let mut synthetic = 0usize;
    for item in &select.projection {
        match item {
            SelectItem::Wildcard { qualifier: q } => {
                if let Some(q) = q {
                    if *q != qualifier {
                        return Err(PlanError::new(format!("'{q}' is not a valid source alias; use '{qualifier}'")));
                    }
                }
                for c in source.key_columns().chain(source.columns.iter().filter(|c| !c.is_key())) {
                    let ident = sql::Expr::Identifier(sql::Ident::with_quote('`', c.name.clone()));
                    let typed = planner.plan(&ident)?;
                    items.push(Projected { name: c.name.clone(), typed, ast: Some(ident) });
                }
            }
            SelectItem::Expr { expr, alias } => {
                let typed = planner.plan(expr)?;
                let name = match alias {
                    Some(a) => a.clone(),
                    None => derived_name(expr).unwrap_or_else(|| {
                        let used: HashSet<String> = items.iter().map(|i: &Projected| i.name.clone()).collect();
                        loop {
                            let n = format!("KSQL_COL_{synthetic}");
                            synthetic += 1;
                            if !used.contains(&n) {
                                break n;
                            }
                        }
                    }),
                };
                items.push(Projected { name, typed, ast: Some((**expr).clone()) });
            }
        }
    }
    let mut names = HashSet::new();
    for i in &items {
        if !names.insert(i.name.clone()) {
            return Err(PlanError::new(format!("Duplicate value columns found in schema: `{}`", i.name)));
        }
    }
    let rowtime = planner.plan(&sql::Expr::Identifier(sql::Ident::new("ROWTIME")))?;
    Ok((source, steps, items, rowtime))
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

fn project_step(rowtime: Typed, cols: &[(String, Typed)]) -> Step {
    let mut exprs = vec![rowtime.expr];
    let mut fields = vec![arrow_field("ROWTIME", &SqlType::Bigint)];
    let mut texts = Vec::new();
    for (name, t) in cols {
        exprs.push(t.expr.clone());
        fields.push(arrow_field(name, &t.ty));
        texts.push(format!("{} AS {name}", t.expr));
    }
    Step::Project { exprs, schema: Arc::new(Schema::new(fields)), texts }
}

/// Plans a push query (`SELECT ... EMIT CHANGES`): all selected columns go to the client.
pub fn plan_push(select: &Select, catalog: &Catalog) -> Result<PlannedQuery> {
    let (source, mut steps, items, rowtime) = plan_select(select, catalog)?;
    let cols: Vec<(String, Typed)> = items.iter().map(|i| (i.name.clone(), i.typed.clone())).collect();
    steps.push(project_step(rowtime, &cols));
    let (spec, _) = source_spec(&source, &source.name);
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
    };
    Ok(PlannedQuery { dataflow: Dataflow { source: spec, steps, sink }, columns, sources: vec![source.name.clone()] })
}

/// Plans CREATE STREAM AS SELECT and INSERT INTO ... SELECT.
pub fn plan_persistent(select: &Select, catalog: &Catalog, sink: SinkRequest<'_>) -> Result<PersistentPlan> {
    if sink.kind == SourceKind::Table {
        return Err(PlanError::new("CREATE TABLE AS SELECT is not supported yet: it needs the stateful operators."));
    }
    let (source, mut steps, items, rowtime) = plan_select(select, catalog)?;
    if source.kind == SourceKind::Table {
        return Err(PlanError::new(format!(
            "Invalid result type. Your SELECT query produces a TABLE. Please use CREATE TABLE AS SELECT statement instead. (source {} is a table)",
            source.name
        )));
    }
    // Key columns: the PARTITION BY expressions, or else the source's key columns, which must be projected.
    let mut key_idx: Vec<usize> = Vec::new();
    let mut partition_text = None;
    let is_null = |e: &sql::Expr| matches!(e, sql::Expr::Value(v) if v.value == sql::Value::Null);
    if !select.partition_by.is_empty() {
        partition_text = Some(select.partition_by.iter().map(|e| e.to_string()).collect::<Vec<_>>().join(", "));
        if !(select.partition_by.len() == 1 && is_null(&select.partition_by[0])) {
            for pb in &select.partition_by {
                let text = normalized(pb);
                let found = items.iter().position(|i| i.ast.as_ref().map(normalized) == Some(text.clone()));
                match found {
                    Some(i) => key_idx.push(i),
                    None => {
                        return Err(PlanError::at(
                            format!("Key missing from projection (ie, SELECT).\nThe query used to build `{}` must include the partitioning expression {} in its projection (eg, SELECT {}...).", sink.name, pb, pb),
                            pb.span().start,
                        ))
                    }
                }
            }
        }
    } else {
        for k in source.key_columns() {
            let found = items.iter().position(|i| matches!(&i.ast, Some(e) if derived_name(e).as_deref() == Some(k.name.as_str()) && !matches!(e, sql::Expr::BinaryOp { .. })));
            match found {
                Some(i) => key_idx.push(i),
                None => {
                    return Err(PlanError::new(format!(
                        "Key missing from projection (ie, SELECT).\nThe query used to build `{}` must include the key column {} in its projection (eg, SELECT {}...).",
                        sink.name, k.name, k.name
                    )))
                }
            }
        }
    }
    let keys: Vec<&Projected> = key_idx.iter().map(|i| &items[*i]).collect();
    let values: Vec<&Projected> =
        items.iter().enumerate().filter(|(i, _)| !key_idx.contains(i)).map(|(_, p)| p).collect();
    let mut columns: Vec<OutputColumn> =
        keys.iter().map(|p| OutputColumn { name: p.name.clone(), ty: p.typed.ty.clone(), key: true }).collect();
    columns.extend(values.iter().map(|p| OutputColumn { name: p.name.clone(), ty: p.typed.ty.clone(), key: false }));

    let (sink_source, value_types) = match sink.existing {
        Some(target) => {
            check_insert_schema(target, &columns)?;
            let value_types: Vec<(String, SqlType)> =
                target.value_columns().map(|c| (c.name.clone(), c.ty.clone())).collect();
            (target.clone(), value_types)
        }
        None => {
            let (key_format, value_format) =
                formats(sink.properties, sink.session, Some((&source.key_format, &source.value_format)))?;
            let cols: Vec<Column> = columns
                .iter()
                .map(|c| Column::new(&c.name, c.ty.clone(), if c.key { ColumnKind::Key } else { ColumnKind::Value }))
                .collect();
            check_codecs(&key_format, &value_format, &cols)?;
            let prefix = sink.session.get("ksql.output.topic.name.prefix").cloned().unwrap_or_default();
            let topic = sink.properties.get("KAFKA_TOPIC").unwrap_or_else(|| format!("{prefix}{}", sink.name));
            let partitions = match sink.properties.get("PARTITIONS") {
                Some(p) => p
                    .parse::<i32>()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| PlanError::new(format!("Invalid PARTITIONS: {p}")))?,
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
                is_source: false,
                statement: sink.statement.to_string(),
            };
            (s, value_types)
        }
    };
    // The sink timestamp: the sink's TIMESTAMP column if set, else the input ROWTIME.
    let ts_expr = match &sink_source.timestamp {
        Some(ts) => items
            .iter()
            .find(|i| i.name == ts.column)
            .map(|i| cast_to(i.typed.clone(), &SqlType::Bigint))
            .transpose()?
            .unwrap_or(rowtime),
        None => rowtime,
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
    all.extend(value_cols.iter().cloned());
    steps.push(project_step(ts_expr, &all));
    let (spec, _) = source_spec(&source, &source.name);
    let sink_spec = SinkSpec {
        name: sink_source.name.clone(),
        topic: Some(sink_source.topic.clone()),
        kind: sink_source.kind,
        key_format: sink_source.key_format.clone(),
        value_format: sink_source.value_format.clone(),
        key_columns: key_cols.iter().map(|(n, t)| (n.clone(), t.ty.clone())).collect(),
        value_columns: value_cols.iter().map(|(n, t)| (n.clone(), t.ty.clone())).collect(),
        partitions: sink_source.partitions,
        partition_by: partition_text,
    };
    Ok(PersistentPlan {
        query: PlannedQuery {
            dataflow: Dataflow { source: spec, steps, sink: sink_spec },
            columns,
            sources: vec![source.name.clone()],
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
