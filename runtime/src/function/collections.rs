//! Array and map functions: ARRAY_LENGTH, ARRAY_CONTAINS, ARRAY_DISTINCT, ARRAY_MAX, ARRAY_MIN,
//! ARRAY_SORT, ARRAY_CONCAT, ARRAY_JOIN, ARRAY_REMOVE, SLICE, ENTRIES, MAP_KEYS, MAP_VALUES.

use std::cmp::Ordering;

use eddy_catalog::SqlType;

use super::{items, signature_error, RowFn};
use crate::value::{decimal_to_string, Value};

pub const NAMES: &[&str] = &[
    "ARRAY_CONCAT",
    "ARRAY_CONTAINS",
    "ARRAY_DISTINCT",
    "ARRAY_JOIN",
    "ARRAY_LENGTH",
    "ARRAY_MAX",
    "ARRAY_MIN",
    "ARRAY_REMOVE",
    "ARRAY_SORT",
    "ENTRIES",
    "MAP_KEYS",
    "MAP_VALUES",
    "SLICE",
];

type Found = Option<Result<(RowFn, SqlType), String>>;

pub fn resolve(name: &str, args: &[SqlType]) -> Found {
    let ok = |f: RowFn, t: SqlType| Some(Ok((f, t)));
    let bad = || Some(Err(signature_error(name, args)));
    match (name, args) {
        ("ARRAY_LENGTH", [SqlType::Array(_)]) => ok(length, SqlType::Int),
        ("ARRAY_CONTAINS", [SqlType::Array(_), _]) => ok(contains, SqlType::Boolean),
        ("ARRAY_DISTINCT", [t @ SqlType::Array(_)]) => ok(distinct, t.clone()),
        ("ARRAY_MAX", [SqlType::Array(e)]) => ok(max, (**e).clone()),
        ("ARRAY_MIN", [SqlType::Array(e)]) => ok(min, (**e).clone()),
        ("ARRAY_SORT", [t @ SqlType::Array(_)] | [t @ SqlType::Array(_), SqlType::String]) => ok(sort, t.clone()),
        ("ARRAY_CONCAT", [a @ SqlType::Array(_), b]) if a == b => ok(concat, a.clone()),
        ("ARRAY_JOIN", [SqlType::Array(_)] | [SqlType::Array(_), SqlType::String]) => ok(join, SqlType::String),
        ("SLICE", [t @ SqlType::Array(_), SqlType::Int, SqlType::Int]) => ok(slice, t.clone()),
        // An INT array and a BIGINT value (the SQL engine's integer literals) compare as numbers.
        ("ARRAY_REMOVE", [t @ SqlType::Array(e), v]) if **e == *v || (plain_number(e) && plain_number(v)) => {
            ok(remove, t.clone())
        }
        ("ENTRIES", [SqlType::Map(k, v), SqlType::Boolean])
            if **k == SqlType::String
                && matches!(
                    **v,
                    SqlType::Int
                        | SqlType::Bigint
                        | SqlType::Double
                        | SqlType::Boolean
                        | SqlType::String
                        | SqlType::Struct(_)
                ) =>
        {
            let entry = SqlType::Struct(vec![("K".into(), SqlType::String), ("V".into(), (**v).clone())]);
            ok(entries, SqlType::Array(Box::new(entry)))
        }
        ("MAP_KEYS", [SqlType::Map(k, _)]) => ok(keys, SqlType::Array(k.clone())),
        ("MAP_VALUES", [SqlType::Map(_, v)]) => ok(values, SqlType::Array(v.clone())),
        (n, _) if NAMES.contains(&n) => bad(),
        _ => None,
    }
}

fn order(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Greater,
        (_, Value::Null) => Ordering::Less,
        (Value::Int(x), Value::Int(y)) => x.cmp(y),
        (Value::Bigint(x), Value::Bigint(y)) => x.cmp(y),
        (Value::Double(x), Value::Double(y)) => x.partial_cmp(y).unwrap_or(Ordering::Equal),
        (Value::Decimal(x), Value::Decimal(y)) => x.cmp(y),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Boolean(x), Value::Boolean(y)) => x.cmp(y),
        _ => Ordering::Equal,
    }
}

fn length(a: &[Value]) -> Result<Value, String> {
    Ok(items(&a[0]).map(|i| Value::Int(i.len() as i32)).unwrap_or(Value::Null))
}

fn contains(a: &[Value]) -> Result<Value, String> {
    Ok(items(&a[0]).map(|i| Value::Boolean(i.contains(&a[1]))).unwrap_or(Value::Boolean(false)))
}

fn plain_number(t: &SqlType) -> bool {
    matches!(t, SqlType::Int | SqlType::Bigint | SqlType::Double)
}

/// Whether two values are equal, INT, BIGINT and DOUBLE compared as numbers.
fn equal(a: &Value, b: &Value) -> bool {
    fn int(v: &Value) -> Option<i64> {
        match v {
            Value::Int(i) => Some(i64::from(*i)),
            Value::Bigint(i) => Some(*i),
            _ => None,
        }
    }
    fn float(v: &Value) -> Option<f64> {
        match v {
            Value::Double(d) => Some(*d),
            other => int(other).map(|i| i as f64),
        }
    }
    match (int(a), int(b)) {
        (Some(x), Some(y)) => x == y,
        _ if matches!(a, Value::Double(_)) || matches!(b, Value::Double(_)) => {
            matches!((float(a), float(b)), (Some(x), Some(y)) if x == y)
        }
        _ => a == b,
    }
}

