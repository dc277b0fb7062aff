//! Values as Postgres clients send them: the text input forms (parameters in text format, COPY
//! fields) and the binary forms (parameters in binary format) of each type, read into ksqlDB values
//! (<https://www.postgresql.org/docs/15/datatype.html>).
#![deny(clippy::indexing_slicing)] // Bytes from clients and records are read with checked access.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use eddy_catalog::SqlType;
use eddy_runtime::format::json_to_value;
use eddy_runtime::{parse_decimal, Value};

/// Why a value could not be read, worded as Postgres words it (SQLSTATE 22P02 or 22003).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    #[error("invalid input syntax for type {ty}: \"{text}\"")]
    Syntax { ty: &'static str, text: String },
    #[error("value \"{text}\" is out of range for type {ty}")]
    OutOfRange { ty: &'static str, text: String },
    #[error("incorrect binary data format in bind parameter for type {ty}")]
    Binary { ty: &'static str },
}

impl InputError {
    /// Postgres' SQLSTATE.
    pub fn sqlstate(&self) -> &'static str {
        match self {
            Self::Syntax { .. } => "22P02",
            Self::OutOfRange { .. } => "22003",
            Self::Binary { .. } => "22P03",
        }
    }
}

/// Postgres' name of a type, for messages.
fn type_name(ty: &SqlType) -> &'static str {
    match ty {
        SqlType::Boolean => "boolean",
        SqlType::Int => "integer",
        SqlType::Bigint => "bigint",
        SqlType::Double => "double precision",
        SqlType::Decimal { .. } => "numeric",
        SqlType::String => "text",
        SqlType::Bytes => "bytea",
        SqlType::Date => "date",
        SqlType::Time => "time",
        SqlType::Timestamp => "timestamp",
        SqlType::Array(_) => "array",
        SqlType::Map(..) | SqlType::Struct(_) => "json",
    }
}

fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()
}

/// Reads a value of `ty` from its Postgres text form.
pub fn parse_text(text: &str, ty: &SqlType) -> Result<Value, InputError> {
    let syntax = || InputError::Syntax { ty: type_name(ty), text: text.to_string() };
    let range = || InputError::OutOfRange { ty: type_name(ty), text: text.to_string() };
    let t = text.trim();
    Ok(match ty {
        SqlType::Boolean => match t.to_lowercase().as_str() {
            "t" | "true" | "y" | "yes" | "on" | "1" => Value::Boolean(true),
            "f" | "false" | "n" | "no" | "off" | "0" => Value::Boolean(false),
            _ => return Err(syntax()),
        },
        SqlType::Int => match t.parse::<i64>() {
            Ok(v) => Value::Int(i32::try_from(v).map_err(|_| range())?),
            Err(_) => return Err(syntax()),
        },
        SqlType::Bigint => {
            Value::Bigint(t.parse::<i128>().map_err(|_| syntax()).and_then(|v| i64::try_from(v).map_err(|_| range()))?)
        }
        SqlType::Double => Value::Double(match t.to_lowercase().as_str() {
            "nan" => f64::NAN,
            "infinity" | "inf" | "+infinity" => f64::INFINITY,
            "-infinity" | "-inf" => f64::NEG_INFINITY,
            _ => t.parse::<f64>().map_err(|_| syntax())?,
        }),
        SqlType::Decimal { precision, scale } => {
            if t.parse::<f64>().is_err() {
                return Err(syntax());
            }
            Value::Decimal(parse_decimal(t, *precision, *scale).ok_or_else(range)?)
        }
        SqlType::String => Value::String(text.to_string()),
        SqlType::Bytes => Value::Bytes(parse_bytea(text).ok_or_else(syntax)?),
        SqlType::Date => {
            // Postgres reads a date from a timestamp's text too, ignoring the time and zone after
            // it (pgjdbc's setDate sends `2024-05-06 +00`).
            let day = t.split([' ', 'T']).next().unwrap_or(t);
            let d = NaiveDate::parse_from_str(day, "%Y-%m-%d").map_err(|_| syntax())?;
            if day.len() < t.len() && parse_timestamp(t).is_none() && !t[day.len()..].trim().starts_with(['+', '-']) {
                return Err(syntax());
            }
            Value::Date((d - epoch()).num_days() as i32)
        }
        SqlType::Time => {
            let time = ["%H:%M:%S%.f", "%H:%M:%S", "%H:%M"]
                .iter()
                .find_map(|f| NaiveTime::parse_from_str(t, f).ok())
                .ok_or_else(syntax)?;
            Value::Time((time.num_seconds_from_midnight() * 1000 + time.nanosecond() / 1_000_000) as i32)
        }
        SqlType::Timestamp => Value::Timestamp(parse_timestamp(t).ok_or_else(syntax)?),
        SqlType::Array(item) if t.starts_with('{') => {
            let items = parse_array_literal(t).ok_or_else(syntax)?;
            Value::Array(
                items
                    .into_iter()
                    .map(|i| match i {
                        None => Ok(Value::Null),
                        Some(s) => parse_text(&s, item),
                    })
                    .collect::<Result<_, _>>()?,
            )
        }
        SqlType::Array(_) | SqlType::Map(..) | SqlType::Struct(_) => {
            let json: serde_json::Value = serde_json::from_str(t).map_err(|_| syntax())?;
            json_to_value(&json, ty).map_err(|_| syntax())?
        }
    })
}

