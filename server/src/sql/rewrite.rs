//! Postgres constructs DataFusion does not plan, rewritten into ones it does, before planning.
//!
//! Correlated scalar subqueries take shapes DataFusion decorrelates: a single row's value as
//! `first_value(...)`, conditions on the enclosing row outside (`CASE WHEN`), results that mix the
//! enclosing row split into a subquery per argument.
//!
//! `to_regtype(name)`, `to_regclass(name)`, `to_regnamespace(name)` and `to_regproc(name)` become
//! scalar subqueries over the catalog (the OID, or NULL when there is no such object).
//!
//! `ARRAY(subquery)`, the array of a subquery's rows (psql, pgjdbc and BI tools use it in catalog
//! queries), becomes:
//! - over `unnest(a) AS x`: `array_transform(array_filter(a, x -> where), x -> e)`;
//! - otherwise a scalar subquery aggregating its one column: `(SELECT array_agg(e ORDER BY ...) ...)`,
//!   which DataFusion decorrelates like any other correlated scalar subquery.

use std::ops::ControlFlow;

use sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, FunctionArguments, GroupByExpr, Ident, LambdaFunction, LambdaFunctionParameter,
    LambdaSyntax, OneOrManyWithParens, Query, SelectItem, SetExpr, Statement, TableFactor, Value, VisitMut, VisitorMut,
};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

/// The SQL name of a Postgres type a client declares for a parameter.
fn declared_type_name(ty: &pgwire::api::Type) -> Option<String> {
    use pgwire::api::Type;
    if let postgres_types::Kind::Array(item) = ty.kind() {
        return declared_type_name(item).map(|t| format!("{t}[]"));
    }
    Some(
        match *ty {
            Type::BOOL => "boolean",
            Type::INT2 => "smallint",
            Type::INT4 => "integer",
            Type::INT8 | Type::OID => "bigint",
            Type::FLOAT4 => "real",
            Type::FLOAT8 => "double precision",
            Type::NUMERIC => "numeric",
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::JSON | Type::JSONB => "text",
            Type::BYTEA => "bytea",
            Type::DATE => "date",
            Type::TIME => "time",
            Type::TIMESTAMP => "timestamp",
            Type::TIMESTAMPTZ => "timestamptz",
            _ => return None,
        }
        .to_string(),
    )
}

/// Parameters the client declared a type for are read as that type: `$n` becomes `CAST($n AS t)`.
pub fn declare_parameters(statement: &mut Statement, declared: &[Option<pgwire::api::Type>]) {
    if declared.iter().all(Option::is_none) {
        return;
    }
    struct Declare<'a>(&'a [Option<pgwire::api::Type>]);
    impl VisitorMut for Declare<'_> {
        type Break = ();
        fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
            let Expr::Value(v) = expr else { return ControlFlow::Continue(()) };
            let Value::Placeholder(p) = &v.value else { return ControlFlow::Continue(()) };
            let Some(n) = p.strip_prefix('$').and_then(|n| n.parse::<usize>().ok()) else {
                return ControlFlow::Continue(());
            };
            let name = self.0.get(n.wrapping_sub(1)).cloned().flatten().filter(|t| *t != pgwire::api::Type::UNKNOWN);
            if let Some(cast) =
                name.as_ref().and_then(declared_type_name).and_then(|t| parse_expr(&format!("CAST({p} AS {t})")))
            {
                *expr = cast;
            }
            ControlFlow::Continue(())
        }
    }
    let _ = statement.visit(&mut Declare(declared));
}

/// Rewrites a statement in place; `is_aggregate` tells which function names are aggregates.
pub fn rewrite(statement: &mut Statement, is_aggregate: &dyn Fn(&str) -> bool) {
    let _ = statement.visit(&mut Rewriter { is_aggregate });
}

struct Rewriter<'a> {
    is_aggregate: &'a dyn Fn(&str) -> bool,
}

/// An integer literal that fits 32 bits, as Postgres and ksqlDB type it: `integer` (DataFusion would
/// make it `bigint`, and `int4 * 2` a `bigint`).
fn int4_literal(expr: &Expr) -> Option<Expr> {
    let Expr::Value(v) = expr else { return None };
    let Value::Number(n, false) = &v.value else { return None };
    n.parse::<i32>().ok()?;
    Some(Expr::Cast {
        kind: sqlparser::ast::CastKind::Cast,
        expr: Box::new(expr.clone()),
        data_type: sqlparser::ast::DataType::Integer(None),
        array: false,
        format: None,
    })
}

