//! Prepared statements (the extended protocol's Parse, Describe, Bind and Execute): statements are
//! parsed and planned once, their parameters' types inferred, and parameter values bound as typed
//! values at each execution, never pasted into the text.

use arrow::datatypes::{DataType, SchemaRef};
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{Expr as DfExpr, LogicalPlan};
use eddy_catalog::{arrow_type, sql_type_of, Catalog, SqlType};
use eddy_parser::{parse_each, Select, SelectItem, Statement, StatementParse};
use eddy_planner::plan_pull;
use eddy_runtime::Value;
use pgwire::api::Type;
use sqlparser::ast::{self as sql, BinaryOperator, CastKind, DataType as SqlDataType, Expr};

use super::error::{sqlstate, EngineError};
use super::pull::PullCache;
use super::router::{first_word, SESSION_WORDS};
use super::{Engine, Output, ResultColumn, Session};
use crate::pg_types::{pg_type, pg_type_of};
use crate::pg_values::{parse_binary, parse_text};
use crate::sql::SqlPlan;

/// A statement prepared for the extended protocol.
#[derive(Debug, Clone, Default)]
pub struct Prepared {
    pub text: String,
    pub kind: PreparedKind,
    /// The Postgres type of each parameter, as ParameterDescription reports it.
    pub parameter_types: Vec<Type>,
}

/// What runs a prepared statement.
#[derive(Debug, Clone, Default)]
pub enum PreparedKind {
    /// No statement.
    #[default]
    Empty,
    /// A query planned by the SQL engine; parameters are bound into the plan.
    Sql(SqlPlan),
    /// A statement of Eddy's dialect; parameters are bound into it as typed literals. `pull`: a
    /// pull query whose parameters are all in its WHERE clause keeps its template there.
    Eddy { statement: StatementParse, types: Vec<SqlType>, pull: Option<PullCache> },
    /// A session statement (transactions, cursors, COPY, SET): no parameters.
    Session(StatementParse),
    /// `DECLARE ... CURSOR FOR query`, its query prepared: the parameters are the query's.
    Declare { text: String, query: Box<Prepared> },
}

/// A parameter value as the client sent it.
#[derive(Debug, Clone)]
pub struct Parameter {
    pub bytes: Option<Vec<u8>>,
    pub binary: bool,
    /// The type the client declared, else the statement's.
    pub oid: u32,
}

/// Result columns of a prepared statement.
#[derive(Debug, Clone)]
pub enum Columns {
    Eddy(Vec<ResultColumn>),
    Arrow(SchemaRef),
}

/// The ksqlDB type a Postgres type carries.
fn sql_type_of_pg(ty: &Type) -> Option<SqlType> {
    Some(match *ty {
        Type::BOOL => SqlType::Boolean,
        Type::INT2 | Type::INT4 => SqlType::Int,
        Type::INT8 | Type::OID => SqlType::Bigint,
        Type::FLOAT4 | Type::FLOAT8 => SqlType::Double,
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => SqlType::String,
        Type::BYTEA => SqlType::Bytes,
        Type::DATE => SqlType::Date,
        Type::TIME => SqlType::Time,
        Type::TIMESTAMP | Type::TIMESTAMPTZ => SqlType::Timestamp,
        _ => return None,
    })
}

impl Prepared {
    /// The portal a cursor is: it fetches the cursor's rows.
    pub fn cursor_portal(name: &str) -> Self {
        let text = format!("FETCH ALL FROM \"{}\"", name.replace('"', "\"\""));
        let kind = match parse_each(&text).ok().and_then(|mut s| s.pop()) {
            Some(statement) => PreparedKind::Session(statement),
            None => PreparedKind::Empty,
        };
        Self { text, kind, parameter_types: Vec::new() }
    }
}

