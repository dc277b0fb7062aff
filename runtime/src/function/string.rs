//! String functions: UCASE, LCASE, LEN, TRIM, SUBSTRING, CONCAT, ...

use eddy_catalog::SqlType;

use super::{signature_error, RowFn};
use crate::value::Value;

pub const NAMES: &[&str] = &["CONCAT", "LCASE", "LEN", "LTRIM", "RTRIM", "SUBSTRING", "TRIM", "UCASE"];

type Found = Option<Result<(RowFn, SqlType), String>>;

pub fn resolve(name: &str, args: &[SqlType]) -> Found {
    let all_strings = args.iter().all(|t| *t == SqlType::String);
    let unary: Option<RowFn> = match name {
        "UCASE" => Some(|a| Ok(map_str(&a[0], |s| s.to_uppercase()))),
        "LCASE" => Some(|a| Ok(map_str(&a[0], |s| s.to_lowercase()))),
        "TRIM" => Some(|a| Ok(map_str(&a[0], |s| s.trim().to_string()))),
        "LTRIM" => Some(|a| Ok(map_str(&a[0], |s| s.trim_start().to_string()))),
        "RTRIM" => Some(|a| Ok(map_str(&a[0], |s| s.trim_end().to_string()))),
        _ => None,
    };
    if let Some(f) = unary {
        return Some(if args.len() == 1 && all_strings {
            Ok((f, SqlType::String))
        } else {
            Err(signature_error(name, args))
        });
    }
    match name {
        "LEN" => Some(match args {
            [SqlType::String] => Ok((len as RowFn, SqlType::Int)),
            [SqlType::Bytes] => Ok((len as RowFn, SqlType::Int)),
            _ => Err(signature_error(name, args)),
        }),
        "CONCAT" => Some(if !args.is_empty() && (all_strings || args.iter().all(|t| *t == SqlType::Bytes)) {
            Ok((concat as RowFn, args[0].clone()))
        } else {
            Err(signature_error(name, args))
        }),
        "SUBSTRING" => Some(match args {
            [SqlType::String, SqlType::Int] | [SqlType::String, SqlType::Int, SqlType::Int] => {
                Ok((substring as RowFn, SqlType::String))
            }
            _ => Err(signature_error(name, args)),
        }),
        _ => None,
    }
}

fn map_str(v: &Value, f: impl Fn(&str) -> String) -> Value {
    match v {
        Value::String(s) => Value::String(f(s)),
        _ => Value::Null,
    }
}

fn len(a: &[Value]) -> Result<Value, String> {
    Ok(match &a[0] {
        Value::String(s) => Value::Int(s.chars().count() as i32),
        Value::Bytes(b) => Value::Int(b.len() as i32),
        _ => Value::Null,
    })
}

/// CONCAT skips NULL arguments, as ksqlDB's does.
fn concat(a: &[Value]) -> Result<Value, String> {
    if a.iter().all(Value::is_null) {
        return Ok(Value::Null);
    }
    if a.iter().any(|v| matches!(v, Value::Bytes(_))) {
        let mut out = Vec::new();
        for v in a {
            if let Value::Bytes(b) = v {
                out.extend_from_slice(b);
            }
        }
        return Ok(Value::Bytes(out));
    }
    let mut out = String::new();
    for v in a {
        if let Value::String(s) = v {
            out.push_str(s);
        }
    }
    Ok(Value::String(out))
}

/// SUBSTRING(str, pos[, len]) with 1-based positions; a negative position counts from the end.
fn substring(a: &[Value]) -> Result<Value, String> {
    let (Value::String(s), Value::Int(pos)) = (&a[0], &a[1]) else { return Ok(Value::Null) };
    let chars: Vec<char> = s.chars().collect();
    let n = chars.len() as i64;
    let pos = *pos as i64;
    let start = if pos > 0 {
        pos - 1
    } else if pos < 0 {
        (n + pos).max(0)
    } else {
        0
    };
    let end = match a.get(2) {
        None => n,
        Some(Value::Int(len)) => (start + (*len as i64).max(0)).min(n),
        Some(_) => return Ok(Value::Null),
    };
    if start >= n || start >= end {
        return Ok(Value::String(String::new()));
    }
    Ok(Value::String(chars[start as usize..end as usize].iter().collect()))
}
