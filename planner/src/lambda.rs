//! Planning TRANSFORM, FILTER and REDUCE: each lambda's body is planned over the query's columns
//! followed by the lambda's parameters, typed from the collection (and REDUCE's initial state).

use std::sync::Arc;

use datafusion_expr::ScalarUDF;
use datafusion_physical_expr::expressions::Column;
use datafusion_physical_expr::PhysicalExpr;
use eddy_catalog::SqlType;
use eddy_parser::fold_ident;
use eddy_runtime::function::{LambdaKind, LambdaUdf};
use sqlparser::ast::{self as sql, Spanned};

use crate::error::{PlanError, Result};
use crate::expr::{call, cast_to, ExprPlanner, Typed};
use crate::scope::{Scope, ScopeColumn};

/// The lambda function a name calls, if it is one.
pub(crate) fn lambda_kind(name: &str) -> Option<LambdaKind> {
    match name {
        "TRANSFORM" => Some(LambdaKind::Transform),
        "FILTER" => Some(LambdaKind::Filter),
        "REDUCE" => Some(LambdaKind::Reduce),
        _ => None,
    }
}

fn err<T>(e: &sql::Expr, message: impl Into<String>) -> Result<T> {
    Err(PlanError::at(message, e.span().start))
}

/// Plans `TRANSFORM(c, x => ..)`, `TRANSFORM(m, (k, v) => .., (k, v) => ..)`, `FILTER(c, x => ..)`,
/// `FILTER(m, (k, v) => ..)`, `REDUCE(c, init, (s, x) => ..)` and `REDUCE(m, init, (s, k, v) => ..)`.
pub(crate) fn plan_lambda_call(
    planner: &ExprPlanner<'_>,
    e: &sql::Expr,
    name: &str,
    kind: LambdaKind,
    f: &sql::Function,
) -> Result<Typed> {
    let sql::FunctionArguments::List(list) = &f.args else { return err(e, format!("{name} needs arguments")) };
    let mut values = Vec::new();
    let mut lambdas = Vec::new();
    for a in &list.args {
        match a {
            sql::FunctionArg::Unnamed(sql::FunctionArgExpr::Expr(sql::Expr::Lambda(l))) => lambdas.push(l),
            sql::FunctionArg::Unnamed(sql::FunctionArgExpr::Expr(x)) if lambdas.is_empty() => values.push(x),
            other => return err(e, format!("Unsupported argument in {name}: {other}")),
        }
    }
    let wanted_values = if kind == LambdaKind::Reduce { 2 } else { 1 };
    if values.len() != wanted_values || lambdas.is_empty() {
        return err(e, format!("{name} takes {wanted_values} argument(s) and then lambda functions"));
    }
    let collection = planner.plan(values[0])?;
    let init = match kind {
        LambdaKind::Reduce => Some(planner.plan(values[1])?),
        _ => None,
    };
    // The lambda parameters' types, and how many lambdas the call takes.
    let elements: Vec<SqlType> = match &collection.ty {
        SqlType::Array(t) => vec![(**t).clone()],
        SqlType::Map(k, v) => vec![(**k).clone(), (**v).clone()],
        other => return err(e, format!("{name} takes an ARRAY or a MAP, not {other}")),
    };
    let is_map = elements.len() == 2;
    let state = init.as_ref().map(|i| if i.null_literal { SqlType::String } else { i.ty.clone() });
    let params: Vec<SqlType> = state.iter().cloned().chain(elements.iter().cloned()).collect();
    let wanted_lambdas = if kind == LambdaKind::Transform && is_map { 2 } else { 1 };
    if lambdas.len() != wanted_lambdas {
        return err(e, format!("{name} of {} takes {wanted_lambdas} lambda function(s)", collection.ty));
    }
    // The bodies' input: the query's columns, then the parameters.
    let mut bodies = Vec::new();
    let mut body_types = Vec::new();
    let mut schema = None;
    for lambda in &lambdas {
        let names: Vec<String> = match &lambda.params {
            sql::OneOrManyWithParens::One(p) => vec![fold_ident(&p.name)],
            sql::OneOrManyWithParens::Many(ps) => ps.iter().map(|p| fold_ident(&p.name)).collect(),
        };
        if names.len() != params.len() {
            return err(
                e,
                format!(
                    "The lambda of {name} over {} takes {} parameter(s), got {}",
                    collection.ty,
                    params.len(),
                    names.len()
                ),
            );
        }
        let mut columns = planner.scope().columns.clone();
        columns.extend(names.into_iter().zip(&params).map(|(n, t)| ScopeColumn {
            qualifier: None,
            name: n,
            ty: t.clone(),
        }));
        let scope = Scope::new(columns);
        let body = ExprPlanner::new(&scope).plan(&lambda.body)?;
        let body = match (&kind, &state) {
            (LambdaKind::Reduce, Some(s)) => cast_to(body, s)?,
            (LambdaKind::Filter, _) if body.ty != SqlType::Boolean && !body.null_literal => {
                return err(e, format!("The lambda of {name} must return BOOLEAN, not {}", body.ty))
            }
            _ => body,
        };
        body_types.push(body.ty.clone());
        bodies.push(body.expr);
        schema = Some(scope.schema.clone());
    }
    let result = match kind {
        LambdaKind::Transform if is_map => {
            SqlType::Map(Box::new(body_types[0].clone()), Box::new(body_types[1].clone()))
        }
        LambdaKind::Transform => SqlType::Array(Box::new(body_types[0].clone())),
        LambdaKind::Filter => collection.ty.clone(),
        LambdaKind::Reduce => state.clone().unwrap_or(SqlType::String),
    };
    let Some(schema) = schema else { return err(e, format!("{name} takes a lambda function")) };
    let mut args = vec![collection.clone()];
    if let (Some(i), Some(s)) = (init, &state) {
        args.push(cast_to(i, s)?);
    }
    for (i, c) in planner.scope().columns.iter().enumerate() {
        let column: Arc<dyn PhysicalExpr> = Arc::new(Column::new(&c.name, i));
        args.push(Typed { expr: column, ty: c.ty.clone(), null_literal: false });
    }
    let udf = LambdaUdf::new(name, kind, bodies, schema, params, result.clone());
    Ok(call(name, Arc::new(ScalarUDF::new_from_impl(udf)), args, result))
}