/// A timestamp's text (`2024-01-02 03:04:05.678`, ISO-8601 with `T`, an optional offset) as epoch ms.
fn parse_timestamp(t: &str) -> Option<i64> {
    if let Ok(dt) = chrono::DateTime::parse_from_rfc3339(t) {
        return Some(dt.timestamp_millis());
    }
    for f in ["%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M:%S%.f%#z"] {
        if let Ok(dt) = chrono::DateTime::parse_from_str(t, f) {
            return Some(dt.timestamp_millis());
        }
    }
    for f in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M"] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(t, f) {
            return Some(dt.and_utc().timestamp_millis());
        }
    }
    NaiveDate::parse_from_str(t, "%Y-%m-%d").ok().map(|d| d.and_time(NaiveTime::MIN).and_utc().timestamp_millis())
}

/// `bytea` text: `\x` hex, or the escape form (`\\`, `\ooo`).
fn parse_bytea(text: &str) -> Option<Vec<u8>> {
    if let Some(hex) = text.strip_prefix("\\x") {
        if hex.len() % 2 != 0 {
            return None;
        }
        return (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok()).collect();
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b != b'\\' {
            out.push(b);
            i += 1;
        } else if bytes.get(i + 1) == Some(&b'\\') {
            out.push(b'\\');
            i += 2;
        } else {
            let octal = std::str::from_utf8(bytes.get(i + 1..i + 4)?).ok()?;
            out.push(u8::from_str_radix(octal, 8).ok()?);
            i += 4;
        }
    }
    Some(out)
}

/// A one-dimensional array literal (`{1,2,"a b",NULL}`) as its elements' texts.
fn parse_array_literal(t: &str) -> Option<Vec<Option<String>>> {
    let inner = t.strip_prefix('{')?.strip_suffix('}')?;
    let mut items = Vec::new();
    if inner.trim().is_empty() {
        return Some(items);
    }
    let mut chars = inner.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut item = String::new();
        let quoted = chars.peek() == Some(&'"');
        if quoted {
            chars.next();
            loop {
                match chars.next()? {
                    '\\' => item.push(chars.next()?),
                    '"' => break,
                    c => item.push(c),
                }
            }
        }
        while let Some(&c) = chars.peek() {
            if c == ',' {
                break;
            }
            chars.next();
            if !quoted {
                item.push(c);
            }
        }
        let item = if quoted { item } else { item.trim().to_string() };
        items.push(if !quoted && item.eq_ignore_ascii_case("NULL") { None } else { Some(item) });
        if chars.next().is_none() {
            return Some(items);
        }
    }
}

/// Microseconds from 1970-01-01 to 2000-01-01, Postgres' binary epoch.
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;
/// Days from 1970-01-01 to 2000-01-01.
const PG_EPOCH_DAYS: i32 = 10_957;