impl Engine {
    /// Parses and plans one statement for the extended protocol; `declared` are the parameter types
    /// the client gave (None: let the server infer).
    pub async fn prepare(
        &self,
        session: &mut Session,
        text: &str,
        declared: &[Option<Type>],
    ) -> Result<Prepared, EngineError> {
        let weight = crate::limits::check_text(text)?;
        let mut statements = crate::limits::heavy(weight, || parse_each(text)).map_err(EngineError::syntax)?;
        if statements.len() > 1 {
            return Err(EngineError::new(
                sqlstate::SYNTAX_ERROR,
                "cannot insert multiple commands into a prepared statement",
            ));
        }
        let Some(statement) = statements.pop() else {
            return Ok(Prepared { text: text.to_string(), kind: PreparedKind::Empty, parameter_types: Vec::new() });
        };
        let declared_type = |i: usize| declared.get(i).cloned().flatten().filter(|t| *t != Type::UNKNOWN);
        if first_word(&statement.text) == "DECLARE" {
            let (query, offset) = super::cursor::declared_query(&statement.text)?;
            let query = Box::pin(self.prepare(session, &query, declared)).await.map_err(|e| e.shifted(offset - 1))?;
            let parameter_types = query.parameter_types.clone();
            let kind = PreparedKind::Declare { text: statement.text.clone(), query: Box::new(query) };
            return Ok(Prepared { text: text.to_string(), kind, parameter_types });
        }
        if SESSION_WORDS.contains(&first_word(&statement.text).as_str()) {
            return Ok(Prepared {
                text: text.to_string(),
                kind: PreparedKind::Session(statement),
                parameter_types: Vec::new(),
            });
        }
        let sql_plan = match &statement.result {
            Ok(Statement::Select(select)) if select.emit.is_none() => {
                let refused = {
                    let state = self.state.lock().await;
                    let statement = Statement::Select(select.clone());
                    let mut types = infer_select(select, &state.catalog);
                    types.resize(placeholder_count(&statement).max(types.len()), None);
                    let probe = bind_statement(&statement, &typed_nulls(&types))?;
                    match &probe {
                        Statement::Select(s) => plan_pull(s, &state.catalog, super::pull::pull_options(session))
                            .err()
                            .map(EngineError::plan),
                        _ => None,
                    }
                };
                match refused {
                    Some(e) if e.is_pull_unsupported() => true,
                    Some(e) => return Err(e.locate(text)),
                    None => false,
                }
            }
            Ok(Statement::SelectValues(_)) => true,
            Ok(_) => false,
            Err(e) => match crate::sql::parse(&statement.text) {
                Ok(parsed)
                    if parsed.len() == 1
                        && matches!(parsed[0], sql::Statement::Query(_) | sql::Statement::Explain { .. }) =>
                {
                    true
                }
                Ok(parsed) if parsed.len() == 1 && Self::is_session_statement(&parsed[0]) => {
                    return Ok(Prepared {
                        text: text.to_string(),
                        kind: PreparedKind::Session(statement),
                        parameter_types: Vec::new(),
                    })
                }
                _ => return Err(EngineError::syntax(e.clone()).locate(text)),
            },
        };
        if sql_plan {
            let plan = self
                .sql_plan_with(session, &statement.text, declared)
                .await
                .map_err(|e| e.shifted(statement.offset))?;
            let inferred = inferred_parameter_types(&plan.plan);
            let parameter_types = inferred
                .iter()
                .enumerate()
                .map(|(i, t)| declared_type(i).or_else(|| t.as_ref().map(pg_type_of)).unwrap_or(Type::TEXT))
                .collect();
            return Ok(Prepared { text: text.to_string(), kind: PreparedKind::Sql(plan), parameter_types });
        }
        let Ok(parsed) = &statement.result else { unreachable_error()? };
        let inferred = {
            let state = self.state.lock().await;
            infer_statement(parsed, &state.catalog)
        };
        let count = placeholder_count(parsed).max(declared.len());
        let mut types = Vec::with_capacity(count);
        let mut parameter_types = Vec::with_capacity(count);
        for i in 0..count {
            let ty = inferred
                .get(i)
                .cloned()
                .flatten()
                .or_else(|| declared_type(i).and_then(|t| sql_type_of_pg(&t)))
                .unwrap_or(SqlType::String);
            parameter_types.push(declared_type(i).unwrap_or_else(|| pg_type(&ty)));
            types.push(ty);
        }
        let pull = match parsed {
            Statement::Select(select) if select.emit.is_none() && select.selection.is_some() => {
                let rows = Statement::Select(Box::new(Select { selection: None, ..select.as_ref().clone() }));
                (placeholder_count(&rows) == 0).then(PullCache::default)
            }
            _ => None,
        };
        Ok(Prepared { text: text.to_string(), kind: PreparedKind::Eddy { statement, types, pull }, parameter_types })
    }