/// The literal an `int4_literal` cast wraps (positions in ORDER BY and GROUP BY, LIMIT counts stay
/// bare numbers).
fn unwrap_int4_literal(expr: &mut Expr) {
    if let Expr::Cast { expr: inner, data_type: sqlparser::ast::DataType::Integer(None), .. } = expr {
        if matches!(inner.as_ref(), Expr::Value(v) if matches!(v.value, Value::Number(_, false))) {
            *expr = inner.as_ref().clone();
        }
    }
}

impl VisitorMut for Rewriter<'_> {
    type Break = ();

    fn post_visit_select(&mut self, select: &mut sqlparser::ast::Select) -> ControlFlow<()> {
        if let GroupByExpr::Expressions(exprs, _) = &mut select.group_by {
            exprs.iter_mut().for_each(unwrap_int4_literal);
        }
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        if let Some(order_by) = &mut query.order_by {
            if let sqlparser::ast::OrderByKind::Expressions(items) = &mut order_by.kind {
                items.iter_mut().for_each(|i| unwrap_int4_literal(&mut i.expr));
            }
        }
        if let Some(sqlparser::ast::LimitClause::LimitOffset { limit, offset, .. }) = &mut query.limit_clause {
            limit.iter_mut().for_each(unwrap_int4_literal);
            offset.iter_mut().for_each(|o| unwrap_int4_literal(&mut o.value));
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        if let Some(typed) = int4_literal(expr) {
            *expr = typed;
            return ControlFlow::Continue(());
        }
        if let Expr::CompoundFieldAccess { root, access_chain } = expr {
            // `(composite).field` as `(composite)['field']`, which DataFusion reads as a field.
            if !matches!(root.as_ref(), Expr::Identifier(_) | Expr::CompoundIdentifier(_)) {
                for access in access_chain.iter_mut() {
                    if let sqlparser::ast::AccessExpr::Dot(Expr::Identifier(field)) = access {
                        let name =
                            if field.quote_style.is_some() { field.value.clone() } else { field.value.to_lowercase() };
                        *access = sqlparser::ast::AccessExpr::Subscript(sqlparser::ast::Subscript::Index {
                            index: Expr::Value(Value::SingleQuotedString(name).into()),
                        });
                    }
                }
            }
        }
        // `x = ANY($1)` (rewritten to `array_has($1, x)`) with $1 of no declared type: Postgres
        // infers an array; the text array is what clients send for it.
        if let Expr::Function(f) = expr {
            let name = f.name.to_string().to_lowercase();
            if let (true, FunctionArguments::List(list)) =
                (name == "array_has" || name == "array_contains", &mut f.args)
            {
                if let Some(FunctionArg::Unnamed(FunctionArgExpr::Expr(first))) = list.args.first_mut() {
                    if matches!(first, Expr::Value(v) if matches!(v.value, Value::Placeholder(_))) {
                        if let Some(cast) = parse_expr(&format!("CAST({first} AS text[])")) {
                            *first = cast;
                        }
                    }
                }
            }
        }
        if let Some(replacement) = subscripts(expr).or_else(|| expand_array(expr)) {
            *expr = replacement;
            return ControlFlow::Continue(());
        }
        if let Some(mut replacement) = object_lookup(expr) {
            self.single_row(&mut replacement);
            *expr = replacement;
            return ControlFlow::Continue(());
        }
        if let Expr::Subquery(_) = expr {
            self.single_row(expr);
            hoist_outer_conditions(expr);
            match expr {
                // Hoisted: the subquery is the CASE's result.
                Expr::Case { conditions, .. } => {
                    if let Some(when) = conditions.first_mut() {
                        split_outer_projection(&mut when.result);
                    }
                }
                _ => split_outer_projection(expr),
            }
            return ControlFlow::Continue(());
        }
        if let Expr::Function(f) = expr {
            let is_array = f.name.0.len() == 1 && f.name.to_string().eq_ignore_ascii_case("array");
            if let (true, FunctionArguments::Subquery(query)) = (is_array, &f.args) {
                if let Some(replacement) = array_of_subquery(query) {
                    *expr = replacement;
                }
            }
        }
        ControlFlow::Continue(())
    }
}

