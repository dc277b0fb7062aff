//! Table functions in the SELECT list (EXPLODE, CUBE_EXPLODE): each call becomes a column computed by
//! a flat-map step before the projection, and the projection reads that column.

use std::ops::ControlFlow;

use eddy_catalog::SqlType;
use eddy_parser::{object_name, SelectItem};
use eddy_runtime::operator::{TableFunction, TableFunctionCall};
use eddy_runtime::Step;
use sqlparser::ast::{self as sql, Spanned};

use crate::error::{PlanError, Result};
use crate::expr::ExprPlanner;
use crate::scope::{Scope, ScopeColumn};

/// The column holding table function call `i`'s result.
fn column(i: usize) -> String {
    format!("$tf{i}")
}

fn table_function(e: &sql::Expr) -> Option<TableFunction> {
    match e {
        sql::Expr::Function(f) => TableFunction::of(&object_name(&f.name).to_uppercase()),
        _ => None,
    }
}

/// Where the SELECT list first calls a table function, if it does.
pub(crate) fn first_table_function(projection: &[SelectItem]) -> Option<sql::Expr> {
    projection.iter().find_map(|item| match item {
        SelectItem::Expr { expr, .. } => match sql::visit_expressions(expr.as_ref(), |e: &sql::Expr| {
            if table_function(e).is_some() {
                ControlFlow::Break(e.clone())
            } else {
                ControlFlow::Continue(())
            }
        }) {
            ControlFlow::Break(e) => Some(e),
            ControlFlow::Continue(()) => None,
        },
        SelectItem::Wildcard { .. } => None,
    })
}

/// Replaces the table function calls of `projection` with references to their result columns,
/// appends the flat-map step computing them to `steps`, and returns the scope after it (the
/// columns of `scope`, the results before the two hidden columns).
pub(crate) fn plan_table_functions(
    projection: &mut [SelectItem],
    scope: Scope,
    steps: &mut Vec<Step>,
) -> Result<Scope> {
    let planner = ExprPlanner::new(&scope);
    let mut calls = Vec::new();
    let mut texts = Vec::new();
    let mut results = Vec::new();
    let mut failure = None;
    for item in projection.iter_mut() {
        let SelectItem::Expr { expr, .. } = item else { continue };
        let _ = sql::visit_expressions_mut(expr.as_mut(), |e: &mut sql::Expr| {
            let Some(function) = table_function(e) else { return ControlFlow::Continue(()) };
            match plan_call(&planner, function, e) {
                Ok((call, ty)) => {
                    let name = column(calls.len());
                    texts.push(format!("{e} AS {name}"));
                    *e = sql::Expr::Identifier(sql::Ident::with_quote('`', name.clone()));
                    calls.push(call);
                    results.push((name, ty));
                    ControlFlow::Continue(())
                }
                Err(err) => {
                    failure = Some(err);
                    ControlFlow::Break(())
                }
            }
        });
        if let Some(err) = failure.take() {
            return Err(err);
        }
    }
    let hidden = scope.columns.len().saturating_sub(2);
    let mut columns: Vec<ScopeColumn> = scope.columns[..hidden].to_vec();
    columns.extend(results.into_iter().map(|(name, ty)| ScopeColumn { qualifier: None, name, ty }));
    columns.extend(scope.columns[hidden..].iter().cloned());
    let after = Scope::new(columns);
    steps.push(Step::Explode { calls, schema: after.schema.clone(), texts });
    Ok(after)
}

/// A call's argument (one array) and its result type.
fn plan_call(
    planner: &ExprPlanner<'_>,
    function: TableFunction,
    e: &sql::Expr,
) -> Result<(TableFunctionCall, SqlType)> {
    let sql::Expr::Function(f) = e else {
        return Err(PlanError::new("a table function call was expected"));
    };
    let mut args = Vec::new();
    if let sql::FunctionArguments::List(list) = &f.args {
        for a in &list.args {
            match a {
                sql::FunctionArg::Unnamed(sql::FunctionArgExpr::Expr(x)) => args.push(planner.plan(x)?),
                other => {
                    return Err(PlanError::at(
                        format!("Unsupported argument in {}: {other}", function.name()),
                        e.span().start,
                    ))
                }
            }
        }
    }
    let element = match args.as_slice() {
        [arg] if !arg.null_literal => match &arg.ty {
            SqlType::Array(element) => Some((**element).clone()),
            _ => None,
        },
        _ => None,
    };
    let Some(element) = element else {
        let types: Vec<String> =
            args.iter().map(|a| if a.null_literal { "null".to_string() } else { a.ty.to_string() }).collect();
        let alternatives = match function {
            TableFunction::Explode => "explode(ARRAY<DECIMAL> input)\nexplode(ARRAY<T> list)",
            TableFunction::CubeExplode => "cube_explode(ARRAY<T> list)",
        };
        return Err(PlanError::at(
            format!(
                "Function '{}' does not accept parameters ({}).\nValid alternatives are:\n{alternatives}",
                function.name(),
                types.join(", ")
            ),
            e.span().start,
        ));
    };
    let result = match function {
        TableFunction::Explode => element,
        TableFunction::CubeExplode => SqlType::Array(Box::new(element)),
    };
    let arg = args.remove(0).expr;
    Ok((TableFunctionCall { function, arg, result: result.clone() }, result))
}
