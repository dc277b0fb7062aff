//! ksqlDB's scalar functions in the SQL engine, so full-SQL queries over Eddy's relations keep
//! ksqlDB's semantics. A name DataFusion also has is ksqlDB's function when ksqlDB has an overload
//! for the argument types, and DataFusion's otherwise (`array_length(a, 1)` stays Postgres').

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{DataFusionError, Result};
use datafusion::logical_expr::type_coercion::functions::fields_with_udf;
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;
use eddy_catalog::{arrow_type, sql_type_of, SqlType};
use eddy_runtime::function::{function_names, resolve_function};

/// A ksqlDB function by name, resolved per argument types, falling back to a DataFusion function.
#[derive(Debug)]
pub struct KsqlFunction {
    /// Lower-case, as DataFusion looks functions up.
    name: String,
    signature: Signature,
    builtin: Option<Arc<ScalarUDF>>,
}

impl PartialEq for KsqlFunction {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for KsqlFunction {}

impl std::hash::Hash for KsqlFunction {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl KsqlFunction {
    fn new(name: &str, builtin: Option<Arc<ScalarUDF>>) -> Self {
        let volatility =
            if eddy_runtime::function::is_volatile(name) { Volatility::Volatile } else { Volatility::Immutable };
        Self { name: name.to_lowercase(), signature: Signature::user_defined(volatility), builtin }
    }

    /// ksqlDB's function for these argument types, if it has one.
    fn ksql(&self, args: &[DataType]) -> Option<(Arc<ScalarUDF>, SqlType)> {
        let types: Option<Vec<SqlType>> = args.iter().map(sql_type_of).collect();
        let types = types?;
        let resolved = resolve_function(&self.name.to_uppercase(), &types)?.ok()?;
        Some((resolved.udf, resolved.return_type))
    }

    fn builtin(&self) -> Result<&Arc<ScalarUDF>> {
        self.builtin.as_ref().ok_or_else(|| {
            DataFusionError::Plan(format!("Function '{}' does not accept these parameters", self.name.to_uppercase()))
        })
    }
}

impl ScalarUDFImpl for KsqlFunction {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        match self.ksql(args) {
            Some((_, ret)) => Ok(arrow_type(&ret)),
            None => self.builtin()?.return_type(args),
        }
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let types: Vec<DataType> = args.arg_fields.iter().map(|f| f.data_type().clone()).collect();
        match self.ksql(&types) {
            Some((_, ret)) => Ok(Arc::new(Field::new(self.name(), arrow_type(&ret), true))),
            None => self.builtin()?.return_field_from_args(args),
        }
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        if self.ksql(args).is_some() {
            return Ok(args.to_vec());
        }
        // ksqlDB widens INT literals and the like itself; DataFusion's literals are BIGINT/DOUBLE.
        match &self.builtin {
            Some(builtin) => {
                let fields: Vec<FieldRef> = args.iter().map(|t| Arc::new(Field::new("", t.clone(), true))).collect();
                Ok(fields_with_udf(&fields, builtin.as_ref())?.iter().map(|f| f.data_type().clone()).collect())
            }
            None => Err(DataFusionError::Plan(format!(
                "Function '{}' does not accept parameters ({})",
                self.name.to_uppercase(),
                args.iter()
                    .map(|t| sql_type_of(t).map(|s| s.to_string()).unwrap_or(t.to_string()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let types: Vec<DataType> = args.arg_fields.iter().map(|f| f.data_type().clone()).collect();
        match self.ksql(&types) {
            Some((udf, _)) => udf.invoke_with_args(args),
            None => self.builtin()?.invoke_with_args(args),
        }
    }
}

/// Registers every ksqlDB scalar function on a context (lambda functions excepted: their bodies are
/// planned by Eddy's planner, not DataFusion's).
pub fn register(ctx: &SessionContext) {
    let state = ctx.state();
    let builtins = state.scalar_functions();
    let lambdas = ["TRANSFORM", "FILTER", "REDUCE"];
    let functions: Vec<ScalarUDF> = function_names()
        .into_iter()
        .filter(|n| !lambdas.contains(n))
        .map(|name| {
            let builtin = builtins.get(&name.to_lowercase()).cloned();
            ScalarUDF::new_from_impl(KsqlFunction::new(name, builtin))
        })
        .collect();
    for f in functions {
        ctx.register_udf(f);
    }
}