    /// The columns a prepared statement returns (None: it returns no rows).
    pub async fn describe_prepared(
        &self,
        session: &mut Session,
        prepared: &Prepared,
    ) -> Result<Option<Columns>, EngineError> {
        match &prepared.kind {
            PreparedKind::Empty | PreparedKind::Declare { .. } => Ok(None),
            PreparedKind::Sql(plan) => Ok(Some(Columns::Arrow(plan.schema()))),
            PreparedKind::Eddy { statement, types, .. } => {
                let Ok(parsed) = &statement.result else { return Ok(None) };
                let probe = bind_statement(parsed, &typed_nulls(&types.iter().cloned().map(Some).collect::<Vec<_>>()))?;
                let state = self.state.lock().await;
                Ok(self
                    .result_columns(&state, session, &probe)
                    .map_err(|e| e.locate(&prepared.text))?
                    .map(Columns::Eddy))
            }
            PreparedKind::Session(statement) => self.describe_session_statement(session, &statement.text).await,
        }
    }

    /// Runs a prepared statement with parameter values.
    pub async fn execute_prepared(
        &self,
        session: &mut Session,
        prepared: &Prepared,
        parameters: &[Parameter],
    ) -> Result<Output, EngineError> {
        match &prepared.kind {
            PreparedKind::Empty => Ok(Output::done("")),
            PreparedKind::Session(statement) => self.execute_statement(session, statement).await,
            PreparedKind::Declare { text, query } => self.declare_prepared(session, text, query, parameters).await,
            PreparedKind::Sql(plan) => {
                let inferred = inferred_parameter_types(&plan.plan);
                let mut values = Vec::with_capacity(inferred.len());
                for (i, ty) in inferred.iter().enumerate() {
                    let declared = prepared.parameter_types.get(i).cloned().unwrap_or(Type::TEXT);
                    let target = ty.clone().unwrap_or_else(|| pg_arrow_type(&declared));
                    let sql_ty = sql_type_of(&target).unwrap_or(SqlType::String);
                    let value = decode(parameters.get(i), &sql_ty, i)?;
                    values.push(scalar(&value, &sql_ty, &target)?);
                }
                self.sql_run(session, plan, values).await
            }
            PreparedKind::Eddy { statement, types, pull } => {
                let Ok(parsed) = &statement.result else { return self.execute_statement(session, statement).await };
                let values = types
                    .iter()
                    .enumerate()
                    .map(|(i, ty)| decode(parameters.get(i), ty, i).map(|v| literal(&v, ty)))
                    .collect::<Result<Vec<_>, _>>()?;
                if let (Some(cache), Statement::Select(select)) = (pull, parsed) {
                    if let Some(result) = self.prepared_pull(session, select, cache, &values).await {
                        return result;
                    }
                }
                let bound = bind_statement(parsed, &values)?;
                let bound = StatementParse { result: Ok(bound), ..statement.clone() };
                self.execute_statement(session, &bound).await
            }
        }
    }
}

fn unreachable_error<T>() -> Result<T, EngineError> {
    Err(EngineError::new(sqlstate::INTERNAL, "statement lost while preparing"))
}

/// The Arrow type a Postgres parameter type reads into.
fn pg_arrow_type(ty: &Type) -> DataType {
    sql_type_of_pg(ty).map(|t| arrow_type(&t)).unwrap_or(DataType::Utf8)
}

/// A parameter's value as `ty` (missing parameters are NULL).
fn decode(parameter: Option<&Parameter>, ty: &SqlType, index: usize) -> Result<Value, EngineError> {
    let Some(Parameter { bytes: Some(bytes), binary, oid }) = parameter else { return Ok(Value::Null) };
    let result = if *binary {
        parse_binary(bytes, *oid, ty)
    } else {
        let text = std::str::from_utf8(bytes)
            .map_err(|_| EngineError::new(sqlstate::INVALID_TEXT_REPRESENTATION, "invalid UTF-8 in a parameter"))?;
        parse_text(text, ty)
    };
    result.map_err(|e| EngineError::new(e.sqlstate(), format!("{e} (parameter ${})", index + 1)))
}

