//! Postgres constructs DataFusion does not plan, rewritten into ones it does, before planning.
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

/// Rewrites a statement in place.
pub fn rewrite(statement: &mut Statement) {
    let _ = statement.visit(&mut Rewriter);
}

struct Rewriter;

impl VisitorMut for Rewriter {
    type Break = ();

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
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
        rewrite(&mut statement);
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
    fn array_over_unnest_maps_the_array() {
        assert_eq!(
            rewritten("SELECT array(select 'toast.' || x from pg_catalog.unnest(tc.reloptions) x) FROM tc"),
            "SELECT array_transform(tc.reloptions, x -> 'toast.' || x) FROM tc"
        );
    }
}
