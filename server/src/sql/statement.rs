//! Postgres SQL statements on the SQL engine: parsed as Postgres parses them (with
//! datafusion-pg-catalog's rewrites of what psql and other clients send), names resolved, planned
//! into a DataFusion plan that takes typed parameters, and run.

use std::sync::Arc;

use arrow::datatypes::{DataType, SchemaRef};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use datafusion::common::{DataFusionError, ParamValues, ScalarValue, SchemaError};
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::Statement as DfStatement;
use datafusion_pg_catalog::sql::rules::{
    AliasDuplicatedProjectionRewrite, CurrentUserVariableToSessionUserFunctionCall, FixArrayLiteral,
    FixVersionColumnName, PrependUnqualifiedPgTableName, ResolveUnqualifiedIdentifier, RewriteArrayAnyAllOperation,
    RewritePgCatalogOperator, RewriteRegCastToSubquery, SqlStatementRewriteRule, StripCallableQualifier, StripCollate,
};
use datafusion_pg_catalog::sql::PostgresCompatibilityParser;
use sqlparser::ast::Statement;
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::{Parser, ParserError};

use super::functions::OutputTooLarge;
use super::names::{resolve_names, Fold};
use crate::engine::{error_sqlstate as sqlstate, runtime_sqlstate, EngineError};
use crate::limits::MAX_RESULT_BYTES;
use crate::session::settings::SettingError;

/// A statement planned by the SQL engine, ready to run with parameter values.
#[derive(Debug, Clone)]
pub struct SqlPlan {
    pub plan: LogicalPlan,
    /// How its unquoted names folded: ksqlDB's (it reads Eddy's relations) or Postgres'.
    pub fold: Fold,
}

impl SqlPlan {
    /// The plan's result columns.
    pub fn schema(&self) -> SchemaRef {
        Arc::new(self.plan.schema().as_arrow().clone())
    }

    /// The types of `$1`, `$2`, ... as far as the plan determines them (None: any).
    pub fn parameter_types(&self) -> Result<Vec<Option<DataType>>, EngineError> {
        let types = self.plan.get_parameter_types().map_err(|e| sql_error(e, None))?;
        let count = types.keys().filter_map(|k| k.trim_start_matches('$').parse::<usize>().ok()).max().unwrap_or(0);
        Ok((1..=count).map(|i| types.get(&format!("${i}")).cloned().flatten()).collect())
    }
}

/// datafusion-pg-catalog's rewrites of Postgres SQL for DataFusion, but for the one that answers
/// NULL for a correlated subquery in a SELECT list (Eddy decorrelates those, see `rewrite`).
fn compatibility_rules() -> Vec<Box<dyn SqlStatementRewriteRule>> {
    vec![
        Box::new(AliasDuplicatedProjectionRewrite),
        Box::new(ResolveUnqualifiedIdentifier),
        Box::new(RewriteArrayAnyAllOperation),
        Box::new(PrependUnqualifiedPgTableName),
        Box::new(StripCallableQualifier),
        Box::new(FixArrayLiteral),
        Box::new(CurrentUserVariableToSessionUserFunctionCall),
        Box::new(StripCollate),
        Box::new(RewritePgCatalogOperator),
        Box::new(RewriteRegCastToSubquery::new()),
        Box::new(FixVersionColumnName),
    ]
}

/// Parses Postgres SQL text into statements DataFusion can plan, keeping their positions. Where a
/// client sends one of the catalog queries datafusion-pg-catalog knows DataFusion cannot plan (and
/// replaces whole), its replacement is taken.
pub fn parse(text: &str) -> Result<Vec<Statement>, EngineError> {
    let compat = PostgresCompatibilityParser::new();
    let located =
        Parser::new(&PostgreSqlDialect {}).try_with_sql(text).and_then(|mut p| p.parse_statements()).map_err(|e| {
            let code = match e {
                ParserError::RecursionLimitExceeded => sqlstate::STATEMENT_TOO_COMPLEX,
                _ => sqlstate::SYNTAX_ERROR,
            };
            EngineError::new(code, parser_message(&e.to_string())).at(parser_position(text, &e.to_string()))
        });
    let rules = compatibility_rules();
    let ours = |s: Statement| rules.iter().fold(s, |s, rule| rule.rewrite(s));
    match compat.parse(text) {
        Ok(replaced) => match located {
            Ok(located) if located.len() == replaced.len() => located
                .into_iter()
                .zip(replaced)
                .map(|(l, r)| super::balance::balance(if compat.rewrite(l.clone()) == r { ours(l) } else { r }))
                .collect(),
            _ => replaced.into_iter().map(super::balance::balance).collect(),
        },
        Err(e) => Err(located.err().unwrap_or_else(|| EngineError::new(sqlstate::SYNTAX_ERROR, e.to_string()))),
    }
}

