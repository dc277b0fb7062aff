//! Postgres functions clients and BI tools call that neither DataFusion nor datafusion-pg-catalog
//! answer as Postgres does: the session's identity and settings (`current_user`, `current_setting`,
//! `set_config`), `version()`, object descriptions, and index/constraint definitions of Eddy's keys.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, StringArray};
use arrow::datatypes::{DataType, Int32Type};
use datafusion::common::{DataFusionError, Result};
use datafusion::logical_expr::expr_fn::SimpleScalarUDF;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionImplementation, ScalarUDF, Signature, TypeSignature, Volatility,
};
use datafusion::prelude::SessionContext;

use crate::session::settings::SettingError;
use crate::session::version_string;
use crate::sql::context::SessionIdentity;
use crate::sql::pg_catalog::KeyOids;

/// A UDF from a function over the argument arrays and the row count.
fn udf(
    name: &str,
    signature: TypeSignature,
    ret: DataType,
    volatility: Volatility,
    f: impl Fn(&[ArrayRef], usize) -> Result<ArrayRef> + Send + Sync + 'static,
) -> ScalarUDF {
    let fun: ScalarFunctionImplementation = Arc::new(move |args: &[ColumnarValue]| {
        let rows = args
            .iter()
            .find_map(|a| match a {
                ColumnarValue::Array(a) => Some(a.len()),
                ColumnarValue::Scalar(_) => None,
            })
            .unwrap_or(1);
        let arrays = args.iter().map(|a| a.to_array(rows)).collect::<Result<Vec<_>>>()?;
        Ok(ColumnarValue::Array(f(&arrays, rows)?))
    });
    ScalarUDF::from(SimpleScalarUDF::new_with_signature(name, Signature::new(signature, volatility), ret, fun))
}

/// The same text in every row.
fn constant_text(value: String) -> impl Fn(&[ArrayRef], usize) -> Result<ArrayRef> + Send + Sync + 'static {
    move |_, rows| Ok(Arc::new(StringArray::from(vec![value.clone(); rows])) as ArrayRef)
}

/// NULL text in every row.
fn null_text(_: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    Ok(Arc::new(StringArray::from(vec![None::<&str>; rows])))
}

fn any_of(arities: &[usize]) -> TypeSignature {
    TypeSignature::OneOf(arities.iter().map(|n| TypeSignature::Any(*n)).collect())
}

/// Functions that read the session: registered on each session's context.
pub fn register_session(ctx: &SessionContext, identity: &SessionIdentity, keys: Arc<KeyOids>) {
    let user = identity.user.clone();
    for name in ["current_user", "session_user", "user", "current_role"] {
        ctx.register_udf(udf(
            name,
            TypeSignature::Nullary,
            DataType::Utf8,
            Volatility::Stable,
            constant_text(user.clone()),
        ));
    }
    ctx.register_udf(udf(
        "pg_get_userbyid",
        TypeSignature::Any(1),
        DataType::Utf8,
        Volatility::Stable,
        constant_text(user.clone()),
    ));
    for name in ["current_database", "current_catalog"] {
        ctx.register_udf(udf(
            name,
            TypeSignature::Nullary,
            DataType::Utf8,
            Volatility::Stable,
            constant_text(identity.database.clone()),
        ));
    }

    let settings = identity.settings.clone();
    ctx.register_udf(udf(
        "current_setting",
        TypeSignature::OneOf(vec![
            TypeSignature::Exact(vec![DataType::Utf8]),
            TypeSignature::Exact(vec![DataType::Utf8, DataType::Boolean]),
        ]),
        DataType::Utf8,
        Volatility::Stable,
        move |args, rows| {
            let names = args[0].as_string::<i32>();
            let missing_ok = args.get(1).map(|a| a.as_boolean().clone());
            let settings = settings.read().map_err(|_| DataFusionError::Internal("settings lock".into()))?;
            let mut out = Vec::with_capacity(rows);
            for i in 0..rows {
                if names.is_null(i) {
                    out.push(None);
                    continue;
                }
                match settings.get(names.value(i)) {
                    Ok(v) => out.push(Some(v)),
                    Err(_) if missing_ok.as_ref().is_some_and(|m| m.is_valid(i) && m.value(i)) => out.push(None),
                    Err(e) => return Err(DataFusionError::External(Box::new(e))),
                }
            }
            Ok(Arc::new(StringArray::from(out)) as ArrayRef)
        },
    ));

    let settings = identity.settings.clone();
    ctx.register_udf(udf(
        "set_config",
        TypeSignature::Exact(vec![DataType::Utf8, DataType::Utf8, DataType::Boolean]),
        DataType::Utf8,
        Volatility::Volatile,
        move |args, rows| {
            let (names, values) = (args[0].as_string::<i32>(), args[1].as_string::<i32>());
            let mut settings = settings.write().map_err(|_| DataFusionError::Internal("settings lock".into()))?;
            let mut out = Vec::with_capacity(rows);
            for i in 0..rows {
                let value = values.is_valid(i).then(|| values.value(i));
                settings
                    .set(names.value(i), value)
                    .map_err(|e: SettingError| DataFusionError::External(Box::new(e)))?;
                out.push(Some(settings.get(names.value(i)).unwrap_or_default()));
            }
            Ok(Arc::new(StringArray::from(out)) as ArrayRef)
        },
    ));

    let index_keys = keys.clone();
    ctx.register_udf(udf("pg_get_indexdef", any_of(&[1, 3]), DataType::Utf8, Volatility::Stable, move |args, rows| {
        let oids = int_arg(&args[0])?;
        let defs: StringArray =
            (0..rows).map(|i| oids.get(i).copied().flatten().and_then(|o| index_keys.index_definition(o))).collect();
        Ok(Arc::new(defs) as ArrayRef)
    }));
    ctx.register_udf(udf(
        "pg_get_constraintdef",
        any_of(&[1, 2]),
        DataType::Utf8,
        Volatility::Stable,
        move |args, rows| {
            let oids = int_arg(&args[0])?;
            let defs: StringArray =
                (0..rows).map(|i| oids.get(i).copied().flatten().and_then(|o| keys.constraint_definition(o))).collect();
            Ok(Arc::new(defs) as ArrayRef)
        },
    ));
}