/// Reads a value of `ty` from its Postgres binary form as a parameter of Postgres type `oid`
/// (a client may send an `int2` for an INT, a `float4` for a DOUBLE, `varchar` for a STRING, ...).
pub fn parse_binary(bytes: &[u8], oid: u32, ty: &SqlType) -> Result<Value, InputError> {
    let bad = || InputError::Binary { ty: type_name(ty) };
    let int = |b: &[u8]| -> Result<i64, InputError> {
        Ok(match b.len() {
            2 => i16::from_be_bytes(b.try_into().map_err(|_| bad())?) as i64,
            4 => i32::from_be_bytes(b.try_into().map_err(|_| bad())?) as i64,
            8 => i64::from_be_bytes(b.try_into().map_err(|_| bad())?),
            _ => return Err(bad()),
        })
    };
    let float = |b: &[u8]| -> Result<f64, InputError> {
        Ok(match b.len() {
            4 => f32::from_be_bytes(b.try_into().map_err(|_| bad())?) as f64,
            8 => f64::from_be_bytes(b.try_into().map_err(|_| bad())?),
            _ => return Err(bad()),
        })
    };
    // The value as the client typed it, then converted as Postgres' assignment casts would.
    let value = match oid {
        16 => Value::Boolean(bytes.first().copied().ok_or_else(bad)? != 0),
        20 | 21 | 23 | 26 => Value::Bigint(int(bytes)?),
        700 | 701 => Value::Double(float(bytes)?),
        1700 => Value::String(numeric_text(bytes).ok_or_else(bad)?),
        17 => Value::Bytes(bytes.to_vec()),
        1082 => Value::Date(PG_EPOCH_DAYS + int(bytes)? as i32),
        1083 => Value::Time((int(bytes)? / 1000) as i32),
        1114 | 1184 => Value::Timestamp((int(bytes)? + PG_EPOCH_MICROS).div_euclid(1000)),
        // text, varchar, bpchar, name, unknown, json: the bytes are the text form.
        _ => {
            let text = std::str::from_utf8(bytes).map_err(|_| bad())?;
            let text = if oid == 3802 { text.strip_prefix('\u{1}').unwrap_or(text) } else { text };
            return parse_text(text, ty);
        }
    };
    coerce(value, ty)
}

/// A value read in the client's type, in the parameter's type.
fn coerce(value: Value, ty: &SqlType) -> Result<Value, InputError> {
    let range = |v: &dyn std::fmt::Display| InputError::OutOfRange { ty: type_name(ty), text: v.to_string() };
    Ok(match (value, ty) {
        (Value::Bigint(v), SqlType::Int) => Value::Int(i32::try_from(v).map_err(|_| range(&v))?),
        (Value::Bigint(v), SqlType::Double) => Value::Double(v as f64),
        (Value::Bigint(v), SqlType::Decimal { precision, scale }) => {
            Value::Decimal(parse_decimal(&v.to_string(), *precision, *scale).ok_or_else(|| range(&v))?)
        }
        (Value::Bigint(v), SqlType::String) => Value::String(v.to_string()),
        (Value::Double(v), SqlType::Decimal { precision, scale }) => {
            Value::Decimal(parse_decimal(&v.to_string(), *precision, *scale).ok_or_else(|| range(&v))?)
        }
        (Value::Double(v), SqlType::String) => Value::String(v.to_string()),
        (Value::String(s), ty) if !matches!(ty, SqlType::String) => parse_text(&s, ty)?,
        (Value::Timestamp(ms), SqlType::Date) => Value::Date(ms.div_euclid(86_400_000) as i32),
        (Value::Date(d), SqlType::Timestamp) => Value::Timestamp(d as i64 * 86_400_000),
        (v, _) => v,
    })
}