impl Rewriter<'_> {
    /// A scalar subquery that does not aggregate, `(SELECT e FROM ... [ORDER BY o] [LIMIT 1])`, as
    /// `(SELECT first_value(e [ORDER BY o]) FROM ...)`: the same row (NULL for none), in the shape
    /// DataFusion decorrelates. (Postgres fails a scalar subquery of several rows; this takes the first.)
    fn single_row(&self, expr: &mut Expr) {
        let Expr::Subquery(query) = expr else { return };
        if query.with.is_some() || query.fetch.is_some() {
            return;
        }
        let limit_one = match &query.limit_clause {
            None => true,
            Some(sqlparser::ast::LimitClause::LimitOffset { limit: Some(Expr::Value(v)), offset: None, limit_by }) => {
                limit_by.is_empty() && matches!(&v.value, Value::Number(n, _) if n == "1")
            }
            Some(_) => false,
        };
        let SetExpr::Select(select) = query.body.as_ref() else { return };
        let ungrouped = matches!(&select.group_by, GroupByExpr::Expressions(e, m) if e.is_empty() && m.is_empty());
        if !limit_one
            || select.projection.len() != 1
            || !ungrouped
            || select.having.is_some()
            || select.distinct.is_some()
        {
            return;
        }
        let element = match &select.projection[0] {
            SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => e.clone(),
            _ => return,
        };
        let aggregates = sqlparser::ast::visit_expressions(&element, |e| match e {
            Expr::Function(f)
                if (self.is_aggregate)(&f.name.0.last().map(|p| p.to_string().to_lowercase()).unwrap_or_default()) =>
            {
                ControlFlow::Break(())
            }
            Expr::Subquery(_) => ControlFlow::Break(()),
            _ => ControlFlow::Continue(()),
        });
        if aggregates.is_break() || select.from.is_empty() {
            return;
        }
        let order = match &query.order_by {
            None => String::new(),
            Some(order_by) => match &order_by.kind {
                sqlparser::ast::OrderByKind::Expressions(items) => format!(
                    " ORDER BY {}",
                    items.iter().map(|i| format!("{}{}", i.expr, i.options)).collect::<Vec<_>>().join(", ")
                ),
                _ => return,
            },
        };
        let Some(first) = parse_expr(&format!("first_value({element}{order})")) else { return };
        query.order_by = None;
        query.limit_clause = None;
        if let SetExpr::Select(s) = query.body.as_mut() {
            s.projection = vec![SelectItem::UnnamedExpr(first)];
        }
    }
}

/// The names a query's FROM clause introduces (aliases, else table names).
fn from_names(select: &sqlparser::ast::Select) -> Vec<String> {
    let mut names = Vec::new();
    let mut add = |factor: &TableFactor| match factor {
        TableFactor::Table { name, alias, .. } => names.push(match alias {
            Some(a) => a.name.value.to_lowercase(),
            None => name.0.last().map(|p| p.to_string().trim_matches('"').to_lowercase()).unwrap_or_default(),
        }),
        TableFactor::Derived { alias: Some(a), .. } | TableFactor::UNNEST { alias: Some(a), .. } => {
            names.push(a.name.value.to_lowercase())
        }
        _ => {}
    };
    for from in &select.from {
        add(&from.relation);
        for join in &from.joins {
            add(&join.relation);
        }
    }
    names
}

/// Whether an expression reads only columns of enclosing queries (qualified by names the subquery
/// does not introduce), and reads some.
fn reads_only_outer(e: &Expr, inner: &[String]) -> bool {
    let mut outer = false;
    let inner_or_unknown = sqlparser::ast::visit_expressions(e, |x| match x {
        Expr::CompoundIdentifier(parts) if parts.len() >= 2 => {
            let q = parts[parts.len() - 2].value.to_lowercase();
            if inner.contains(&q) {
                ControlFlow::Break(())
            } else {
                outer = true;
                ControlFlow::Continue(())
            }
        }
        Expr::Identifier(_) | Expr::Subquery(_) | Expr::Exists { .. } | Expr::InSubquery { .. } => {
            ControlFlow::Break(())
        }
        _ => ControlFlow::Continue(()),
    });
    outer && inner_or_unknown.is_continue()
}