/// sqlparser's message without its ` at Line: L, Column: C` suffix.
fn parser_message(message: &str) -> String {
    let message = message.strip_prefix("sql parser error: ").unwrap_or(message);
    match message.rfind(" at Line: ") {
        Some(i) => format!("syntax error: {}", &message[..i]),
        None => format!("syntax error: {message}"),
    }
}

/// The 1-based character position a sqlparser message's ` at Line: L, Column: C` points to.
fn parser_position(text: &str, message: &str) -> Option<usize> {
    let at = message.rfind(" at Line: ")?;
    let nums: Vec<u64> = message[at..]
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .filter_map(|s| s.parse().ok())
        .collect();
    let [line, column] = nums[..] else { return None };
    eddy_parser::location_to_position(text, sqlparser::tokenizer::Location { line, column })
}

/// Resolves names and plans one statement.
/// `declared` are the parameter types the client gave (`$n` is planned as `CAST($n AS type)`).
pub async fn plan(
    ctx: &SessionContext,
    database: &str,
    mut statement: Statement,
    text: &str,
    declared: &[Option<pgwire::api::Type>],
) -> Result<SqlPlan, EngineError> {
    let state = ctx.state();
    super::rewrite::declare_parameters(&mut statement, declared);
    super::rewrite::rewrite(&mut statement, &|name| state.aggregate_functions().contains_key(name));
    let catalogs = ctx.state().catalog_list().clone();
    let fold = resolve_names(&mut statement, &catalogs, database).await.map_err(|unknown| {
        EngineError::new(sqlstate::UNDEFINED_TABLE, format!("relation \"{}\" does not exist", unknown.name))
            .at(eddy_parser::location_to_position(text, unknown.at))
    })?;
    let plan = ctx
        .state()
        .statement_to_plan(DfStatement::Statement(Box::new(statement)))
        .await
        .map_err(|e| sql_error(e, Some(text)))?;
    Ok(SqlPlan { plan, fold })
}

/// A SQL-engine result larger than [`MAX_RESULT_BYTES`]: SQLSTATE 54000.
#[derive(Debug, thiserror::Error)]
#[error(
    "the query's result is larger than {limit} bytes (eddy.limit.query.result.bytes); add a LIMIT or a WHERE clause"
)]
pub struct ResultTooLarge {
    pub limit: usize,
}

/// Runs a plan with parameter values; returns its result columns and rows (at most
/// [`MAX_RESULT_BYTES`] of Arrow memory, else [`ResultTooLarge`]).
pub async fn execute(
    ctx: &SessionContext,
    plan: &SqlPlan,
    params: Vec<ScalarValue>,
) -> Result<(SchemaRef, Vec<RecordBatch>), EngineError> {
    let logical = if params.is_empty() {
        plan.plan.clone()
    } else {
        plan.plan
            .clone()
            .with_param_values(ParamValues::List(params.into_iter().map(Into::into).collect()))
            .map_err(|e| sql_error(e, None))?
    };
    let state = ctx.state();
    let schema: SchemaRef = Arc::new(logical.schema().as_arrow().clone());
    let optimized = state.optimize(&logical).map_err(|e| sql_error(e, None))?;
    let optimized = super::subquery::evaluate_remaining(optimized, &state).map_err(|e| sql_error(e, None))?;
    let task_ctx = ctx.task_ctx();
    let batches = super::executor::run(async move {
        use futures::TryStreamExt as _;
        let physical = state.create_physical_plan(&optimized).await?;
        // The answer is held whole before it is sent: bounded like the operators' memory.
        let mut stream = datafusion::physical_plan::execute_stream(physical, task_ctx)?;
        let (mut batches, mut bytes) = (Vec::new(), 0usize);
        while let Some(batch) = stream.try_next().await? {
            // The batch's own rows (a slice of a larger batch counts only its part).
            bytes += batch.columns().iter().map(|c| c.to_data().get_slice_memory_size().unwrap_or(0)).sum::<usize>();
            let most = crate::limits::get(&MAX_RESULT_BYTES);
            if bytes > most {
                return Err(DataFusionError::External(Box::new(ResultTooLarge { limit: most })));
            }
            batches.push(batch);
        }
        Ok(batches)
    })
    .await?
    .map_err(|e| sql_error(e, None))?;
    Ok((schema, batches))
}