/// Each row's arguments as JSON values, combined into one JSON text per row.
fn json_rows(
    args: &[ArrayRef],
    rows: usize,
    combine: impl Fn(&[serde_json::Value]) -> serde_json::Value,
) -> Result<ArrayRef> {
    let mut out = Vec::with_capacity(rows);
    let mut values = Vec::with_capacity(args.len());
    for row in 0..rows {
        values.clear();
        for a in args {
            values.push(json_of(a, row));
        }
        out.push(Some(combine(&values).to_string()));
    }
    Ok(Arc::new(StringArray::from(out)))
}

/// One cell as a JSON value: numbers and booleans as themselves, the rest as text.
fn json_of(array: &ArrayRef, row: usize) -> serde_json::Value {
    if array.is_null(row) {
        return serde_json::Value::Null;
    }
    match array.data_type() {
        DataType::Boolean => serde_json::Value::Bool(array.as_boolean().value(row)),
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32 => arrow::compute::cast(&array.slice(row, 1), &DataType::Int64)
            .ok()
            .map(|c| serde_json::Value::from(c.as_primitive::<arrow::datatypes::Int64Type>().value(0)))
            .unwrap_or(serde_json::Value::Null),
        DataType::Float32 | DataType::Float64 => arrow::compute::cast(&array.slice(row, 1), &DataType::Float64)
            .ok()
            .and_then(|c| serde_json::Number::from_f64(c.as_primitive::<arrow::datatypes::Float64Type>().value(0)))
            .map(serde_json::Value::Number)
            .unwrap_or(serde_json::Value::Null),
        _ => serde_json::Value::String(arrow::util::display::array_value_to_string(array, row).unwrap_or_default()),
    }
}

/// An OID argument as 32-bit integers (whatever integer type the caller passed).
fn int_arg(array: &ArrayRef) -> Result<Vec<Option<i32>>> {
    let cast = arrow::compute::cast(array, &DataType::Int32)?;
    Ok(cast.as_primitive::<Int32Type>().iter().collect())
}

/// Functions the same for every session.
pub fn register_shared(ctx: &SessionContext) {
    ctx.register_udf(udf(
        "version",
        TypeSignature::Nullary,
        DataType::Utf8,
        Volatility::Stable,
        constant_text(version_string()),
    ));
    // Eddy stores no comments: every description is NULL, as for an object without one.
    for (name, arities) in [
        ("obj_description", &[1usize, 2][..]),
        ("col_description", &[2][..]),
        ("shobj_description", &[2][..]),
        ("pg_get_function_result", &[1][..]),
        ("pg_get_function_arguments", &[1][..]),
        ("pg_get_function_identity_arguments", &[1][..]),
        ("pg_get_viewdef", &[1, 2][..]),
        ("pg_get_triggerdef", &[1, 2][..]),
        ("pg_get_ruledef", &[1, 2][..]),
        ("pg_get_serial_sequence", &[2][..]),
    ] {
        ctx.register_udf(udf(name, any_of(arities), DataType::Utf8, Volatility::Stable, null_text));
    }
    ctx.register_udf(udf(
        "json_build_object",
        TypeSignature::VariadicAny,
        DataType::Utf8,
        Volatility::Stable,
        |args, rows| {
            json_rows(args, rows, |values| {
                let mut object = serde_json::Map::new();
                for pair in values.chunks(2) {
                    let key = match &pair[0] {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    object.insert(key, pair.get(1).cloned().unwrap_or(serde_json::Value::Null));
                }
                serde_json::Value::Object(object)
            })
        },
    ));
    ctx.register_udf(udf(
        "json_build_array",
        TypeSignature::VariadicAny,
        DataType::Utf8,
        Volatility::Stable,
        |args, rows| json_rows(args, rows, |values| serde_json::Value::Array(values.to_vec())),
    ));
    for name in ["to_json", "to_jsonb"] {
        ctx.register_udf(udf(name, TypeSignature::Any(1), DataType::Utf8, Volatility::Stable, |args, rows| {
            json_rows(args, rows, |values| values[0].clone())
        }));
    }
    for (name, value) in [
        ("pg_function_is_visible", true),
        ("pg_type_is_visible", true),
        ("pg_collation_is_visible", true),
        ("pg_conversion_is_visible", true),
        ("pg_operator_is_visible", true),
        ("pg_opclass_is_visible", true),
        ("pg_is_in_recovery", false),
    ] {
        let arity = if name == "pg_is_in_recovery" { TypeSignature::Nullary } else { TypeSignature::Any(1) };
        ctx.register_udf(udf(name, arity, DataType::Boolean, Volatility::Stable, move |_, rows| {
            Ok(Arc::new(BooleanArray::from(vec![value; rows])) as ArrayRef)
        }));
    }
    let started = chrono::Utc::now().timestamp_micros();
    ctx.register_udf(udf(
        "pg_postmaster_start_time",
        TypeSignature::Nullary,
        DataType::Timestamp(arrow::datatypes::TimeUnit::Microsecond, Some("+00:00".into())),
        Volatility::Stable,
        move |_, rows| {
            Ok(Arc::new(arrow::array::TimestampMicrosecondArray::from(vec![started; rows]).with_timezone("+00:00"))
                as ArrayRef)
        },
    ));
}
