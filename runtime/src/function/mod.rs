//! ksqlDB's built-in scalar functions, registered as DataFusion UDFs with ksqlDB semantics.

mod args;
mod bytes;
mod collections;
mod conditional;
mod datetime;
mod digest;
mod json;
mod json_text;
mod lambda;
mod math;
mod row_udf;
mod sets;
mod string;
mod text;
mod trig;
mod url;

use std::sync::Arc;

use datafusion_expr::ScalarUDF;
use eddy_catalog::SqlType;

use args::{items, text};
pub use datetime::{takes_time_unit, time_unit_millis};
pub use lambda::{LambdaKind, LambdaUdf};
pub use row_udf::{RowFn, RowUdf};
pub use text::{MAX_BUILT_ELEMENTS, MAX_BUILT_STRING_CHARS};

/// Functions whose result differs per call with the same arguments (Postgres' `provolatile = 'v'`):
/// the SQL engine must call them per row, never fold them into a constant.
const VOLATILE: &[&str] = &["RANDOM", "UUID"];

/// Whether a function (by upper-case name) is volatile ([`VOLATILE`]).
pub fn is_volatile(name: &str) -> bool {
    VOLATILE.contains(&name)
}

/// A function resolved for argument types: the UDF to call and its result type.
pub struct ResolvedFunction {
    pub udf: Arc<ScalarUDF>,
    pub return_type: SqlType,
}

/// Resolves a function call by (upper-case) name and argument types.
/// `None`: no function of that name; `Some(Err)`: the name exists but not for these types.
pub fn resolve_function(name: &str, args: &[SqlType]) -> Option<Result<ResolvedFunction, String>> {
    if let Some(found) = json::resolve(name, args) {
        return Some(found);
    }
    let found = string::resolve(name, args)
        .or_else(|| math::resolve(name, args))
        .or_else(|| trig::resolve(name, args))
        .or_else(|| conditional::resolve(name, args))
        .or_else(|| text::resolve(name, args))
        .or_else(|| collections::resolve(name, args))
        .or_else(|| url::resolve(name, args))
        .or_else(|| bytes::resolve(name, args))
        .or_else(|| datetime::resolve(name, args))
        .or_else(|| sets::resolve(name, args))
        .or_else(|| digest::resolve(name, args))
        .or_else(|| json_text::resolve(name, args))?;
    Some(found.map(|(f, ret)| ResolvedFunction {
        udf: Arc::new(ScalarUDF::new_from_impl(RowUdf::new(name, args.to_vec(), ret.clone(), f))),
        return_type: ret,
    }))
}

/// Names of the functions Eddy implements, for SHOW FUNCTIONS.
pub fn function_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = string::NAMES
        .iter()
        .chain(math::NAMES)
        .chain(trig::NAMES)
        .chain(conditional::NAMES)
        .chain(text::NAMES)
        .chain(collections::NAMES)
        .chain(json::NAMES)
        .chain(url::NAMES)
        .chain(bytes::NAMES)
        .chain(datetime::NAMES)
        .chain(sets::NAMES)
        .chain(digest::NAMES)
        .chain(json_text::NAMES)
        .chain(lambda::NAMES)
        .copied()
        .collect();
    names.sort();
    names
}

pub(crate) fn signature_error(name: &str, args: &[SqlType]) -> String {
    let types: Vec<String> = args.iter().map(|t| t.to_string()).collect();
    format!("Function '{name}' does not accept parameters ({})", types.join(", "))
}

/// The signature error of the functions ksqlDB declares in lower case (`greatest`, `dateadd`, ...),
/// worded as its messages for them are.
pub(crate) fn signature_error_lowercase(name: &str, args: &[SqlType]) -> String {
    format!("{}.", signature_error(&name.to_lowercase(), args))
}
