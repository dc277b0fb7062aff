//! How QTT compares an expected record field with an actual one.

use serde_json::Value as Json;

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
