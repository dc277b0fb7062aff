//! Math functions: ABS, ROUND, CEIL, FLOOR, with Java's rounding (half up).

use eddy_catalog::SqlType;

use super::{signature_error, RowFn};
use crate::value::Value;

pub const NAMES: &[&str] = &["ABS", "CEIL", "FLOOR", "ROUND", "TRUNC"];

type Found = Option<Result<(RowFn, SqlType), String>>;

pub fn resolve(name: &str, args: &[SqlType]) -> Found {
    match name {
        "ABS" => Some(match args {
            [t @ (SqlType::Int | SqlType::Bigint | SqlType::Double | SqlType::Decimal { .. })] => {
                Ok((abs as RowFn, t.clone()))
            }
            _ => Err(signature_error(name, args)),
        }),
        "CEIL" | "FLOOR" => Some(match args {
            [t @ (SqlType::Int | SqlType::Bigint)] => Ok((identity as RowFn, t.clone())),
            [SqlType::Double] => Ok((if name == "CEIL" { ceil } else { floor } as RowFn, SqlType::Double)),
            _ => Err(signature_error(name, args)),
        }),
        "TRUNC" => Some(match args {
            [t @ (SqlType::Int | SqlType::Bigint)] => Ok((identity as RowFn, t.clone())),
            [SqlType::Double] => Ok((trunc as RowFn, SqlType::Bigint)),
            [SqlType::Double, SqlType::Int] => Ok((trunc_to as RowFn, SqlType::Double)),
            _ => Err(signature_error(name, args)),
        }),
        "ROUND" => Some(match args {
            [t @ (SqlType::Int | SqlType::Bigint)] => Ok((identity as RowFn, t.clone())),
            [SqlType::Double] => Ok((round as RowFn, SqlType::Bigint)),
            [SqlType::Double, SqlType::Int] => Ok((round_to as RowFn, SqlType::Double)),
            _ => Err(signature_error(name, args)),
        }),
        _ => None,
    }
}

fn identity(a: &[Value]) -> Result<Value, String> {
    Ok(a[0].clone())
}

fn abs(a: &[Value]) -> Result<Value, String> {
    Ok(match &a[0] {
        Value::Int(v) => Value::Int(v.wrapping_abs()),
        Value::Bigint(v) => Value::Bigint(v.wrapping_abs()),
        Value::Double(v) => Value::Double(v.abs()),
        Value::Decimal(v) => Value::Decimal(v.abs()),
        _ => Value::Null,
    })
}

fn ceil(a: &[Value]) -> Result<Value, String> {
    Ok(match &a[0] {
        Value::Double(v) => Value::Double(v.ceil()),
        _ => Value::Null,
    })
}

fn floor(a: &[Value]) -> Result<Value, String> {
    Ok(match &a[0] {
        Value::Double(v) => Value::Double(v.floor()),
        _ => Value::Null,
    })
}

/// Java's Math.round: half up towards positive infinity.
fn round(a: &[Value]) -> Result<Value, String> {
    Ok(match &a[0] {
        Value::Double(v) => Value::Bigint((v + 0.5).floor() as i64),
        _ => Value::Null,
    })
}

fn round_to(a: &[Value]) -> Result<Value, String> {
    Ok(match (&a[0], &a[1]) {
        (Value::Double(v), Value::Int(places)) => {
            let factor = 10f64.powi(*places);
            Value::Double((v * factor + 0.5).floor() / factor)
        }
        _ => Value::Null,
    })
}

fn trunc(a: &[Value]) -> Result<Value, String> {
    Ok(match &a[0] {
        Value::Double(v) => Value::Bigint(v.trunc() as i64),
        _ => Value::Null,
    })
}

fn trunc_to(a: &[Value]) -> Result<Value, String> {
    Ok(match (&a[0], &a[1]) {
        (Value::Double(v), Value::Int(places)) => {
            let factor = 10f64.powi(*places);
            Value::Double((v * factor).trunc() / factor)
        }
        _ => Value::Null,
    })
}