/// A value as a DataFusion scalar of `target`.
fn scalar(value: &Value, ty: &SqlType, target: &DataType) -> Result<ScalarValue, EngineError> {
    let array = eddy_runtime::values_to_array(std::slice::from_ref(value), ty)
        .map_err(|e| EngineError::new(sqlstate::INVALID_PARAMETER, e.to_string()))?;
    let scalar = ScalarValue::try_from_array(&array, 0).map_err(|e| crate::sql::sql_error(e, None))?;
    if scalar.data_type() == *target {
        return Ok(scalar);
    }
    scalar.cast_to(target).map_err(|e| crate::sql::sql_error(e, None))
}

/// The types of `$1`, `$2`, ... a plan determines, including those only cast (`$1::int`).
fn inferred_parameter_types(plan: &LogicalPlan) -> Vec<Option<DataType>> {
    let mut types = plan.get_parameter_types().unwrap_or_default();
    let _ = plan.apply(|node| {
        // LIMIT $1 / OFFSET $2 count rows.
        if let LogicalPlan::Limit(limit) = node {
            for e in [&limit.skip, &limit.fetch].into_iter().flatten() {
                if let DfExpr::Placeholder(p) = e.as_ref() {
                    let entry = types.entry(p.id.clone()).or_insert(None);
                    entry.get_or_insert(DataType::Int64);
                }
            }
        }
        for e in node.expressions() {
            let _ = e.apply(|x| {
                if let DfExpr::Cast(c) = x {
                    if let DfExpr::Placeholder(p) = c.expr.as_ref() {
                        let entry = types.entry(p.id.clone()).or_insert(None);
                        if entry.is_none() {
                            *entry = Some(c.field.data_type().clone());
                        }
                    }
                }
                Ok(TreeNodeRecursion::Continue)
            });
        }
        Ok(TreeNodeRecursion::Continue)
    });
    let count = types.keys().filter_map(|k| k.trim_start_matches('$').parse::<usize>().ok()).max().unwrap_or(0);
    (1..=count).map(|i| types.get(&format!("${i}")).cloned().flatten()).collect()
}

/// The number of the placeholder `$n` an expression is.
fn placeholder(e: &Expr) -> Option<usize> {
    match e {
        Expr::Value(v) => match &v.value {
            sql::Value::Placeholder(p) => p.strip_prefix('$')?.parse().ok(),
            _ => None,
        },
        _ => None,
    }
}

/// Every expression of an Eddy statement.
fn for_each_expr(statement: &mut Statement, f: &mut dyn FnMut(&mut Expr)) {
    fn select(s: &mut Select, f: &mut dyn FnMut(&mut Expr)) {
        for item in &mut s.projection {
            if let SelectItem::Expr { expr, .. } = item {
                f(expr);
            }
        }
        for join in &mut s.from.joins {
            f(&mut join.on);
        }
        s.selection.iter_mut().for_each(&mut *f);
        s.group_by.iter_mut().for_each(&mut *f);
        s.partition_by.iter_mut().for_each(&mut *f);
        s.having.iter_mut().for_each(&mut *f);
    }
    match statement {
        Statement::Select(s) => select(s, f),
        Statement::CreateAsSelect(c) => select(&mut c.query, f),
        Statement::InsertSelect { query, .. } => select(query, f),
        Statement::InsertValues { values, .. } => values.iter_mut().for_each(f),
        Statement::SelectValues(items) => {
            for item in items {
                if let SelectItem::Expr { expr, .. } = item {
                    f(expr);
                }
            }
        }
        Statement::Explain(inner) => for_each_expr(inner, f),
        _ => {}
    }
}