fn conjuncts(e: Expr, out: &mut Vec<Expr>) {
    match e {
        Expr::BinaryOp { left, op: sqlparser::ast::BinaryOperator::And, right } => {
            conjuncts(*left, out);
            conjuncts(*right, out);
        }
        Expr::Nested(inner)
            if matches!(inner.as_ref(), Expr::BinaryOp { op: sqlparser::ast::BinaryOperator::And, .. }) =>
        {
            conjuncts(*inner, out)
        }
        other => out.push(other),
    }
}

fn and_all(mut exprs: Vec<Expr>) -> Option<Expr> {
    let first = exprs.pop()?;
    Some(exprs.into_iter().rev().fold(first, |acc, e| Expr::BinaryOp {
        left: Box::new(e),
        op: sqlparser::ast::BinaryOperator::And,
        right: Box::new(acc),
    }))
}

/// Whether an expression reads no column at all.
fn is_constant(e: &Expr) -> bool {
    sqlparser::ast::visit_expressions(e, |x| match x {
        Expr::Identifier(_) | Expr::CompoundIdentifier(_) | Expr::Subquery(_) => ControlFlow::Break(()),
        _ => ControlFlow::Continue(()),
    })
    .is_continue()
}

/// A scalar subquery whose one result `first_value(F(a, b, ...))` mixes columns of the enclosing row
/// (which DataFusion cannot decorrelate) becomes
/// `CASE WHEN EXISTS (SELECT 1 FROM ... WHERE ...) THEN F(a', b', ...) END`: arguments that read
/// only the enclosing row stay as they are, the others become scalar subqueries of their own.
fn split_outer_projection(expr: &mut Expr) {
    let Expr::Subquery(query) = expr else { return };
    let SetExpr::Select(select) = query.body.as_ref() else { return };
    let [SelectItem::UnnamedExpr(Expr::Function(first))] = select.projection.as_slice() else { return };
    if !first.name.to_string().eq_ignore_ascii_case("first_value") {
        return;
    }
    let FunctionArguments::List(list) = &first.args else { return };
    let [FunctionArg::Unnamed(FunctionArgExpr::Expr(inner_expr))] = list.args.as_slice() else { return };
    let inner = from_names(select);
    let reads_outer = |e: &Expr| {
        sqlparser::ast::visit_expressions(e, |x| match x {
            Expr::CompoundIdentifier(p) if p.len() >= 2 && !inner.contains(&p[p.len() - 2].value.to_lowercase()) => {
                ControlFlow::Break(())
            }
            _ => ControlFlow::Continue(()),
        })
        .is_break()
    };
    if !reads_outer(inner_expr) {
        return;
    }
    let Expr::Function(f) = inner_expr else { return };
    let FunctionArguments::List(args) = &f.args else { return };
    // A per-argument subquery: the same FROM and WHERE, the argument's first value.
    let single = |arg: &Expr| -> Option<Expr> {
        let mut q = query.clone();
        let e = parse_expr(&format!("first_value({arg})"))?;
        if let SetExpr::Select(s) = q.body.as_mut() {
            s.projection = vec![SelectItem::UnnamedExpr(e)];
        }
        Some(Expr::Subquery(q))
    };
    let mut split = f.clone();
    let FunctionArguments::List(split_args) = &mut split.args else { return };
    for (new, old) in split_args.args.iter_mut().zip(&args.args) {
        let FunctionArg::Unnamed(FunctionArgExpr::Expr(arg)) = old else { return };
        if is_constant(arg) || reads_only_outer(arg, &inner) {
            continue;
        }
        if reads_outer(arg) {
            return;
        }
        let Some(sub) = single(arg) else { return };
        *new = FunctionArg::Unnamed(FunctionArgExpr::Expr(sub));
    }
    // Whether the subquery has a row, as a count (DataFusion decorrelates that, not EXISTS here).
    let mut rows = query.clone();
    let Some(count) = parse_expr("count(*)") else { return };
    if let SetExpr::Select(s) = rows.body.as_mut() {
        s.projection = vec![SelectItem::UnnamedExpr(count)];
    }
    let has_row = Expr::BinaryOp {
        left: Box::new(Expr::Subquery(rows)),
        op: sqlparser::ast::BinaryOperator::Gt,
        right: Box::new(Expr::Value(Value::Number("0".into(), false).into())),
    };
    *expr = Expr::Case {
        case_token: sqlparser::ast::helpers::attached_token::AttachedToken::empty(),
        end_token: sqlparser::ast::helpers::attached_token::AttachedToken::empty(),
        operand: None,
        conditions: vec![sqlparser::ast::CaseWhen { condition: has_row, result: Expr::Function(split) }],
        else_result: None,
    };
}