/// The array without the elements equal to the value (NULL removes NULLs); NULL for NULL.
fn remove(a: &[Value]) -> Result<Value, String> {
    let Some(list) = a.first().and_then(items) else { return Ok(Value::Null) };
    let victim = a.get(1).unwrap_or(&Value::Null);
    Ok(Value::Array(list.iter().filter(|v| !equal(v, victim)).cloned().collect()))
}

/// The map's entries as `STRUCT<K, V>`s, sorted by key when asked (else in the map's order).
fn entries(a: &[Value]) -> Result<Value, String> {
    let Some(Value::Map(map)) = a.first() else { return Ok(Value::Null) };
    let mut out: Vec<(Value, Value)> = map.clone();
    if a.get(1) == Some(&Value::Boolean(true)) {
        out.sort_by(|(x, _), (y, _)| match (x, y) {
            (Value::String(x), Value::String(y)) => x.cmp(y),
            (Value::Null, Value::Null) => Ordering::Equal,
            (Value::Null, _) => Ordering::Less,
            _ => Ordering::Greater,
        });
    }
    Ok(Value::Array(out.into_iter().map(|(k, v)| Value::Struct(vec![("K".into(), k), ("V".into(), v)])).collect()))
}

fn distinct(a: &[Value]) -> Result<Value, String> {
    let Some(list) = items(&a[0]) else { return Ok(Value::Null) };
    let mut out: Vec<Value> = Vec::new();
    for v in list {
        if !out.contains(v) {
            out.push(v.clone());
        }
    }
    Ok(Value::Array(out))
}

fn extreme(a: &[Value], want: Ordering) -> Result<Value, String> {
    let Some(list) = items(&a[0]) else { return Ok(Value::Null) };
    let mut best: Option<&Value> = None;
    for v in list.iter().filter(|v| !v.is_null()) {
        if best.is_none_or(|b| order(v, b) == want) {
            best = Some(v);
        }
    }
    Ok(best.cloned().unwrap_or(Value::Null))
}

fn max(a: &[Value]) -> Result<Value, String> {
    extreme(a, Ordering::Greater)
}

fn min(a: &[Value]) -> Result<Value, String> {
    extreme(a, Ordering::Less)
}

/// ARRAY_SORT(array[, 'ASC'|'DESC']): NULLs last either way.
fn sort(a: &[Value]) -> Result<Value, String> {
    let Some(list) = items(&a[0]) else { return Ok(Value::Null) };
    let desc = matches!(a.get(1), Some(Value::String(d)) if d.eq_ignore_ascii_case("DESC"));
    let mut out = list.to_vec();
    out.sort_by(|x, y| match (x.is_null(), y.is_null(), desc) {
        (false, false, true) => order(y, x),
        _ => order(x, y),
    });
    Ok(Value::Array(out))
}

fn concat(a: &[Value]) -> Result<Value, String> {
    Ok(match (items(&a[0]), items(&a[1])) {
        (None, None) => Value::Null,
        (x, y) => Value::Array(x.into_iter().chain(y).flatten().cloned().collect()),
    })
}

fn join(a: &[Value]) -> Result<Value, String> {
    let Some(list) = items(&a[0]) else { return Ok(Value::Null) };
    let sep = match a.get(1) {
        Some(Value::String(s)) => s.as_str(),
        Some(_) => "",
        None => ",",
    };
    let parts: Vec<String> = list
        .iter()
        .map(|v| match v {
            Value::Null => "null".to_string(),
            Value::Decimal(d) => decimal_to_string(*d, 2),
            other => other.to_string(),
        })
        .collect();
    Ok(Value::String(parts.join(sep)))
}

/// SLICE(array, from, to): 1-based, inclusive.
fn slice(a: &[Value]) -> Result<Value, String> {
    let (Some(list), Value::Int(from), Value::Int(to)) = (items(&a[0]), &a[1], &a[2]) else { return Ok(Value::Null) };
    let from = (*from).max(1) as usize - 1;
    let to = (*to as usize).min(list.len());
    Ok(Value::Array(if from < to { list[from..to].to_vec() } else { Vec::new() }))
}

fn keys(a: &[Value]) -> Result<Value, String> {
    Ok(match &a[0] {
        Value::Map(entries) => Value::Array(entries.iter().map(|(k, _)| k.clone()).collect()),
        _ => Value::Null,
    })
}

fn values(a: &[Value]) -> Result<Value, String> {
    Ok(match &a[0] {
        Value::Map(entries) => Value::Array(entries.iter().map(|(_, v)| v.clone()).collect()),
        _ => Value::Null,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_remove_takes_every_match_out() {
        let ints = |xs: &[i32]| Value::Array(xs.iter().map(|x| Value::Int(*x)).collect());
        assert_eq!(remove(&[ints(&[1, 2, 3, 2, 1]), Value::Bigint(2)]), Ok(ints(&[1, 3, 1])));
        assert_eq!(remove(&[ints(&[1, 2]), Value::Double(2.0)]), Ok(ints(&[1])));
        let texts = Value::Array(vec![Value::String("a".into()), Value::Null]);
        assert_eq!(remove(&[texts, Value::Null]), Ok(Value::Array(vec![Value::String("a".into())])));
        assert_eq!(remove(&[Value::Null, Value::Int(1)]), Ok(Value::Null));
        let array = SqlType::Array(Box::new(SqlType::Int));
        assert!(resolve("ARRAY_REMOVE", &[array.clone(), SqlType::Bigint]).is_some_and(|r| r.is_ok()));
        assert!(resolve("ARRAY_REMOVE", &[array, SqlType::String]).is_some_and(|r| r.is_err()));
    }
}
