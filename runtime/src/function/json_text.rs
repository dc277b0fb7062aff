//! Functions over JSON text: IS_JSON_STRING, JSON_ARRAY_CONTAINS, JSON_ARRAY_LENGTH, JSON_KEYS,
//! JSON_RECORDS, JSON_ITEMS and JSON_CONCAT. Text that is not JSON gives NULL (FALSE for the predicates).

use eddy_catalog::SqlType;
use serde_json::Value as Json;

use super::{signature_error, RowFn};
use crate::value::Value;

pub const NAMES: &[&str] = &[
    "IS_JSON_STRING",
    "JSON_ARRAY_CONTAINS",
    "JSON_ARRAY_LENGTH",
    "JSON_CONCAT",
    "JSON_ITEMS",
    "JSON_KEYS",
    "JSON_RECORDS",
];

type Found = Option<Result<(RowFn, SqlType), String>>;

pub fn resolve(name: &str, args: &[SqlType]) -> Found {
    use SqlType::{Array, Boolean, Map, String as S};
    let ok = |f: RowFn, t: SqlType| Some(Ok((f, t)));
    match (name, args) {
        ("IS_JSON_STRING", [S]) => ok(is_json, Boolean),
        ("JSON_ARRAY_CONTAINS", [S, t]) if t.is_primitive() && !matches!(t, SqlType::Bytes) => {
            ok(array_contains, Boolean)
        }
        ("JSON_ARRAY_LENGTH", [S]) => ok(array_length, SqlType::Int),
        ("JSON_KEYS", [S]) => ok(keys, Array(Box::new(S))),
        ("JSON_RECORDS", [S]) => ok(records, Map(Box::new(S), Box::new(S))),
        ("JSON_ITEMS", [S]) => ok(items, Array(Box::new(S))),
        ("JSON_CONCAT", args) if args.len() >= 2 && args.iter().all(|t| *t == S) => ok(concat, S),
        (n, _) if NAMES.contains(&n) => Some(Err(signature_error(name, args))),
        _ => None,
    }
}

fn parse(v: &Value) -> Option<Json> {
    match v {
        Value::String(s) => serde_json::from_str(s).ok(),
        _ => None,
    }
}

fn is_json(a: &[Value]) -> Result<Value, String> {
    Ok(Value::Boolean(parse(&a[0]).is_some()))
}

/// Whether the JSON array holds the value (strings equal strings, numbers equal numbers of the same
/// kind, booleans booleans; a NULL value finds JSON nulls).
fn array_contains(a: &[Value]) -> Result<Value, String> {
    let Some(Json::Array(elements)) = parse(&a[0]) else { return Ok(Value::Boolean(false)) };
    let found = elements.iter().any(|e| match (&a[1], e) {
        (Value::Null, Json::Null) => true,
        (Value::String(s), Json::String(t)) => s == t,
        (Value::Boolean(b), Json::Bool(c)) => b == c,
        (Value::Int(i), Json::Number(n)) => n.as_i64() == Some(*i as i64),
        (Value::Bigint(i), Json::Number(n)) => n.as_i64() == Some(*i),
        (Value::Double(d), Json::Number(n)) => n.is_f64() && n.as_f64() == Some(*d),
        _ => false,
    });
    Ok(Value::Boolean(found))
}

/// The length of a JSON array; NULL for anything else (ksqlDB's `JsonArrayLength`).
fn array_length(a: &[Value]) -> Result<Value, String> {
    Ok(match a.first().and_then(parse) {
        Some(Json::Array(items)) => Value::Int(i32::try_from(items.len()).unwrap_or(i32::MAX)),
        _ => Value::Null,
    })
}

fn keys(a: &[Value]) -> Result<Value, String> {
    Ok(match parse(&a[0]) {
        Some(Json::Object(o)) => Value::Array(o.keys().map(|k| Value::String(k.clone())).collect()),
        _ => Value::Null,
    })
}

fn records(a: &[Value]) -> Result<Value, String> {
    Ok(match parse(&a[0]) {
        Some(Json::Object(o)) => {
            Value::Map(o.iter().map(|(k, v)| (Value::String(k.clone()), Value::String(json_text(v)))).collect())
        }
        _ => Value::Null,
    })
}

fn items(a: &[Value]) -> Result<Value, String> {
    Ok(match parse(&a[0]) {
        Some(Json::Array(items)) => Value::Array(items.iter().map(|v| Value::String(v.to_string())).collect()),
        _ => Value::Null,
    })
}

/// A JSON value as text: strings without their quotes, anything else as JSON.
fn json_text(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Objects merge (later keys win); otherwise the result is an array of every array's elements and
/// every other value. NULL when any argument is NULL or not JSON.
fn concat(a: &[Value]) -> Result<Value, String> {
    let Some(values) = a.iter().map(parse).collect::<Option<Vec<Json>>>() else { return Ok(Value::Null) };
    let merged = if values.iter().all(Json::is_object) {
        let mut out = serde_json::Map::new();
        for v in values {
            if let Json::Object(o) = v {
                out.extend(o);
            }
        }
        Json::Object(out)
    } else {
        let mut out = Vec::new();
        for v in values {
            match v {
                Json::Array(items) => out.extend(items),
                other => out.push(other),
            }
        }
        Json::Array(out)
    };
    Ok(Value::String(merged.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Value {
        Value::String(v.to_string())
    }

    #[test]
    fn json_text_is_read_and_combined() {
        assert_eq!(concat(&[s(r#"{"a": {"5": 6}}"#), s(r#"{"a": {"3": 4}}"#)]), Ok(s(r#"{"a":{"3":4}}"#)));
        assert_eq!(concat(&[s("[1, 2]"), s(r#"{"a": 1}"#), s("4")]), Ok(s(r#"[1,2,{"a":1},4]"#)));
        assert_eq!(concat(&[s("null"), s("null")]), Ok(s("[null,null]")));
        assert_eq!(concat(&[s("1"), s("")]), Ok(Value::Null));
        assert_eq!(keys(&[s(r#"{"Red": 3, "Green": 5}"#)]), Ok(Value::Array(vec![s("Red"), s("Green")])));
        assert_eq!(keys(&[s("[1]")]), Ok(Value::Null));
        assert_eq!(
            records(&[s(r#"{"Black": 2, "White": "Seven"}"#)]),
            Ok(Value::Map(vec![(s("Black"), s("2")), (s("White"), s("Seven"))]))
        );
        assert_eq!(items(&[s(r#"[{"type": "A"}, 1]"#)]), Ok(Value::Array(vec![s(r#"{"type":"A"}"#), s("1")])));
        assert_eq!(array_contains(&[s(r#"["Pink", null]"#), s("Pink")]), Ok(Value::Boolean(true)));
        assert_eq!(array_contains(&[s("[1, 2.0]"), Value::Int(2)]), Ok(Value::Boolean(false)));
        assert_eq!(array_contains(&[s("nope"), s("x")]), Ok(Value::Boolean(false)));
        assert_eq!(is_json(&[s("[1, 2, 3]")]), Ok(Value::Boolean(true)));
        assert_eq!(is_json(&[s("abc")]), Ok(Value::Boolean(false)));
    }
}
