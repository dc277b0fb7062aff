//! How QTT compares an expected record field with an actual one.

use eddy_catalog::SqlType;
use serde_json::Value as Json;

/// Like `matches`, knowing the SQL type of the value: a DOUBLE compares as a number whether it was
/// written as `2147483648` or `2.147483648E9`.
pub fn matches_typed(expected: &Json, actual: &Json, ty: Option<&SqlType>) -> bool {
    match (ty, expected, actual) {
        (Some(SqlType::Double), Json::Number(e), Json::Number(a)) => match (e.as_f64(), a.as_f64()) {
            (Some(x), Some(y)) => (x - y).abs() <= 1e-6 * x.abs().max(1.0),
            _ => false,
        },
        (Some(SqlType::Array(t)), Json::Array(e), Json::Array(a)) => {
            e.len() == a.len() && e.iter().zip(a).all(|(x, y)| matches_typed(x, y, Some(t)))
        }
        (Some(SqlType::Map(_, t)), Json::Object(e), Json::Object(a)) => {
            e.len() == a.len() && e.iter().all(|(k, v)| a.get(k).is_some_and(|x| matches_typed(v, x, Some(t))))
        }
        (Some(SqlType::Struct(fields)), Json::Object(e), Json::Object(a)) => {
            e.len() == a.len()
                && e.iter().all(|(k, v)| {
                    let found = a.get(k).or_else(|| a.get(&k.to_uppercase()));
                    let t = fields.iter().find(|(n, _)| n == k || *n == k.to_uppercase()).map(|(_, t)| t);
                    found.is_some_and(|x| matches_typed(v, x, t))
                })
        }
        _ => matches(expected, actual),
    }
}

/// Numbers: integers exactly, doubles within 1e-6, and an integer never equals a decimal (1 != 1.0).
/// Objects: same fields, names matched as given, then upper-cased.
pub fn matches(expected: &Json, actual: &Json) -> bool {
    match (expected, actual) {
        (Json::Number(e), Json::Number(a)) => {
            if e.is_f64() != a.is_f64() {
                return false;
            }
            match (e.as_i64(), a.as_i64(), e.as_u64(), a.as_u64()) {
                (Some(x), Some(y), _, _) => x == y,
                (_, _, Some(x), Some(y)) => x == y,
                _ => match (e.as_f64(), a.as_f64()) {
                    (Some(x), Some(y)) => (x - y).abs() <= 1e-6 || (x.is_nan() && y.is_nan()),
                    _ => false,
                },
            }
        }
        (Json::Array(e), Json::Array(a)) => e.len() == a.len() && e.iter().zip(a).all(|(x, y)| matches(x, y)),
        (Json::Object(e), Json::Object(a)) => {
            e.len() == a.len()
                && e.iter().all(|(k, v)| {
                    let found = a.get(k).or_else(|| a.get(&k.to_uppercase()));
                    found.is_some_and(|x| matches(v, x))
                })
        }
        (e, a) => e == a,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_and_names() {
        assert!(matches(&json!({"a": 1}), &json!({"A": 1})));
        assert!(!matches(&json!(1), &json!(1.0)));
        assert!(matches(&json!(0.1), &json!(0.1000000001)));
        assert!(!matches(&json!({"A": 1}), &json!({"A": 1, "B": 2})));
    }
}
