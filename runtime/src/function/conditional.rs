//! Conditional functions: COALESCE, IFNULL, NULLIF, GREATEST, LEAST, and AS_VALUE.

use eddy_catalog::SqlType;

use super::{signature_error, signature_error_lowercase, RowFn};
use crate::value::Value;

pub const NAMES: &[&str] = &["AS_VALUE", "COALESCE", "GREATEST", "IFNULL", "LEAST", "NULLIF"];

type Found = Option<Result<(RowFn, SqlType), String>>;

pub fn resolve(name: &str, args: &[SqlType]) -> Found {
    let same = !args.is_empty() && args.iter().all(|t| *t == args[0]);
    match name {
        "AS_VALUE" => Some(match args {
            [t] => Ok(((|a: &[Value]| Ok(a[0].clone())) as RowFn, t.clone())),
            _ => Err(signature_error(name, args)),
        }),
        "COALESCE" => {
            Some(if same { Ok((coalesce as RowFn, args[0].clone())) } else { Err(signature_error(name, args)) })
        }
        "IFNULL" => Some(if args.len() == 2 && same {
            Ok((coalesce as RowFn, args[0].clone()))
        } else {
            Err(signature_error(name, args))
        }),
        "NULLIF" => Some(if args.len() == 2 && same {
            Ok((nullif as RowFn, args[0].clone()))
        } else {
            Err(signature_error(name, args))
        }),
        "GREATEST" | "LEAST" => Some(
            if same
                && !args.is_empty()
                && (args[0].is_numeric()
                    || matches!(
                        args[0],
                        SqlType::String | SqlType::Bytes | SqlType::Date | SqlType::Time | SqlType::Timestamp
                    ))
            {
                Ok((if name == "GREATEST" { greatest } else { least } as RowFn, args[0].clone()))
            } else {
                Err(signature_error_lowercase(name, args))
            },
        ),
        _ => None,
    }
}

fn coalesce(a: &[Value]) -> Result<Value, String> {
    Ok(a.iter().find(|v| !v.is_null()).cloned().unwrap_or(Value::Null))
}

fn nullif(a: &[Value]) -> Result<Value, String> {
    Ok(if a[0] == a[1] { Value::Null } else { a[0].clone() })
}

fn order(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Some(x.cmp(y)),
        (Value::Bigint(x), Value::Bigint(y)) => Some(x.cmp(y)),
        (Value::Double(x), Value::Double(y)) => x.partial_cmp(y),
        (Value::Decimal(x), Value::Decimal(y)) => Some(x.cmp(y)),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        (Value::Bytes(x), Value::Bytes(y)) => Some(x.cmp(y)),
        (Value::Date(x), Value::Date(y)) | (Value::Time(x), Value::Time(y)) => Some(x.cmp(y)),
        (Value::Timestamp(x), Value::Timestamp(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// GREATEST/LEAST ignore NULLs, as ksqlDB's do.
fn pick(a: &[Value], want: std::cmp::Ordering) -> Value {
    let mut best: Option<&Value> = None;
    for v in a.iter().filter(|v| !v.is_null()) {
        best = match best {
            Some(b) if order(v, b) != Some(want) => Some(b),
            _ => Some(v),
        };
    }
    best.cloned().unwrap_or(Value::Null)
}

fn greatest(a: &[Value]) -> Result<Value, String> {
    Ok(pick(a, std::cmp::Ordering::Greater))
}

fn least(a: &[Value]) -> Result<Value, String> {
    Ok(pick(a, std::cmp::Ordering::Less))
}