/// Conditions of a scalar subquery that read only the enclosing row move outside it:
/// `(SELECT e FROM t WHERE outer.c AND t.k = outer.k)` becomes
/// `CASE WHEN outer.c THEN (SELECT e FROM t WHERE t.k = outer.k) END`, which DataFusion decorrelates.
fn hoist_outer_conditions(expr: &mut Expr) {
    let Expr::Subquery(query) = expr else { return };
    let SetExpr::Select(select) = query.body.as_mut() else { return };
    let Some(selection) = select.selection.take() else { return };
    let inner = from_names(select);
    let mut parts = Vec::new();
    conjuncts(selection, &mut parts);
    let (outer, kept): (Vec<Expr>, Vec<Expr>) = parts.into_iter().partition(|c| reads_only_outer(c, &inner));
    select.selection = and_all(kept);
    let Some(guard) = and_all(outer) else { return };
    let subquery = std::mem::replace(expr, Expr::Value(Value::Null.into()));
    *expr = Expr::Case {
        case_token: sqlparser::ast::helpers::attached_token::AttachedToken::empty(),
        end_token: sqlparser::ast::helpers::attached_token::AttachedToken::empty(),
        operand: None,
        conditions: vec![sqlparser::ast::CaseWhen { condition: guard, result: subquery }],
        else_result: None,
    };
}

/// `information_schema._pg_expandarray(a)` (pgjdbc's primary and foreign keys), the rows `(x, n)` of
/// each element and its 1-based index, as `unnest` of such structs.
fn expand_array(expr: &Expr) -> Option<Expr> {
    let Expr::Function(f) = expr else { return None };
    if !f.name.0.last()?.to_string().eq_ignore_ascii_case("_pg_expandarray") {
        return None;
    }
    let FunctionArguments::List(list) = &f.args else { return None };
    let [FunctionArg::Unnamed(FunctionArgExpr::Expr(array))] = list.args.as_slice() else { return None };
    let zipped = parse_expr(&format!("arrays_zip({array}, generate_series(1, CAST(cardinality({array}) AS BIGINT)))"))?;
    let pair = parse_expr("named_struct('x', eddy_pair['1'], 'n', eddy_pair['2'])")?;
    Some(call("unnest", vec![call("array_transform", vec![zipped, lambda(&Ident::new("eddy_pair"), pair)])]))
}

/// `generate_subscripts(a, 1)` (a set-returning function beside `unnest(a)` in a SELECT list) as
/// `unnest(generate_series(1, cardinality(a)))`, which DataFusion unnests in step with `unnest(a)`.
fn subscripts(expr: &Expr) -> Option<Expr> {
    let Expr::Function(f) = expr else { return None };
    if !f.name.0.last()?.to_string().eq_ignore_ascii_case("generate_subscripts") {
        return None;
    }
    let FunctionArguments::List(list) = &f.args else { return None };
    let FunctionArg::Unnamed(FunctionArgExpr::Expr(array)) = list.args.first()? else { return None };
    parse_expr(&format!("unnest(generate_series(1, CAST(cardinality({array}) AS BIGINT)))"))
}