/// The highest placeholder number in a statement.
fn placeholder_count(statement: &Statement) -> usize {
    let mut statement = statement.clone();
    let mut max = 0;
    for_each_expr(&mut statement, &mut |e| {
        let _ = sql::visit_expressions(e, |x| {
            if let Some(n) = placeholder(x) {
                max = max.max(n);
            }
            std::ops::ControlFlow::<()>::Continue(())
        });
    });
    max
}

/// `$n` replaced by `values[n - 1]` throughout a statement.
fn bind_statement(statement: &Statement, values: &[Expr]) -> Result<Statement, EngineError> {
    let mut bound = statement.clone();
    let mut missing = None;
    for_each_expr(&mut bound, &mut |e| {
        if let Err(n) = bind_in_place(e, values) {
            missing = Some(n);
        }
    });
    match missing {
        Some(n) => Err(no_parameter(n)),
        None => Ok(bound),
    }
}

/// `$n` replaced by `values[n - 1]` throughout an expression.
pub(super) fn bind_expr(e: &Expr, values: &[Expr]) -> Result<Expr, EngineError> {
    let mut bound = e.clone();
    bind_in_place(&mut bound, values).map_err(no_parameter)?;
    Ok(bound)
}

/// Binds the placeholders of `e`; Err(n): there is no value for `$n`.
fn bind_in_place(e: &mut Expr, values: &[Expr]) -> Result<(), usize> {
    let mut missing = None;
    let _ = sql::visit_expressions_mut(e, |x| {
        if let Some(n) = placeholder(x) {
            match values.get(n.wrapping_sub(1)) {
                Some(v) => *x = v.clone(),
                None => missing = Some(n),
            }
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
    missing.map_or(Ok(()), Err)
}

fn no_parameter(n: usize) -> EngineError {
    EngineError::new(sqlstate::PROTOCOL_VIOLATION, format!("there is no parameter ${n}"))
}

/// `CAST(NULL AS type)` for each parameter: what a statement is planned with before values are known.
fn typed_nulls(types: &[Option<SqlType>]) -> Vec<Expr> {
    types.iter().map(|t| literal(&Value::Null, t.as_ref().unwrap_or(&SqlType::String))).collect()
}

/// A value as a literal of its type in Eddy's grammar.
fn literal(value: &Value, ty: &SqlType) -> Expr {
    let text = |s: String| Expr::Value(sql::Value::SingleQuotedString(s).into());
    let cast = |e: Expr| Expr::Cast {
        kind: CastKind::Cast,
        expr: Box::new(e),
        data_type: SqlDataType::Custom(sql::ObjectName::from(vec![sql::Ident::new(ty.to_string())]), vec![]),
        array: false,
        format: None,
    };
    match value {
        Value::Null => cast(Expr::Value(sql::Value::Null.into())),
        Value::Boolean(b) => Expr::Value(sql::Value::Boolean(*b).into()),
        Value::Int(_) | Value::Bigint(_) => cast(Expr::Value(sql::Value::Number(value.to_string(), false).into())),
        Value::Decimal(v) => {
            let scale = match ty {
                SqlType::Decimal { scale, .. } => *scale,
                _ => 0,
            };
            cast(Expr::Value(sql::Value::Number(eddy_runtime::decimal_to_string(*v, scale), false).into()))
        }
        Value::String(s) => text(s.clone()),
        Value::Double(d) => cast(text(format!("{d:?}"))),
        Value::Bytes(b) => {
            use base64::Engine as _;
            Expr::Function(sql::Function {
                name: sql::ObjectName::from(vec![sql::Ident::new("TO_BYTES")]),
                uses_odbc_syntax: false,
                parameters: sql::FunctionArguments::None,
                args: sql::FunctionArguments::List(sql::FunctionArgumentList {
                    duplicate_treatment: None,
                    args: vec![
                        sql::FunctionArg::Unnamed(sql::FunctionArgExpr::Expr(text(
                            base64::engine::general_purpose::STANDARD.encode(b),
                        ))),
                        sql::FunctionArg::Unnamed(sql::FunctionArgExpr::Expr(text("base64".into()))),
                    ],
                    clauses: vec![],
                }),
                filter: None,
                null_treatment: None,
                over: None,
                within_group: vec![],
            })
        }
        // ksqlDB's text forms of times, which its CAST from STRING reads.
        Value::Date(_) | Value::Time(_) | Value::Timestamp(_) => cast(text(time_text(value))),
        Value::Array(items) => {
            let item = match ty {
                SqlType::Array(item) => item.as_ref().clone(),
                _ => SqlType::String,
            };
            let elems = items.iter().map(|v| literal(v, &item)).collect();
            cast(Expr::Array(sql::Array { elem: elems, named: true }))
        }
        // MAP and STRUCT values have no literal a parameter could stand for; their columns are read
        // back from JSON text.
        Value::Map(_) | Value::Struct(_) => cast(text(eddy_runtime::format::value_to_json(value, ty).to_string())),
    }
}

/// A DATE, TIME or TIMESTAMP as ksqlDB writes it (`2024-05-06`, `01:02:03.000`,
/// `2024-05-06T01:02:03.000`), UTC.
fn time_text(value: &Value) -> String {
    use chrono::{DateTime, NaiveDate, NaiveTime};
    match value {
        Value::Date(days) => NaiveDate::from_num_days_from_ce_opt(*days + 719_163)
            .map(|d| d.format("%Y-%m-%d").to_string())
            .unwrap_or_default(),
        Value::Time(ms) => {
            NaiveTime::from_num_seconds_from_midnight_opt((*ms / 1000) as u32, (*ms % 1000) as u32 * 1_000_000)
                .map(|t| t.format("%H:%M:%S%.3f").to_string())
                .unwrap_or_default()
        }
        Value::Timestamp(ms) => DateTime::from_timestamp_millis(*ms)
            .map(|t| t.naive_utc().format("%Y-%m-%dT%H:%M:%S%.3f").to_string())
            .unwrap_or_default(),
        other => other.to_string(),
    }
}

/// Types of the parameters of an Eddy statement, from where they stand: a value of INSERT's column,
/// or compared with a column of the statement's source.
fn infer_statement(statement: &Statement, catalog: &Catalog) -> Vec<Option<SqlType>> {
    match statement {
        Statement::InsertValues { target, columns, values } => {
            let Ok(source) = catalog.source(target) else { return Vec::new() };
            let names: Vec<String> = match columns {
                Some(c) => c.clone(),
                None => source
                    .columns
                    .iter()
                    .filter(|c| matches!(c.kind, eddy_catalog::ColumnKind::Key | eddy_catalog::ColumnKind::Value))
                    .map(|c| c.name.clone())
                    .collect(),
            };
            let mut types = Vec::new();
            for (name, value) in names.iter().zip(values) {
                if let Some(n) = placeholder(value) {
                    let ty = if name == "ROWTIME" {
                        Some(SqlType::Bigint)
                    } else {
                        source.column(name).map(|c| c.ty.clone())
                    };
                    set_type(&mut types, n, ty);
                }
            }
            types
        }
        Statement::Select(s) => infer_select(s, catalog),
        Statement::CreateAsSelect(c) => infer_select(&c.query, catalog),
        Statement::InsertSelect { query, .. } => infer_select(query, catalog),
        _ => Vec::new(),
    }
}

fn set_type(types: &mut Vec<Option<SqlType>>, n: usize, ty: Option<SqlType>) {
    if n == 0 {
        return;
    }
    if types.len() < n {
        types.resize(n, None);
    }
    if types[n - 1].is_none() {
        types[n - 1] = ty;
    }
}

/// The type a `CAST(x AS type)` / `x::type` names, in ksqlDB's types (None: not one of them).
fn cast_type(data_type: &sql::DataType) -> Option<SqlType> {
    eddy_parser::parse_type(&data_type.to_string()).ok()
}

/// Types of placeholders compared with (or IN-listed against, or BETWEEN) a column of the source.
fn infer_select(select: &Select, catalog: &Catalog) -> Vec<Option<SqlType>> {
    let Ok(source) = catalog.source(&select.from.source.name) else { return Vec::new() };
    let column_type = |e: &Expr| -> Option<SqlType> {
        let name = match e {
            Expr::Cast { data_type, .. } => return cast_type(data_type),
            Expr::Identifier(i) => eddy_parser::fold_ident(i),
            Expr::CompoundIdentifier(parts) => eddy_parser::fold_ident(parts.last()?),
            _ => return None,
        };
        match name.as_str() {
            "ROWTIME" | "ROWOFFSET" | "WINDOWSTART" | "WINDOWEND" => Some(SqlType::Bigint),
            "ROWPARTITION" => Some(SqlType::Int),
            _ => source.column(&name).map(|c| c.ty.clone()),
        }
    };
    let mut types = Vec::new();
    let mut statement = Statement::Select(Box::new(select.clone()));
    for_each_expr(&mut statement, &mut |e| {
        let _ = sql::visit_expressions(e, |x| {
            match x {
                Expr::BinaryOp {
                    left,
                    op:
                        BinaryOperator::Eq
                        | BinaryOperator::NotEq
                        | BinaryOperator::Lt
                        | BinaryOperator::LtEq
                        | BinaryOperator::Gt
                        | BinaryOperator::GtEq
                        | BinaryOperator::Plus
                        | BinaryOperator::Minus,
                    right,
                } => {
                    if let Some(n) = placeholder(right) {
                        set_type(&mut types, n, column_type(left));
                    }
                    if let Some(n) = placeholder(left) {
                        set_type(&mut types, n, column_type(right));
                    }
                }
                Expr::Cast { expr, data_type, .. } => {
                    if let Some(n) = placeholder(expr) {
                        set_type(&mut types, n, cast_type(data_type));
                    }
                }
                Expr::InList { expr, list, .. } => {
                    for item in list {
                        if let Some(n) = placeholder(item) {
                            set_type(&mut types, n, column_type(expr));
                        }
                    }
                }
                Expr::Between { expr, low, high, .. } => {
                    for bound in [low, high] {
                        if let Some(n) = placeholder(bound) {
                            set_type(&mut types, n, column_type(expr));
                        }
                    }
                }
                Expr::Like { expr, pattern, .. } => {
                    if let Some(n) = placeholder(pattern) {
                        set_type(&mut types, n, column_type(expr).or(Some(SqlType::String)));
                    }
                }
                _ => {}
            }
            std::ops::ControlFlow::<()>::Continue(())
        });
    });
    types
}

impl Engine {
    /// The columns a session statement returns: SHOW's one column, a FETCH's cursor's columns.
    async fn describe_session_statement(
        &self,
        session: &mut Session,
        text: &str,
    ) -> Result<Option<Columns>, EngineError> {
        match first_word(text).as_str() {
            "FETCH" => {
                let parsed = crate::sql::parse(text)?;
                let Some(sql::Statement::Fetch { name, .. }) = parsed.first() else { return Ok(None) };
                let name = if name.quote_style.is_some() { name.value.clone() } else { name.value.to_lowercase() };
                let Some(cursor) = session.cursors.get(&name).await else { return Ok(None) };
                let cursor = cursor.lock().await;
                Ok(match &cursor.rows {
                    crate::session::cursor::CursorRows::Batches { schema, .. } => Some(Columns::Arrow(schema.clone())),
                    _ => cursor.columns().map(Columns::Eddy),
                })
            }
            "SHOW" => {
                // Run SHOW for its column name: it changes nothing.
                match Box::pin(self.execute(session, text)).await.pop() {
                    Some(Ok(Output::Rows { columns, .. })) => Ok(Some(Columns::Eddy(columns))),
                    _ => Ok(None),
                }
            }
            _ => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_placeholders_as_typed_literals() {
        let parsed = parse_each("SELECT * FROM s WHERE a = $1 AND b = '$2' AND c = $2;").expect("parse");
        let Ok(statement) = &parsed[0].result else { panic!("parse") };
        assert_eq!(placeholder_count(statement), 2);
        let bound = bind_statement(
            statement,
            &[literal(&Value::String("007".into()), &SqlType::String), literal(&Value::Int(5), &SqlType::Int)],
        )
        .expect("bind");
        let Statement::Select(select) = bound else { panic!("select") };
        let text = select.selection.map(|e| e.to_string()).unwrap_or_default();
        assert_eq!(text, "a = '007' AND b = '$2' AND c = CAST(5 AS INTEGER)");
    }
}
