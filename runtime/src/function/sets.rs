//! Array set functions (ARRAY_UNION, ARRAY_EXCEPT, ARRAY_INTERSECT), GENERATE_SERIES and the map
//! builders MAP_UNION, AS_MAP and SPLIT_TO_MAP.

use eddy_catalog::SqlType;

use super::{items, signature_error, RowFn};
use crate::value::Value;

pub const NAMES: &[&str] =
    &["ARRAY_EXCEPT", "ARRAY_INTERSECT", "ARRAY_UNION", "AS_MAP", "GENERATE_SERIES", "MAP_UNION", "SPLIT_TO_MAP"];

/// The longest series GENERATE_SERIES builds for one row.
const MAX_SERIES: i64 = 1_000_000;

type Found = Option<Result<(RowFn, SqlType), String>>;

pub fn resolve(name: &str, args: &[SqlType]) -> Found {
    use SqlType::{Array, Bigint, Int, Map, String as S};
    let ok = |f: RowFn, t: SqlType| Some(Ok((f, t)));
    match (name, args) {
        ("ARRAY_UNION", [a @ Array(_), b]) if a == b => ok(union, a.clone()),
        ("ARRAY_EXCEPT", [a @ Array(_), b]) if a == b => ok(except, a.clone()),
        ("ARRAY_INTERSECT", [a @ Array(_), b]) if a == b => ok(intersect, a.clone()),
        ("GENERATE_SERIES", [t @ (Int | Bigint), u] | [t @ (Int | Bigint), u, _])
            if t == u && args.iter().all(|a| a == t) =>
        {
            ok(series, Array(Box::new(t.clone())))
        }
        ("MAP_UNION", [m @ Map(k, _), n]) if m == n && **k == S => ok(map_union, m.clone()),
        ("AS_MAP", [Array(k), Array(v)]) if **k == S => ok(as_map, Map(Box::new(S), v.clone())),
        ("SPLIT_TO_MAP", [S, S, S]) => ok(split_to_map, Map(Box::new(S), Box::new(S))),
        (n, _) if NAMES.contains(&n) => Some(Err(signature_error(name, args))),
        _ => None,
    }
}

/// The distinct elements of `from` that `keep` accepts, in order of first appearance.
fn distinct(from: impl Iterator<Item = Value>, keep: impl Fn(&Value) -> bool) -> Value {
    let mut out: Vec<Value> = Vec::new();
    for v in from {
        if keep(&v) && !out.contains(&v) {
            out.push(v);
        }
    }
    Value::Array(out)
}

fn union(a: &[Value]) -> Result<Value, String> {
    let (Some(x), Some(y)) = (items(&a[0]), items(&a[1])) else { return Ok(Value::Null) };
    Ok(distinct(x.iter().chain(y).cloned(), |_| true))
}

fn except(a: &[Value]) -> Result<Value, String> {
    let (Some(x), Some(y)) = (items(&a[0]), items(&a[1])) else { return Ok(Value::Null) };
    Ok(distinct(x.iter().cloned(), |v| !y.contains(v)))
}

fn intersect(a: &[Value]) -> Result<Value, String> {
    let (Some(x), Some(y)) = (items(&a[0]), items(&a[1])) else { return Ok(Value::Null) };
    Ok(distinct(x.iter().cloned(), |v| y.contains(v)))
}

/// From `start` to `end` inclusive by `step` (1 or -1 by default, towards `end`).
fn series(a: &[Value]) -> Result<Value, String> {
    let number = |v: &Value| match v {
        Value::Int(i) => Some(*i as i64),
        Value::Bigint(i) => Some(*i),
        _ => None,
    };
    let (Some(start), Some(end)) = (number(&a[0]), number(&a[1])) else { return Ok(Value::Null) };
    let step = match a.get(2) {
        None => {
            if start <= end {
                1
            } else {
                -1
            }
        }
        Some(v) => match number(v) {
            Some(0) => return Err("GENERATE_SERIES step cannot be zero".into()),
            Some(s) if (s > 0) != (start <= end) && start != end => {
                return Err("GENERATE_SERIES step has wrong sign".into())
            }
            Some(s) => s,
            None => return Ok(Value::Null),
        },
    };
    let count = (end as i128 - start as i128) / step as i128 + 1;
    if count > MAX_SERIES as i128 {
        return Err(format!("GENERATE_SERIES would produce {count} values (at most {MAX_SERIES})"));
    }
    let int = matches!(a[0], Value::Int(_));
    Ok(Value::Array(
        (0..count as i64)
            .map(|i| start + i * step)
            .map(|v| if int { Value::Int(v as i32) } else { Value::Bigint(v) })
            .collect(),
    ))
}

