//! Planning FROM clauses: one source, or left-deep joins of sources, with ksqlDB's join rules
//! (join kinds per source kind, key-only table joins, synthetic ROWKEY keys, equal key types).

use std::sync::Arc;

use arrow::datatypes::Schema;
use eddy_catalog::{arrow_field, Catalog, Source, SourceKind, SqlType, WindowKind, PSEUDO_COLUMNS};
use eddy_parser::{fold_ident, FromClause, Join, SourceRef};
use eddy_runtime::{Input, JoinBranch, JoinKind, JoinShape, JoinSpec, HEADERS_COLUMN, VALUE_NULL_COLUMN};
use sqlparser::ast::{self as sql, BinaryOperator};

use crate::error::{PlanError, PlanErrorKind, Result};
use crate::expr::{cast_to, ExprPlanner};
use crate::scope::{Scope, ScopeColumn};
use crate::sources::source_spec;

/// What a FROM clause reads and what its rows look like.
pub(crate) struct FromPlan {
    pub input: Input,
    /// The single source, or the leftmost source of a join (formats and partitions are inherited from it).
    pub source: Source,
    /// The kind of the rows: a join of two tables is a table, any join with a stream a stream.
    pub kind: SourceKind,
    pub scope: Scope,
    /// The single source's alias (or name).
    pub qualifier: String,
    pub join: Option<JoinKey>,
    /// Every source read, left to right.
    pub sources: Vec<String>,
    /// The partitions of the rows' source as ksqlDB counts them for co-partitioning: a single
    /// source's topic's, a join's right source's (ksqlDB's `JoinNode.getPartitions`).
    pub partitions: i32,
    /// The alias (or name) of the leftmost source: how co-partitioning errors name a join's left side.
    pub leftmost: String,
    /// A join whose sides are not co-partitioned. ksqlDB refuses it when it builds the topology,
    /// after every other check of the statement: the caller reports it last (see [`Copartitioning`]).
    pub copartitioning: Option<Copartitioning>,
}

/// Two sides of a key join whose topics have different partition counts: records with one key
/// would reach different tasks, so ksqlDB refuses the join (`JoinNode.ensureMatchingPartitionCounts`;
/// foreign-key joins have no such requirement). Sides are named by their leftmost source's alias.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Copartitioning {
    pub left: String,
    pub left_partitions: i32,
    pub right: String,
    pub right_partitions: i32,
}

impl Copartitioning {
    /// ksqlDB's refusal, word for word.
    pub fn error(&self) -> PlanError {
        let Self { left, left_partitions, right, right_partitions } = self;
        PlanError::new(format!(
            "Can't join `{left}` with `{right}` since the number of partitions don't match. `{left}` partitions = {left_partitions}; `{right}` partitions = {right_partitions}. Please repartition either one so that the number of partitions match."
        ))
        .of_kind(PlanErrorKind::NotCopartitioned)
    }
}

/// The key of a join's rows, and the columns a projection may use to name it.
#[derive(Debug, Clone)]
pub(crate) struct JoinKey {
    /// Scope index of the key column (`ROWKEY` when synthetic).
    pub index: usize,
    /// Scope indexes of source columns equal to the key (the sides' join columns).
    pub candidates: Vec<usize>,
    pub synthetic: bool,
    /// The join expressions as ksqlDB prints them, for messages.
    pub texts: Vec<String>,
    /// A foreign-key join: the left table's name and its primary key column (the output's key).
    pub foreign: Option<(String, String)>,
}

/// Plans the FROM clause.
pub(crate) fn plan_from(from: &FromClause, catalog: &Catalog) -> Result<FromPlan> {
    let first = lookup(catalog, &from.source)?;
    let qualifier = from.source.alias.clone().unwrap_or_else(|| first.name.clone());
    let (spec, scope) = source_spec(&first, &qualifier);
    let mut plan = FromPlan {
        input: Input::Source(spec),
        kind: first.kind,
        source: first.clone(),
        scope,
        qualifier: qualifier.clone(),
        join: None,
        sources: vec![first.name.clone()],
        partitions: first.partitions,
        leftmost: qualifier.clone(),
        copartitioning: None,
    };
    for join in &from.joins {
        plan = plan_join(plan, join, catalog)?;
    }
    Ok(plan)
}