/// `to_regtype(x)` and its kin as subqueries over the catalog.
fn object_lookup(expr: &Expr) -> Option<Expr> {
    let Expr::Function(f) = expr else { return None };
    let name = f.name.0.last()?.to_string().to_lowercase();
    let FunctionArguments::List(list) = &f.args else { return None };
    let [FunctionArg::Unnamed(FunctionArgExpr::Expr(arg))] = list.args.as_slice() else { return None };
    let query = match name.as_str() {
        "to_regtype" => {
            "SELECT t.oid FROM pg_catalog.pg_type t WHERE t.typname = ARG OR format_type(t.oid, NULL) = ARG"
        }
        "to_regclass" => {
            "SELECT c.oid FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relname = ARG OR n.nspname || '.' || c.relname = ARG"
        }
        "to_regnamespace" => "SELECT n.oid FROM pg_catalog.pg_namespace n WHERE n.nspname = ARG",
        "to_regproc" | "to_regprocedure" => "SELECT p.oid FROM pg_catalog.pg_proc p WHERE p.proname = ARG",
        // Visible: in a schema of the search path.
        "pg_table_is_visible" => {
            return parse_expr(
                "eddy_lookup_argument IN (SELECT c.oid FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n \
                 ON n.oid = c.relnamespace WHERE n.nspname IN ('public', 'pg_catalog'))",
            )
            .map(|mut e| {
                let _ = e.visit(&mut Substitute { name: "eddy_lookup_argument", value: arg });
                e
            })
        }
        _ => return None,
    };
    let placeholder = "eddy_lookup_argument";
    let Expr::Subquery(mut subquery) = parse_expr(&format!("({})", query.replace("ARG", placeholder)))? else {
        return None;
    };
    let _ = subquery.visit(&mut Substitute { name: placeholder, value: arg });
    Some(Expr::Subquery(subquery))
}

/// Replaces an identifier with an expression.
struct Substitute<'a> {
    name: &'a str,
    value: &'a Expr,
}

impl VisitorMut for Substitute<'_> {
    type Break = ();

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        if matches!(expr, Expr::Identifier(i) if i.value == self.name) {
            *expr = self.value.clone();
        }
        ControlFlow::Continue(())
    }
}

fn parse_expr(text: &str) -> Option<Expr> {
    Parser::new(&PostgreSqlDialect {}).try_with_sql(text).and_then(|mut p| p.parse_expr()).ok()
}

fn call(name: &str, args: Vec<Expr>) -> Expr {
    let text = format!("{name}({})", vec!["NULL"; args.len()].join(", "));
    let Some(Expr::Function(mut f)) = parse_expr(&text) else { return Expr::Value(Value::Null.into()) };
    if let FunctionArguments::List(list) = &mut f.args {
        list.args = args.into_iter().map(|a| FunctionArg::Unnamed(FunctionArgExpr::Expr(a))).collect();
    }
    Expr::Function(f)
}

fn lambda(param: &Ident, body: Expr) -> Expr {
    Expr::Lambda(LambdaFunction {
        params: OneOrManyWithParens::One(LambdaFunctionParameter { name: param.clone(), data_type: None }),
        body: Box::new(body),
        syntax: LambdaSyntax::Arrow,
    })
}

fn array_of_subquery(query: &Query) -> Option<Expr> {
    if query.with.is_some() || query.limit_clause.is_some() || query.fetch.is_some() {
        return None;
    }
    let SetExpr::Select(select) = query.body.as_ref() else { return None };
    let ungrouped = matches!(&select.group_by, GroupByExpr::Expressions(e, m) if e.is_empty() && m.is_empty());
    if select.projection.len() != 1 || !ungrouped || select.having.is_some() || select.distinct.is_some() {
        return None;
    }
    let element = match &select.projection[0] {
        SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => e.clone(),
        _ => return None,
    };
    // Over the elements of one array: map (and filter) the array itself.
    if let ([from], true) = (select.from.as_slice(), query.order_by.is_none()) {
        if from.joins.is_empty() {
            if let Some((array, param)) = unnested(&from.relation) {
                let filtered = match &select.selection {
                    Some(condition) => call("array_filter", vec![array, lambda(&param, condition.clone())]),
                    None => array,
                };
                return Some(call("array_transform", vec![filtered, lambda(&param, element)]));
            }
        }
    }
    // Otherwise aggregate the subquery's rows, in its order.
    let order = match &query.order_by {
        None => String::new(),
        Some(order_by) => {
            let sqlparser::ast::OrderByKind::Expressions(items) = &order_by.kind else { return None };
            let items: Vec<String> = items
                .iter()
                .map(|item| {
                    // `ORDER BY 1` orders by the one projected expression.
                    let by_position =
                        matches!(&item.expr, Expr::Value(v) if matches!(&v.value, Value::Number(n, _) if n == "1"));
                    let expr = if by_position { element.to_string() } else { item.expr.to_string() };
                    format!("{expr}{}", item.options)
                })
                .collect();
            format!(" ORDER BY {}", items.join(", "))
        }
    };
    let aggregate = parse_expr(&format!("array_agg({element}{order})"))?;
    let mut inner = query.clone();
    inner.order_by = None;
    if let SetExpr::Select(s) = inner.body.as_mut() {
        s.projection = vec![SelectItem::UnnamedExpr(aggregate)];
    }
    Some(Expr::Subquery(Box::new(inner)))
}