/// The entries of the first map, replaced or extended by the second's.
fn map_union(a: &[Value]) -> Result<Value, String> {
    let (x, y) = match (&a[0], &a[1]) {
        (Value::Map(x), Value::Map(y)) => (x, y),
        (Value::Map(_), _) => return Ok(a[0].clone()),
        (_, Value::Map(_)) => return Ok(a[1].clone()),
        _ => return Ok(Value::Null),
    };
    let mut out = x.clone();
    for (k, v) in y {
        match out.iter_mut().find(|(key, _)| key == k) {
            Some(entry) => entry.1 = v.clone(),
            None => out.push((k.clone(), v.clone())),
        }
    }
    Ok(Value::Map(out))
}

/// Keys and values paired up to the shorter list; a later repeated key wins.
fn as_map(a: &[Value]) -> Result<Value, String> {
    let (Some(keys), Some(values)) = (items(&a[0]), items(&a[1])) else { return Ok(Value::Null) };
    let mut out: Vec<(Value, Value)> = Vec::new();
    for (k, v) in keys.iter().zip(values) {
        match out.iter_mut().find(|(key, _)| key == k) {
            Some(entry) => entry.1 = v.clone(),
            None => out.push((k.clone(), v.clone())),
        }
    }
    Ok(Value::Map(out))
}

/// Entries split by one delimiter, each into key and value by the other; empty entries and
/// entries without the key delimiter are skipped.
fn split_to_map(a: &[Value]) -> Result<Value, String> {
    let (Value::String(input), Value::String(entry), Value::String(kv)) = (&a[0], &a[1], &a[2]) else {
        return Ok(Value::Null);
    };
    if entry.is_empty() || kv.is_empty() {
        return Ok(Value::Null);
    }
    let mut out: Vec<(Value, Value)> = Vec::new();
    for e in input.split(entry.as_str()).filter(|e| !e.is_empty()) {
        let mut parts = e.split(kv.as_str());
        if let (Some(k), Some(v)) = (parts.next(), parts.next()) {
            let (k, v) = (Value::String(k.to_string()), Value::String(v.to_string()));
            match out.iter_mut().find(|(key, _)| *key == k) {
                Some(entry) => entry.1 = v,
                None => out.push((k, v)),
            }
        }
    }
    Ok(Value::Map(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ints(v: &[i32]) -> Value {
        Value::Array(v.iter().map(|i| Value::Int(*i)).collect())
    }

    #[test]
    fn set_operations_keep_first_appearance_order() {
        let a = ints(&[0, 0, 1, 0, -1]);
        assert_eq!(union(&[a.clone(), ints(&[1, -2, 0])]), Ok(ints(&[0, 1, -1, -2])));
        assert_eq!(except(&[a.clone(), ints(&[1, -2])]), Ok(ints(&[0, -1])));
        assert_eq!(intersect(&[a.clone(), ints(&[1, -2, 0])]), Ok(ints(&[0, 1])));
        assert_eq!(union(&[Value::Null, a]), Ok(Value::Null));
    }

    #[test]
    fn series_go_towards_the_end_and_refuse_bad_steps() {
        assert_eq!(series(&[Value::Int(4), Value::Int(0)]), Ok(ints(&[4, 3, 2, 1, 0])));
        assert_eq!(series(&[Value::Int(1), Value::Int(-2), Value::Int(-2)]), Ok(ints(&[1, -1])));
        assert_eq!(series(&[Value::Int(-2), Value::Int(1), Value::Int(2)]), Ok(ints(&[-2, 0])));
        assert!(series(&[Value::Int(0), Value::Int(3), Value::Int(0)]).is_err());
        assert!(series(&[Value::Int(0), Value::Int(3), Value::Int(-1)]).is_err());
        assert!(series(&[Value::Bigint(0), Value::Bigint(i64::MAX)]).is_err());
    }

    #[test]
    fn maps_are_built_and_merged() {
        let s = |v: &str| Value::String(v.to_string());
        let m = |e: &[(&str, &str)]| Value::Map(e.iter().map(|(k, v)| (s(k), s(v))).collect());
        assert_eq!(
            split_to_map(&[s("apple:green//banana:yellow/"), s("/"), s(":")]),
            Ok(m(&[("apple", "green"), ("banana", "yellow")]))
        );
        assert_eq!(
            split_to_map(&[s("apple:green/banana:yellow"), s("&&"), s(":")]),
            Ok(m(&[("apple", "green/banana")]))
        );
        assert_eq!(split_to_map(&[s("a:b"), s(""), s(":")]), Ok(Value::Null));
        assert_eq!(
            map_union(&[m(&[("foo", "1"), ("bar", "2")]), m(&[("foo", "9"), ("x", "3")])]),
            Ok(m(&[("foo", "9"), ("bar", "2"), ("x", "3")]))
        );
        assert_eq!(
            as_map(&[Value::Array(vec![s("a"), s("b")]), Value::Array(vec![s("1"), s("2"), s("3")])]),
            Ok(m(&[("a", "1"), ("b", "2")]))
        );
    }
}