fn lookup(catalog: &Catalog, r: &SourceRef) -> Result<Source> {
    catalog.source(&r.name).cloned().map_err(|_| {
        PlanError::at_position(format!("{} does not exist.", r.name), r.position).of_kind(PlanErrorKind::UnknownSource)
    })
}

/// `Q.N` as ksqlDB prints a join expression.
fn ksql_text(e: &sql::Expr) -> String {
    match e {
        sql::Expr::CompoundIdentifier(parts) => parts.iter().map(fold_ident).collect::<Vec<_>>().join("."),
        sql::Expr::Identifier(i) => fold_ident(i),
        sql::Expr::Nested(inner) => ksql_text(inner),
        sql::Expr::Value(v) if v.value == sql::Value::Null => "null".to_string(),
        other => other.to_string(),
    }
}

/// An expression as ksqlDB prints it in join messages: each column named with its source's name or
/// alias (`LEFT_TABLE.FOREIGN_KEY`, `CAST(LT.F1 AS STRING)`).
fn qualified_text(e: &sql::Expr, scope: &Scope) -> String {
    let mut e = e.clone();
    let _ = sql::visit_expressions_mut(&mut e, |x: &mut sql::Expr| {
        let parts = match x {
            sql::Expr::Identifier(i) => {
                let name = fold_ident(i);
                let qualifier =
                    scope.resolve(None, &name).ok().flatten().and_then(|k| scope.columns[k].qualifier.clone());
                qualifier.map(|q| vec![q, name])
            }
            sql::Expr::CompoundIdentifier(parts) => Some(parts.iter().map(fold_ident).collect()),
            _ => None,
        };
        if let Some(parts) = parts {
            *x = sql::Expr::CompoundIdentifier(parts.into_iter().map(sql::Ident::new).collect());
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
    ksql_text(&e)
}

fn has_column(e: &sql::Expr) -> bool {
    let mut found = false;
    let _ = sql::visit_expressions(e, |x: &sql::Expr| {
        if matches!(x, sql::Expr::Identifier(_) | sql::Expr::CompoundIdentifier(_)) {
            found = true;
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
    found
}

/// The scope without its two trailing hidden columns.
fn visible(scope: &Scope) -> Vec<ScopeColumn> {
    scope.columns.iter().filter(|c| c.name != HEADERS_COLUMN && c.name != VALUE_NULL_COLUMN).cloned().collect()
}

fn plan_join(left: FromPlan, join: &Join, catalog: &Catalog) -> Result<FromPlan> {
    let right_source = lookup(catalog, &join.source)?;
    let right_q = join.source.alias.clone().unwrap_or_else(|| right_source.name.clone());
    if left.sources.contains(&right_source.name) {
        return Err(PlanError::new(format!(
            "Can not join '{}' to '{}': self joins are not yet supported.",
            left.sources.last().cloned().unwrap_or_default(),
            right_source.name
        )));
    }
    let (right_spec, right_scope) = source_spec(&right_source, &right_q);
    let kind = match join.kind {
        eddy_parser::JoinKind::Inner => JoinKind::Inner,
        eddy_parser::JoinKind::Left => JoinKind::Left,
        eddy_parser::JoinKind::Right => JoinKind::Right,
        eddy_parser::JoinKind::Full => JoinKind::Outer,
    };
    let kind_text = match kind {
        JoinKind::Inner => "[INNER]",
        JoinKind::Left => "LEFT [OUTER]",
        JoinKind::Right => "RIGHT [OUTER]",
        JoinKind::Outer => "[FULL] OUTER",
    };
    // ksqlDB cannot join sources whose values are in the KAFKA format.
    let kafka: Vec<String> = left
        .sources
        .iter()
        .filter_map(|n| catalog.source(n).ok())
        .chain(std::iter::once(&right_source))
        .filter(|s| s.value_format.format == eddy_catalog::Format::Kafka)
        .map(|s| s.name.clone())
        .collect();
    if !kafka.is_empty() {
        return Err(PlanError::new(format!(
            "Source(s) {} are using the 'KAFKA' value format. This format does not yet support JOIN.",
            kafka.join(", ")
        )));
    }
    // The ON clause: one equality, each side naming columns of exactly one source.
    let (a, b) = match &join.on {
        sql::Expr::BinaryOp { left: a, op: BinaryOperator::Eq, right: b } => (a.as_ref(), b.as_ref()),
        sql::Expr::Nested(inner) => match inner.as_ref() {
            sql::Expr::BinaryOp { left: a, op: BinaryOperator::Eq, right: b } => (a.as_ref(), b.as_ref()),
            _ => return Err(invalid_condition(&join.on)),
        },
        _ => return Err(invalid_condition(&join.on)),
    };
    let on_text = format!("({} = {})", ksql_text(a), ksql_text(b));
    for side in [a, b] {
        if !has_column(side) {
            let shown = match side {
                sql::Expr::Value(v) if v.value == sql::Value::Null => "null".to_string(),
                other => other.to_string(),
            };
            return Err(PlanError::new(format!(
                "Invalid comparison expression '{shown}' in join '{on_text}'. Each side of the join comparision must contain references from exactly one source."
            )));
        }
    }
    let joined_columns: Vec<ScopeColumn> = visible(&left.scope).into_iter().chain(visible(&right_scope)).collect();
    let both = Scope::new(joined_columns);
    let left_planner = ExprPlanner::new(&left.scope);
    let right_planner = ExprPlanner::new(&right_scope);
    let resolve_error = |e: &sql::Expr| -> PlanError {
        let mut unknown = None;
        let _ = sql::visit_expressions(e, |x: &sql::Expr| {
            if let sql::Expr::CompoundIdentifier(parts) = x {
                let q = fold_ident(&parts[0]);
                if !both.columns.iter().any(|c| c.qualifier.as_deref() == Some(q.as_str())) {
                    unknown = Some(q);
                }
            }
            std::ops::ControlFlow::<()>::Continue(())
        });
        if let Some(q) = unknown {
            return PlanError::new(format!(
                "Failed to prepare statement: '{q}' is not a valid stream/table name or alias."
            ));
        }
        match ExprPlanner::new(&both).plan(e) {
            Err(err) => match err.message.strip_prefix("Column '") {
                Some(rest) if err.message.ends_with("cannot be resolved.") => {
                    PlanError { message: format!("JOIN ON column '{rest}"), ..err }
                }
                _ => err,
            },
            Ok(_) => PlanError::new(format!(
                "Invalid comparison expression '{}' in join '{on_text}'. Each side of the join comparision must contain references from exactly one source.",
                e
            )),
        }
    };
    let (left_expr, right_expr) = match (left_planner.plan(a), right_planner.plan(b)) {
        (Ok(l), Ok(r)) => ((a, l), (b, r)),
        _ => match (left_planner.plan(b), right_planner.plan(a)) {
            (Ok(l), Ok(r)) => ((b, l), (a, r)),
            _ => {
                let culprit = if left_planner.plan(a).is_err() && right_planner.plan(a).is_err() { a } else { b };
                return Err(resolve_error(culprit));
            }
        },
    };
    let ((l_ast, l_typed), (r_ast, r_typed)) = (left_expr, right_expr);
    if l_typed.ty != r_typed.ty {
        return Err(PlanError::new(format!(
            "Invalid join condition: types don't match. Got {}{{{}}} = {}{{{}}}.",
            qualified_text(l_ast, &left.scope),
            l_typed.ty,
            qualified_text(r_ast, &right_scope),
            r_typed.ty
        )));
    }
    let left_name = left.sources.last().cloned().unwrap_or_default();
    let mut shape = match (left.kind, right_source.kind) {
        (SourceKind::Stream, SourceKind::Stream) => {
            let Some(w) = &join.within else {
                return Err(PlanError::new(format!(
                    "Stream-Stream joins must have a WITHIN clause specified. None was provided. To learn about how to specify a WITHIN clause with a stream-stream join, please visit: https://docs.confluent.io/current/ksql/docs/syntax-reference.html#create-stream-as-select. Got {left_name} {kind_text} JOIN {}.",
                    right_source.name
                )));
            };
            JoinShape::StreamStream {
                before_ms: w.before_ms as i64,
                after_ms: w.after_ms as i64,
                grace_ms: w.grace_ms.map(|g| g as i64),
            }
        }
        (SourceKind::Stream, SourceKind::Table) => {
            if join.within.is_some() {
                return Err(PlanError::new(format!(
                    "A window definition was provided for a Stream-Table join. These joins are not windowed. Please drop the window definition (ie. the WITHIN clause) and try to submit your query again. Got {left_name} {kind_text} JOIN {}.",
                    right_source.name
                )));
            }
            if matches!(kind, JoinKind::Right | JoinKind::Outer) {
                let text = if kind == JoinKind::Outer { "full-outer" } else { "right" };
                return Err(PlanError::new(format!(
                    "Invalid join type: {text} join not supported for stream-table join. Got {left_name} {kind_text} JOIN {}.",
                    right_source.name
                )));
            }
            JoinShape::StreamTable
        }
        (SourceKind::Table, SourceKind::Stream) => {
            return Err(PlanError::new(format!(
                "Invalid join order: table-stream joins are not supported; only stream-table joins. Got {left_name} {kind_text} JOIN {}.",
                right_source.name
            )));
        }
        (SourceKind::Table, SourceKind::Table) => {
            if join.within.is_some() {
                return Err(PlanError::new(format!(
                    "A window definition was provided for a Table-Table join. These joins are not windowed. Please drop the window definition (ie. the WITHIN clause) and try to submit your query again. Got {left_name} {kind_text} JOIN {}.",
                    right_source.name
                )));
            }
            JoinShape::TableTable
        }
    };

    // Windowed sources join only to windowed sources of the same windows (on key and window), which
    // the runtime does not do yet: refuse rather than join rows of different windows.
    let left_window = if left.sources.len() == 1 { left.source.window } else { None };
    match (left_window, right_source.window) {
        (None, None) => {}
        (Some(l), Some(r)) if l != r => {
            return Err(PlanError::new("Implicit repartitioning of windowed sources is not supported."));
        }
        (Some(_), Some(_)) => return Err(PlanError::new("Joins of windowed sources are not supported yet.")),
        (l, r) => {
            let describe =
                |w: Option<WindowKind>| w.map_or("not windowed".to_string(), |w| format!("{} windowed", w.name()));
            return Err(PlanError::new(format!(
                "Can not join windowed source to non-windowed source.\n`{left_name}` is {}\n`{}` is {}",
                describe(l),
                right_source.name,
                describe(r)
            )));
        }
    }

    // Tables join on their primary key only.
    let is_key_of = |scope: &Scope, e: &sql::Expr, source: &Source| -> bool {
        let keys: Vec<_> = source.key_columns().collect();
        keys.len() == 1 && scope.index_of(e).is_some_and(|i| scope.columns[i].name == keys[0].name)
    };
    // The condition as written (its sides may have been swapped to put the left source first).
    let (l_text, r_text) = (qualified_text(l_ast, &left.scope), qualified_text(r_ast, &right_scope));
    let condition_text =
        if std::ptr::eq(l_ast, a) { format!("{l_text} = {r_text}") } else { format!("{r_text} = {l_text}") };
    if right_source.kind == SourceKind::Table && !is_key_of(&right_scope, r_ast, &right_source) {
        let what = if left.kind == SourceKind::Table {
            "table-table joins require to join on the primary key of the right input table"
        } else {
            "stream-table joins require to join on the table's primary key"
        };
        return Err(PlanError::new(format!("Invalid join condition: {what}. Got {condition_text}.")));
    }
    // A left table joined on anything but its primary key (or an earlier join's key) joins on a
    // foreign key: the output is keyed by the left table's primary key.
    let l_index = left.scope.index_of(l_ast);
    let left_is_key = match &left.join {
        None => is_key_of(&left.scope, l_ast, &left.source),
        Some(prev) => l_index.is_some_and(|i| prev.candidates.contains(&i) || prev.index == i),
    };
    let mut foreign = None;
    if shape == JoinShape::TableTable && !left_is_key {
        if left.join.is_some() {
            return Err(PlanError::new(format!(
                "Invalid join condition: foreign-key table-table joins are not supported as part of n-way joins. Got {condition_text}."
            )));
        }
        match kind {
            JoinKind::Right => return Err(PlanError::new("RIGHT OUTER JOIN on a foreign key is not supported")),
            JoinKind::Outer => return Err(PlanError::new("FULL OUTER JOIN on a foreign key is not supported")),
            JoinKind::Inner | JoinKind::Left => {}
        }
        let keys: Vec<_> = left.source.key_columns().collect();
        let [primary] = keys.as_slice() else {
            return Err(PlanError::new(format!(
                "Foreign-key joins of a table with {} primary key columns are not supported yet. Got {condition_text}.",
                keys.len()
            )));
        };
        let index =
            left.scope.columns.iter().position(|c| c.qualifier.is_some() && c.name == primary.name).ok_or_else(
                || PlanError::new(format!("the primary key {} is not a column of the left table", primary.name)),
            )?;
        shape = JoinShape::ForeignKey { left_primary: index };
        let text = format!("{}.{}", left.source.name, primary.name);
        foreign = Some((index, primary.ty.clone(), text, left.source.name.clone(), primary.name.clone()));
    }

    // Output layout: ROWTIME, ROWPARTITION, ROWOFFSET, the key, the left's columns, the right's, hidden.
    let key_ty = match &foreign {
        Some((_, ty, ..)) => ty.clone(),
        None => l_typed.ty.clone(),
    };
    if crate::sources::contains_map(&key_ty) {
        let name = match l_ast {
            sql::Expr::CompoundIdentifier(p) if p.len() == 2 => format!("{}_{}", fold_ident(&p[0]), fold_ident(&p[1])),
            other => ksql_text(other),
        };
        return Err(PlanError::new(format!(
            "Map keys, including types that contain maps, are not supported as they may lead to unexpected behavior due to inconsistent serialization. Key column name: `{name}`. Column type: {key_ty}. See https://github.com/confluentinc/ksql/issues/6621 for more."
        )));
    }
    // In an n-way join, the earlier join's own ROWTIME, ROWPARTITION, ROWOFFSET and key stay in its
    // output (columns are copied by position) but are no longer reachable by name: this join's are.
    let left_visible: Vec<ScopeColumn> = visible(&left.scope)
        .into_iter()
        .map(|c| match c.qualifier {
            None if c.name == "$join_key" || PSEUDO_COLUMNS.iter().any(|(n, _)| *n == c.name) => {
                ScopeColumn { name: format!("$earlier_{}", c.name), ..c }
            }
            _ => c,
        })
        .collect();
    let right_visible = visible(&right_scope);
    let r_index = right_scope.index_of(r_ast);
    let synthetic = kind == JoinKind::Outer || (l_index.is_none() && r_index.is_none());
    let mut used: Vec<String> = left_visible.iter().chain(&right_visible).map(|c| c.name.clone()).collect();
    used.sort();
    let key_name = if synthetic {
        let mut name = "ROWKEY".to_string();
        let mut n = 0;
        while used.binary_search(&name).is_ok() {
            n += 1;
            name = format!("ROWKEY_{n}");
        }
        name
    } else {
        "$join_key".to_string()
    };
    let mut columns = vec![
        ScopeColumn { qualifier: None, name: "ROWTIME".into(), ty: SqlType::Bigint },
        ScopeColumn { qualifier: None, name: "ROWPARTITION".into(), ty: SqlType::Int },
        ScopeColumn { qualifier: None, name: "ROWOFFSET".into(), ty: SqlType::Bigint },
        ScopeColumn { qualifier: None, name: key_name, ty: key_ty.clone() },
    ];
    let left_offset = columns.len();
    columns.extend(left_visible.iter().cloned());
    let right_offset = columns.len();
    columns.extend(right_visible.iter().cloned());
    columns.push(ScopeColumn { qualifier: None, name: HEADERS_COLUMN.into(), ty: eddy_runtime::headers_type() });
    columns.push(ScopeColumn { qualifier: None, name: VALUE_NULL_COLUMN.into(), ty: SqlType::Boolean });
    let scope = Scope::new(columns);
    let mut candidates = Vec::new();
    if let Some((index, ..)) = &foreign {
        // The left table's primary key is the output's key.
        candidates.push(left_offset + index);
    } else if !synthetic {
        if let Some(i) = l_index {
            candidates.push(left_offset + i);
        }
        if let Some(i) = r_index {
            candidates.push(right_offset + i);
        }
        // An n-way join keeps the earlier joins' key columns as candidates too.
        if let Some(prev) = &left.join {
            if l_index.is_some_and(|i| prev.candidates.contains(&i) || prev.index == i) {
                candidates.extend(prev.candidates.iter().map(|c| left_offset + c));
            }
        }
    }
    let mut texts = match &foreign {
        Some((_, _, text, ..)) => vec![text.clone()],
        None => vec![qualified_text(l_ast, &left.scope), qualified_text(r_ast, &right_scope)],
    };
    if let Some(prev) = &left.join {
        if l_index.is_some_and(|i| prev.candidates.contains(&i) || prev.index == i) {
            texts = prev.texts.iter().cloned().chain(std::iter::once(qualified_text(r_ast, &right_scope))).collect();
        }
    }
    let types: Vec<SqlType> = scope.columns.iter().map(|c| c.ty.clone()).collect();
    let schema = Arc::new(Schema::new(scope.columns.iter().map(|c| arrow_field(&c.name, &c.ty)).collect::<Vec<_>>()));
    // A foreign-key join matches the foreign key with the right key (same type); the output key is
    // the left row's primary key.
    let join_ty = if foreign.is_some() { l_typed.ty.clone() } else { key_ty.clone() };
    // Joined on an earlier join's key: read its key column, which a deletion (all other columns
    // NULL) carries too.
    let l_typed = match &left.join {
        Some(prev) if left_is_key && foreign.is_none() => {
            let name = &left.scope.columns[prev.index].name;
            let key_column = ExprPlanner::new(&left.scope)
                .plan(&sql::Expr::Identifier(sql::Ident::with_quote('`', name.clone())))?;
            if key_column.ty == l_typed.ty {
                key_column
            } else {
                l_typed
            }
        }
        _ => l_typed,
    };
    let l_key = cast_to(l_typed, &join_ty)?;
    let r_key = cast_to(r_typed, &join_ty)?;
    let spec = JoinSpec {
        kind,
        shape,
        left: JoinBranch { input: left.input, steps: Vec::new(), key: l_key.expr, key_text: ksql_text(l_ast) },
        right: JoinBranch {
            input: Input::Source(right_spec),
            steps: Vec::new(),
            key: r_key.expr,
            key_text: ksql_text(r_ast),
        },
        schema,
        types,
    };
    let copartitioning = left.copartitioning.or_else(|| {
        (foreign.is_none() && left.partitions != right_source.partitions).then(|| Copartitioning {
            left: left.leftmost.clone(),
            left_partitions: left.partitions,
            right: right_q.clone(),
            right_partitions: right_source.partitions,
        })
    });
    let mut sources = left.sources;
    sources.push(right_source.name.clone());
    let result_kind = if left.kind == SourceKind::Table && right_source.kind == SourceKind::Table {
        SourceKind::Table
    } else {
        SourceKind::Stream
    };
    Ok(FromPlan {
        input: Input::Join(Box::new(spec)),
        source: left.source,
        kind: result_kind,
        scope,
        qualifier: String::new(),
        join: Some(JoinKey {
            index: 3,
            candidates,
            synthetic,
            texts,
            foreign: foreign.map(|(_, _, _, table, column)| (table, column)),
        }),
        sources,
        partitions: right_source.partitions,
        leftmost: left.leftmost,
        copartitioning,
    })
}

fn invalid_condition(on: &sql::Expr) -> PlanError {
    let text = match on {
        sql::Expr::BinaryOp { left, op: BinaryOperator::And, right } => {
            format!("(({}) AND ({}))", strip(left), strip(right))
        }
        other => other.to_string(),
    };
    PlanError::new(format!("Invalid join condition: joins on multiple conditions are not yet supported. Got {text}."))
}

fn strip(e: &sql::Expr) -> String {
    match e {
        sql::Expr::BinaryOp { left, op, right } => format!("{} {op} {}", ksql_text(left), ksql_text(right)),
        other => ksql_text(other),
    }
}