/// `unnest(a) [AS] x` (or `AS t(x)`): the array and the element's name.
fn unnested(relation: &TableFactor) -> Option<(Expr, Ident)> {
    let (array, alias) = match relation {
        TableFactor::UNNEST { alias, array_exprs, with_offset: false, with_ordinality: false, .. }
            if array_exprs.len() == 1 =>
        {
            (array_exprs[0].clone(), alias)
        }
        TableFactor::Table { name, args: Some(args), alias, .. }
            if name.0.last().is_some_and(|p| p.to_string().eq_ignore_ascii_case("unnest")) && args.args.len() == 1 =>
        {
            match &args.args[0] {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => (e.clone(), alias),
                _ => return None,
            }
        }
        _ => return None,
    };
    let alias = alias.as_ref()?;
    let name = alias.columns.first().map(|c| c.name.clone()).unwrap_or_else(|| alias.name.clone());
    Some((array, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(sql: &str) -> String {
        let mut statement =
            Parser::new(&PostgreSqlDialect {}).try_with_sql(sql).and_then(|mut p| p.parse_statement()).expect("parse");
        rewrite(&mut statement, &|name| ["count", "max", "array_agg", "first_value"].contains(&name));
        statement.to_string()
    }

    #[test]
    fn array_of_a_correlated_subquery_aggregates_it() {
        assert_eq!(
            rewritten("SELECT ARRAY(SELECT b.rolname FROM m JOIN b ON m.roleid = b.oid WHERE m.member = r.oid ORDER BY 1) AS memberof FROM r"),
            "SELECT (SELECT array_agg(b.rolname ORDER BY b.rolname) FROM m JOIN b ON m.roleid = b.oid WHERE m.member = r.oid) AS memberof FROM r"
        );
    }

    #[test]
    fn object_lookups_read_the_catalog() {
        assert_eq!(
            rewritten("SELECT to_regtype($1)"),
            "SELECT (SELECT first_value(t.oid) FROM pg_catalog.pg_type t WHERE t.typname = $1 OR format_type(t.oid, NULL) = $1)"
        );
    }

    #[test]
    fn scalar_subqueries_take_their_first_row() {
        assert_eq!(
            rewritten(
                "SELECT (SELECT t.c FROM t WHERE t.oid = a.typ ORDER BY t.n LIMIT 1), (SELECT count(*) FROM t) FROM a"
            ),
            "SELECT (SELECT first_value(t.c ORDER BY t.n) FROM t WHERE t.oid = a.typ), (SELECT count(*) FROM t) FROM a"
        );
    }

    #[test]
    fn conditions_on_the_outer_row_leave_the_subquery() {
        assert_eq!(
            rewritten("SELECT (SELECT max(d.x) FROM d WHERE a.f AND d.k = a.k AND a.g <> '') FROM a"),
            "SELECT CASE WHEN a.f AND a.g <> '' THEN (SELECT max(d.x) FROM d WHERE d.k = a.k) END FROM a"
        );
    }

    #[test]
    fn results_mixing_the_outer_row_are_split() {
        assert_eq!(
            rewritten("SELECT (SELECT json_build_object('x', a.f = 'a', 'y', s.v) FROM s WHERE s.k = a.k) FROM a"),
            "SELECT CASE WHEN (SELECT count(*) FROM s WHERE s.k = a.k) > 0 THEN json_build_object('x', a.f = 'a', 'y', (SELECT first_value(s.v) FROM s WHERE s.k = a.k)) END FROM a"
        );
    }

    #[test]
    fn array_over_unnest_maps_the_array() {
        assert_eq!(
            rewritten("SELECT array(select 'toast.' || x from pg_catalog.unnest(tc.reloptions) x) FROM tc"),
            "SELECT array_transform(tc.reloptions, x -> 'toast.' || x) FROM tc"
        );
    }
}
