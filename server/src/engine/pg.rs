//! Postgres manners: SELECT without FROM (version(), constants), SET/SHOW of session settings.

use eddy_catalog::SqlType;
use eddy_parser::SelectItem;
use eddy_planner::evaluate_constant;
use eddy_runtime::Value;
use sqlparser::ast::Expr;

use super::error::{sqlstate, EngineError};
use super::{Output, ResultColumn, Session};

/// The server version reported to clients.
pub const SERVER_VERSION: &str = "15.0";

/// The text `version()` returns.
pub fn version_string() -> String {
    format!("PostgreSQL {SERVER_VERSION} (Eddy {} streaming SQL, ksqlDB dialect)", env!("CARGO_PKG_VERSION"))
}

/// Evaluates a Postgres session function, if `e` is one.
fn session_function(e: &Expr) -> Option<(Value, SqlType)> {
    let Expr::Function(f) = e else { return None };
    let name = eddy_parser::object_name(&f.name).to_lowercase();
    let text = |s: &str| Some((Value::String(s.to_string()), SqlType::String));
    match name.as_str() {
        "version" => text(&version_string()),
        "current_schema" => text("public"),
        "current_database" => text("eddy"),
        "current_user" | "session_user" | "user" => text("eddy"),
        _ => None,
    }
}

fn item_name(item: &SelectItem, index: usize) -> String {
    match item {
        SelectItem::Expr { alias: Some(a), .. } => a.to_lowercase(),
        SelectItem::Expr { expr, .. } => match expr.as_ref() {
            Expr::Function(f) => eddy_parser::object_name(&f.name).to_lowercase(),
            Expr::Identifier(i) => i.value.to_lowercase(),
            _ => "?column?".into(),
        },
        _ => {
            if index == 0 {
                "?column?".into()
            } else {
                format!("?column?{index}")
            }
        }
    }
}

fn evaluate(item: &SelectItem) -> Result<(Value, SqlType), EngineError> {
    let SelectItem::Expr { expr, .. } = item else {
        return Err(EngineError::new(sqlstate::SYNTAX_ERROR, "SELECT * needs a FROM clause"));
    };
    if let Some(v) = session_function(expr) {
        return Ok(v);
    }
    let ty = constant_type(expr)?;
    let value = evaluate_constant(expr, Some(&ty))?;
    Ok((value, ty))
}

fn constant_type(expr: &Expr) -> Result<SqlType, EngineError> {
    let scope = eddy_planner::Scope::empty();
    Ok(eddy_planner::ExprPlanner::new(&scope).plan(expr)?.ty)
}

/// Columns of a SELECT without FROM.
pub(super) fn select_values_columns(items: &[SelectItem]) -> Result<Vec<ResultColumn>, EngineError> {
    items.iter().enumerate().map(|(i, item)| Ok(ResultColumn::new(item_name(item, i), evaluate(item)?.1))).collect()
}

/// SELECT without FROM: one row of constants.
pub(super) fn select_values(items: &[SelectItem]) -> Result<Output, EngineError> {
    let mut columns = Vec::new();
    let mut row = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let (value, ty) = evaluate(item)?;
        columns.push(ResultColumn::new(item_name(item, i), ty));
        row.push(value);
    }
    Ok(Output::Rows { columns, rows: vec![row] })
}

/// SET: ksqlDB properties and Postgres settings are both session properties.
pub(super) fn set(session: &mut Session, name: &str, value: &str) -> Result<Output, EngineError> {
    if name == "auto.offset.reset" && !["earliest", "latest"].contains(&value.to_lowercase().as_str()) {
        return Err(EngineError::new(
            sqlstate::INVALID_PARAMETER,
            format!("Invalid value for auto.offset.reset: '{value}'. Expected earliest or latest."),
        ));
    }
    session.properties.insert(name.to_string(), value.to_string());
    Ok(Output::done("SET"))
}

/// SHOW of a Postgres setting.
pub(super) fn show_variable(session: &Session, name: &str) -> Result<Output, EngineError> {
    let value = match name {
        "server_version" => SERVER_VERSION.to_string(),
        "server_encoding" | "client_encoding" => "UTF8".into(),
        "datestyle" => "ISO, MDY".into(),
        "timezone" => "UTC".into(),
        "standard_conforming_strings" | "integer_datetimes" => "on".into(),
        "transaction_isolation" | "default_transaction_isolation" => "read committed".into(),
        "search_path" => "public".into(),
        "max_identifier_length" => "63".into(),
        other => match session.properties.get(other) {
            Some(v) => v.clone(),
            None => {
                return Err(EngineError::new(
                    sqlstate::UNDEFINED_OBJECT,
                    format!("unrecognized configuration parameter \"{other}\""),
                ))
            }
        },
    };
    Ok(Output::text_table(&[name], vec![vec![value]]))
}
