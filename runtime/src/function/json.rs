//! JSON functions: TO_JSON_STRING (which needs its argument's type) and EXTRACTJSONFIELD.

use std::sync::Arc;

use arrow::datatypes::DataType;
use datafusion_common::Result;
use datafusion_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility};
use eddy_catalog::SqlType;
use serde_json::Value as Json;

use super::{signature_error, ResolvedFunction, RowFn, RowUdf};
use crate::columnar::{array_value, values_to_array};
use crate::format::value_to_json;
use crate::value::Value;

pub const NAMES: &[&str] = &["EXTRACTJSONFIELD", "TO_JSON_STRING"];

/// Resolves the JSON functions.
pub fn resolve(name: &str, args: &[SqlType]) -> Option<Result<ResolvedFunction, String>> {
    match (name, args) {
        ("TO_JSON_STRING", [ty]) => Some(Ok(ResolvedFunction {
            udf: Arc::new(ScalarUDF::new_from_impl(ToJsonString::new(ty.clone()))),
            return_type: SqlType::String,
        })),
        ("EXTRACTJSONFIELD", [SqlType::String, SqlType::String]) => Some(Ok(ResolvedFunction {
            udf: Arc::new(ScalarUDF::new_from_impl(RowUdf::new(
                name,
                args.to_vec(),
                SqlType::String,
                extract as RowFn,
            ))),
            return_type: SqlType::String,
        })),
        (n, _) if NAMES.contains(&n) => Some(Err(signature_error(name, args))),
        _ => None,
    }
}

/// The JSON text of a value, with dates and times as ISO strings (as ksqlDB writes them).
fn to_json(value: &Value, ty: &SqlType) -> Json {
    match (value, ty) {
        (Value::Date(d), _) => chrono::DateTime::from_timestamp(*d as i64 * 86_400, 0)
            .map(|t| Json::String(t.format("%Y-%m-%d").to_string()))
            .unwrap_or(Json::Null),
        (Value::Time(t), _) => {
            chrono::NaiveTime::from_num_seconds_from_midnight_opt((*t / 1000) as u32, ((*t % 1000) * 1_000_000) as u32)
                .map(|t| Json::String(t.format("%H:%M:%S%.3f").to_string()))
                .unwrap_or(Json::Null)
        }
        (Value::Timestamp(t), _) => chrono::DateTime::from_timestamp_millis(*t)
            .map(|t| Json::String(t.format("%Y-%m-%dT%H:%M:%S%.3f").to_string()))
            .unwrap_or(Json::Null),
        (Value::Array(items), SqlType::Array(item)) => Json::Array(items.iter().map(|v| to_json(v, item)).collect()),
        (Value::Struct(fields), SqlType::Struct(types)) => Json::Object(
            types
                .iter()
                .map(|(n, t)| {
                    (n.clone(), fields.iter().find(|(f, _)| f == n).map(|(_, v)| to_json(v, t)).unwrap_or(Json::Null))
                })
                .collect(),
        ),
        (Value::Map(entries), SqlType::Map(_, vt)) => Json::Object(
            entries
                .iter()
                .map(|(k, v)| {
                    let key = match k {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (key, to_json(v, vt))
                })
                .collect(),
        ),
        (v, t) => value_to_json(v, t),
    }
}

/// TO_JSON_STRING over an argument of a known type.
#[derive(Debug, PartialEq, Eq, Hash)]
struct ToJsonString {
    ty: SqlType,
    signature: Signature,
}

impl ToJsonString {
    fn new(ty: SqlType) -> Self {
        Self { ty, signature: Signature::variadic_any(Volatility::Immutable) }
    }
}

impl ScalarUDFImpl for ToJsonString {
    fn name(&self) -> &str {
        "TO_JSON_STRING"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let array = args.args.into_iter().next().map(|a| a.into_array(rows)).transpose()?;
        let out: Vec<Value> = (0..rows)
            .map(|i| {
                let v = array.as_ref().map(|a| array_value(a.as_ref(), i)).unwrap_or(Value::Null);
                Value::String(to_json(&v, &self.ty).to_string())
            })
            .collect();
        let array = values_to_array(&out, &SqlType::String)
            .map_err(|e| datafusion_common::DataFusionError::Execution(e.to_string()))?;
        Ok(ColumnarValue::Array(array))
    }
}

/// EXTRACTJSONFIELD(json, '$.a.b[0]'): a string as its text, anything else as JSON; NULL when absent.
fn extract(a: &[Value]) -> std::result::Result<Value, String> {
    let (Value::String(text), Value::String(path)) = (&a[0], &a[1]) else { return Ok(Value::Null) };
    let Ok(mut node) = serde_json::from_str::<Json>(text) else { return Ok(Value::Null) };
    let Some(rest) = path.trim().strip_prefix('$') else { return Ok(Value::Null) };
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        let next = match c {
            '.' => {
                let mut key = String::new();
                while let Some(&c) = chars.peek() {
                    if c == '.' || c == '[' {
                        break;
                    }
                    key.push(c);
                    chars.next();
                }
                node.get(&key).cloned()
            }
            '[' => {
                let mut inner = String::new();
                for c in chars.by_ref() {
                    if c == ']' {
                        break;
                    }
                    inner.push(c);
                }
                let inner = inner.trim();
                match inner.parse::<i64>() {
                    Ok(i) if i >= 0 => node.get(i as usize).cloned(),
                    Ok(_) => None,
                    Err(_) => node.get(inner.trim_matches(['\'', '"'])).cloned(),
                }
            }
            _ => None,
        };
        match next {
            Some(n) => node = n,
            None => return Ok(Value::Null),
        }
    }
    Ok(match node {
        Json::Null => Value::Null,
        Json::String(s) => Value::String(s),
        other => Value::String(other.to_string()),
    })
}