/// A DataFusion error as the client sees it: Postgres' SQLSTATE for its kind, the position its
/// diagnostic points to.
pub fn sql_error(e: DataFusionError, text: Option<&str>) -> EngineError {
    let position = e.diagnostic().and_then(|d| d.span).and_then(|span| {
        text.and_then(|t| {
            eddy_parser::location_to_position(
                t,
                sqlparser::tokenizer::Location { line: span.start.line, column: span.start.column },
            )
        })
    });
    let root = e.find_root();
    let state = match root {
        DataFusionError::SQL(..) => sqlstate::SYNTAX_ERROR,
        DataFusionError::SchemaError(inner, _) => match inner.as_ref() {
            SchemaError::FieldNotFound { .. } => sqlstate::UNDEFINED_COLUMN,
            SchemaError::AmbiguousReference { .. } => "42702",
            _ => "42P16",
        },
        DataFusionError::ArrowError(inner, _) => match inner.as_ref() {
            ArrowError::DivideByZero => sqlstate::DIVISION_BY_ZERO,
            ArrowError::CastError(_) | ArrowError::ParseError(_) => sqlstate::INVALID_TEXT_REPRESENTATION,
            ArrowError::ArithmeticOverflow(_) => sqlstate::NUMERIC_VALUE_OUT_OF_RANGE,
            _ => sqlstate::DATA_EXCEPTION,
        },
        DataFusionError::NotImplemented(_) => sqlstate::FEATURE_NOT_SUPPORTED,
        DataFusionError::ResourcesExhausted(_) => sqlstate::OUT_OF_MEMORY,
        DataFusionError::External(inner) => match inner.downcast_ref::<SettingError>() {
            Some(SettingError::Unknown(_)) => sqlstate::UNDEFINED_OBJECT,
            Some(SettingError::ReadOnly(_)) => sqlstate::CANT_CHANGE_RUNTIME_PARAM,
            Some(SettingError::InvalidValue { .. }) => sqlstate::INVALID_PARAMETER,
            None if inner.is::<OutputTooLarge>() || inner.is::<ResultTooLarge>() => sqlstate::PROGRAM_LIMIT_EXCEEDED,
            None if inner.is::<eddy_runtime::RuntimeError>() => {
                inner.downcast_ref::<eddy_runtime::RuntimeError>().map_or(sqlstate::INTERNAL, runtime_sqlstate)
            }
            None => sqlstate::INTERNAL,
        },
        DataFusionError::Plan(_) | DataFusionError::Configuration(_) => "42000",
        DataFusionError::Execution(_) => sqlstate::DATA_EXCEPTION,
        _ => sqlstate::INTERNAL,
    };
    // Postgres' wording for the errors clients show users most (errors.c messages of the parser
    // and executor); DataFusion's own text for the rest.
    let message = match root {
        DataFusionError::External(inner) => inner.to_string(),
        DataFusionError::SchemaError(inner, _) => match inner.as_ref() {
            SchemaError::FieldNotFound { field, .. } => format!("column \"{}\" does not exist", field.name),
            SchemaError::AmbiguousReference { field } => {
                format!("column reference \"{}\" is ambiguous", field.name)
            }
            _ => root.message().trim().to_string(),
        },
        DataFusionError::ArrowError(inner, _) if matches!(inner.as_ref(), ArrowError::DivideByZero) => {
            "division by zero".to_string()
        }
        _ => root.message().trim().to_string(),
    };
    let error = EngineError::new(state, message).at(position);
    match root {
        DataFusionError::ResourcesExhausted(_) => error.with_hint(
            "The query needs more memory than a session's queries may hold (eddy.limit.query.memory.bytes).",
        ),
        _ => error,
    }
}