/// Postgres' binary `numeric` (base-10000 digits) as decimal text.
pub fn numeric_text(bytes: &[u8]) -> Option<String> {
    let word = |i: usize| -> Option<i16> { Some(i16::from_be_bytes([*bytes.get(i)?, *bytes.get(i + 1)?])) };
    let ndigits = word(0)? as usize;
    let weight = word(2)? as i32;
    let sign = word(4)? as u16;
    let dscale = word(6)? as usize;
    match sign {
        0xC000 => return Some("NaN".into()),
        0xD000 => return Some("Infinity".into()),
        0xF000 => return Some("-Infinity".into()),
        _ => {}
    }
    let digits: Vec<i16> = (0..ndigits).map(|i| word(8 + 2 * i)).collect::<Option<_>>()?;
    let mut int = String::new();
    for w in 0..=weight.max(-1) {
        let d = digits.get(w as usize).copied().unwrap_or(0);
        if int.is_empty() {
            if d != 0 {
                int.push_str(&d.to_string());
            }
        } else {
            int.push_str(&format!("{d:04}"));
        }
    }
    if int.is_empty() {
        int.push('0');
    }
    let mut frac = String::new();
    let mut w = weight + 1;
    while frac.len() < dscale {
        let d = if w < 0 { 0 } else { digits.get(w as usize).copied().unwrap_or(0) };
        frac.push_str(&format!("{d:04}"));
        w += 1;
    }
    frac.truncate(dscale);
    let sign = if sign == 0x4000 { "-" } else { "" };
    Some(if frac.is_empty() { format!("{sign}{int}") } else { format!("{sign}{int}.{frac}") })
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)] // Tests index what they just built.
mod tests {
    use super::*;

    #[test]
    fn text_forms() {
        assert_eq!(parse_text("007", &SqlType::String), Ok(Value::String("007".into())));
        assert_eq!(parse_text("007", &SqlType::Int), Ok(Value::Int(7)));
        assert_eq!(parse_text("yes", &SqlType::Boolean), Ok(Value::Boolean(true)));
        assert_eq!(parse_text("NaN", &SqlType::Double).map(|v| matches!(v, Value::Double(d) if d.is_nan())), Ok(true));
        assert_eq!(parse_text("1e5", &SqlType::Double), Ok(Value::Double(100000.0)));
        assert_eq!(parse_text("12.345", &SqlType::Decimal { precision: 5, scale: 2 }), Ok(Value::Decimal(1235)));
        assert_eq!(parse_text("\\x0aff", &SqlType::Bytes), Ok(Value::Bytes(vec![10, 255])));
        assert_eq!(parse_text("1970-01-02", &SqlType::Date), Ok(Value::Date(1)));
        assert_eq!(parse_text("00:00:01.5", &SqlType::Time), Ok(Value::Time(1500)));
        assert_eq!(parse_text("1970-01-01 00:00:01", &SqlType::Timestamp), Ok(Value::Timestamp(1000)));
        assert_eq!(parse_text("1970-01-01T00:00:01+01:00", &SqlType::Timestamp), Ok(Value::Timestamp(-3_599_000)));
        assert_eq!(
            parse_text("{1,NULL,3}", &SqlType::Array(Box::new(SqlType::Int))),
            Ok(Value::Array(vec![Value::Int(1), Value::Null, Value::Int(3)]))
        );
        assert_eq!(
            parse_text("{\"a,b\",c}", &SqlType::Array(Box::new(SqlType::String))),
            Ok(Value::Array(vec![Value::String("a,b".into()), Value::String("c".into())]))
        );
        assert!(matches!(parse_text("abc", &SqlType::Int), Err(InputError::Syntax { .. })));
        assert!(matches!(parse_text("99999999999", &SqlType::Int), Err(InputError::OutOfRange { .. })));
    }

    #[test]
    fn binary_forms() {
        assert_eq!(parse_binary(&42i32.to_be_bytes(), 23, &SqlType::Int), Ok(Value::Int(42)));
        assert_eq!(parse_binary(&42i64.to_be_bytes(), 20, &SqlType::Int), Ok(Value::Int(42)));
        assert_eq!(parse_binary(&1.5f64.to_be_bytes(), 701, &SqlType::Double), Ok(Value::Double(1.5)));
        assert_eq!(parse_binary(b"007", 25, &SqlType::String), Ok(Value::String("007".into())));
        assert_eq!(parse_binary(&0i64.to_be_bytes(), 1114, &SqlType::Timestamp), Ok(Value::Timestamp(946_684_800_000)));
        // 12.5 as numeric: 2 digits, weight 0, positive, dscale 1: [12, 5000].
        let numeric = [0, 2, 0, 0, 0, 0, 0, 1, 0, 12, 0x13, 0x88];
        assert_eq!(numeric_text(&numeric).as_deref(), Some("12.5"));
        assert_eq!(parse_binary(&numeric, 1700, &SqlType::Decimal { precision: 4, scale: 1 }), Ok(Value::Decimal(125)));
    }
}
