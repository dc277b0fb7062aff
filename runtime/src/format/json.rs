//! The JSON format, with ksqlDB's lenient coercions (case-insensitive field names, numbers from strings).

use base64::Engine as _;
use eddy_catalog::SqlType;
use serde_json::{Map, Number, Value as Json};

use arrow::array::ArrayRef;

use super::json_read::{decode_object, distinct_ignoring_case};
use super::json_write::BoundWriter;
use super::json_write::ObjectWriter;
use super::{Codec, RowEncoder, ViaValues};
use crate::cell::Cell;
use crate::error::{Result, RuntimeError};
use crate::value::{decimal_to_string, parse_decimal, Value};

/// Reads and writes JSON objects (or a bare JSON value for an unwrapped single column).
pub struct JsonCodec {
    columns: Vec<(String, SqlType)>,
    wrapped: bool,
    /// No two column names are equal ignoring case (the fast way to match fields to columns).
    distinct: bool,
    /// Flat objects of these columns can be read by the byte scanner (with these field patterns).
    scannable: Option<super::json_scan::KeyPatterns>,
    /// Writes objects straight from arrays (wrapped codecs whose column names are distinct).
    writer: Option<ObjectWriter>,
}

impl JsonCodec {
    /// JSON objects have string keys, so MAP keys must be STRING.
    pub fn new(columns: Vec<(String, SqlType)>, wrapped: bool) -> Result<Self> {
        fn check(ty: &SqlType) -> bool {
            match ty {
                SqlType::Map(k, v) => **k == SqlType::String && check(v),
                SqlType::Array(t) => check(t),
                SqlType::Struct(fields) => fields.iter().all(|(_, t)| check(t)),
                _ => true,
            }
        }
        if columns.iter().any(|(_, t)| !check(t)) {
            return Err(RuntimeError::Unsupported("JSON only supports MAP types with STRING keys".into()));
        }
        let writer = if wrapped { ObjectWriter::new(&columns) } else { None };
        let distinct = distinct_ignoring_case(&columns);
        let scannable =
            super::json_scan::scannable(&columns, distinct).then(|| super::json_scan::KeyPatterns::new(&columns));
        Ok(Self { columns, wrapped, distinct, scannable, writer })
    }

    /// The one column of an unwrapped codec.
    fn only_column(&self) -> Result<&(String, SqlType)> {
        self.columns.first().ok_or_else(|| RuntimeError::Internal("an unwrapped JSON codec without a column".into()))
    }
}

impl Codec for JsonCodec {
    fn decode(&self, bytes: Option<&[u8]>) -> Result<Vec<Value>> {
        let mut cells = Vec::with_capacity(self.columns.len());
        self.decode_cells(bytes, &mut cells)?;
        Ok(cells.into_iter().map(Cell::into_value).collect())
    }

    fn decode_cells<'a>(&self, bytes: Option<&'a [u8]>, out: &mut Vec<Cell<'a>>) -> Result<()> {
        let Some(bytes) = bytes else {
            out.extend(self.columns.iter().map(|_| Cell::Value(Value::Null)));
            return Ok(());
        };
        if self.columns.is_empty() {
            return Ok(());
        }
        if self.wrapped {
            if let Some(patterns) = &self.scannable {
                if super::json_scan::scan_object(&self.columns, patterns, bytes, out) {
                    return Ok(());
                }
            }
            return decode_object(&self.columns, self.distinct, bytes, out);
        }
        let json: Json = serde_json::from_slice(bytes)
            .map_err(|e| RuntimeError::Serde(format!("Failed to deserialise JSON: {e}")))?;
        out.push(Cell::Value(json_to_value(&json, &self.only_column()?.1)?));
        Ok(())
    }

    fn row_encoder<'c>(&'c self, columns: &'c [ArrayRef]) -> Box<dyn RowEncoder + 'c> {
        match &self.writer {
            Some(writer) if !self.columns.is_empty() => Box::new(Objects { writer: writer.bind(columns) }),
            _ => Box::new(ViaValues { codec: self, columns }),
        }
    }

    fn encode(&self, values: &[Value]) -> Result<Option<Vec<u8>>> {
        if self.columns.is_empty() {
            return Ok(None);
        }
        let json = if self.wrapped {
            let mut object = Map::new();
            for ((name, ty), v) in self.columns.iter().zip(values) {
                object.insert(name.clone(), value_to_json(v, ty));
            }
            Json::Object(object)
        } else {
            let v = values.first().cloned().unwrap_or(Value::Null);
            if v.is_null() {
                return Ok(None);
            }
            value_to_json(&v, &self.only_column()?.1)
        };
        serde_json::to_vec(&json).map(Some).map_err(|e| RuntimeError::Serde(e.to_string()))
    }
}

/// Writes each row as an object straight from the arrays.
struct Objects<'c> {
    writer: BoundWriter<'c>,
}

impl RowEncoder for Objects<'_> {
    fn encode_row(&mut self, row: usize) -> Result<Option<Vec<u8>>> {
        let mut out = Vec::with_capacity(128);
        self.writer.write(row, &mut out)?;
        Ok(Some(out))
    }
}

/// A field of an object by exact name, else case-insensitively (`json_read` does the same while streaming).
fn field<'a>(object: &'a Map<String, Json>, name: &str) -> &'a Json {
    static NULL: Json = Json::Null;
    object
        .get(name)
        .or_else(|| object.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v))
        .unwrap_or(&NULL)
}

fn json_kind(json: &Json) -> &'static str {
    match json {
        Json::Null => "NULL",
        Json::Bool(_) => "BOOLEAN",
        Json::Number(n) if n.is_f64() => "DOUBLE",
        Json::Number(_) => "BIGINT",
        Json::String(_) => "STRING",
        Json::Array(_) => "ARRAY",
        Json::Object(_) => "STRUCT",
    }
}

fn cannot(json: &Json, ty: &SqlType) -> RuntimeError {
    RuntimeError::Serde(format!("Can't convert type. sourceType: {}, requiredType: {ty}", json_kind(json)))
}

/// Converts a JSON value to a value of `ty`, as ksqlDB's JSON deserializer does.
pub fn json_to_value(json: &Json, ty: &SqlType) -> Result<Value> {
    if json.is_null() {
        return Ok(Value::Null);
    }
    Ok(match (ty, json) {
        (SqlType::Boolean, Json::Bool(b)) => Value::Boolean(*b),
        (SqlType::Boolean, Json::String(s)) => Value::Boolean(s.eq_ignore_ascii_case("true")),
        (SqlType::Int, Json::Number(n)) => Value::Int(number_as_i64(n) as i32),
        (SqlType::Bigint, Json::Number(n)) => Value::Bigint(number_as_i64(n)),
        (SqlType::Double, Json::Number(n)) => Value::Double(n.as_f64().unwrap_or(f64::NAN)),
        (SqlType::Timestamp, Json::Number(n)) => Value::Timestamp(number_as_i64(n)),
        (SqlType::Date, Json::Number(n)) => Value::Date(number_as_i64(n) as i32),
        (SqlType::Time, Json::Number(n)) => Value::Time(number_as_i64(n) as i32),
        (SqlType::Decimal { precision, scale }, Json::Number(n)) => {
            Value::Decimal(parse_decimal(&n.to_string(), *precision, *scale).ok_or_else(|| cannot(json, ty))?)
        }
        (SqlType::String, Json::String(s)) => Value::String(s.clone()),
        (SqlType::String, other) => Value::String(other.to_string()),
        (SqlType::Bytes, Json::String(s)) => {
            Value::Bytes(base64::engine::general_purpose::STANDARD.decode(s).map_err(|_| cannot(json, ty))?)
        }
        (SqlType::Array(item), Json::Array(items)) => {
            Value::Array(items.iter().map(|j| json_to_value(j, item)).collect::<Result<_>>()?)
        }
        (SqlType::Map(k, v), Json::Object(entries)) => Value::Map(
            entries
                .iter()
                .map(|(key, val)| Ok((text_to_value(key, k).map_err(|_| cannot(json, ty))?, json_to_value(val, v)?)))
                .collect::<Result<_>>()?,
        ),
        (SqlType::Struct(fields), Json::Object(object)) => Value::Struct(
            fields
                .iter()
                .map(|(name, t)| Ok((name.clone(), json_to_value(field(object, name), t)?)))
                .collect::<Result<_>>()?,
        ),
        (_, Json::String(s)) if ty.is_primitive() || matches!(ty, SqlType::Decimal { .. }) => {
            text_to_value(s, ty).map_err(|_| cannot(json, ty))?
        }
        _ => return Err(cannot(json, ty)),
    })
}

fn number_as_i64(n: &Number) -> i64 {
    n.as_i64().or_else(|| n.as_u64().map(|u| u as i64)).unwrap_or_else(|| n.as_f64().unwrap_or(0.0) as i64)
}

/// Parses text (a DELIMITED field, a JSON string, a map key) as a value of a primitive type.
pub(crate) fn text_to_value(text: &str, ty: &SqlType) -> Result<Value> {
    let bad = || RuntimeError::Serde(format!("Can't convert '{text}' to {ty}"));
    let t = text.trim();
    Ok(match ty {
        SqlType::Boolean => match t.to_ascii_lowercase().as_str() {
            "true" => Value::Boolean(true),
            "false" => Value::Boolean(false),
            _ => return Err(bad()),
        },
        SqlType::Int => Value::Int(t.parse().map_err(|_| bad())?),
        SqlType::Bigint => Value::Bigint(t.parse().map_err(|_| bad())?),
        SqlType::Double => Value::Double(t.parse().map_err(|_| bad())?),
        SqlType::Decimal { precision, scale } => Value::Decimal(parse_decimal(t, *precision, *scale).ok_or_else(bad)?),
        SqlType::String => Value::String(text.to_string()),
        SqlType::Bytes => Value::Bytes(base64::engine::general_purpose::STANDARD.decode(t).map_err(|_| bad())?),
        SqlType::Timestamp => Value::Timestamp(t.parse().map_err(|_| bad())?),
        SqlType::Date => Value::Date(t.parse().map_err(|_| bad())?),
        SqlType::Time => Value::Time(t.parse().map_err(|_| bad())?),
        _ => return Err(bad()),
    })
}

/// Converts a value of `ty` to JSON, as ksqlDB's JSON serializer does.
pub fn value_to_json(value: &Value, ty: &SqlType) -> Json {
    match (value, ty) {
        (Value::Null, _) => Json::Null,
        (Value::Boolean(b), _) => Json::Bool(*b),
        (Value::Int(v), _) | (Value::Date(v), _) | (Value::Time(v), _) => Json::from(*v),
        (Value::Bigint(v), _) | (Value::Timestamp(v), _) => Json::from(*v),
        (Value::Double(v), _) => Number::from_f64(*v).map(Json::Number).unwrap_or_else(|| {
            // JSON has no NaN or infinities; ksqlDB writes them as strings.
            Json::String(if v.is_nan() {
                "NaN".into()
            } else if *v > 0.0 {
                "Infinity".into()
            } else {
                "-Infinity".into()
            })
        }),
        (Value::Decimal(v), SqlType::Decimal { scale, .. }) => {
            let text = decimal_to_string(*v, *scale);
            serde_json::from_str::<Number>(&text).map(Json::Number).unwrap_or(Json::String(text))
        }
        (Value::Decimal(v), _) => Json::from(*v as i64),
        (Value::String(s), _) => Json::String(s.clone()),
        (Value::Bytes(b), _) => Json::String(base64::engine::general_purpose::STANDARD.encode(b)),
        (Value::Array(items), SqlType::Array(t)) => Json::Array(items.iter().map(|v| value_to_json(v, t)).collect()),
        (Value::Map(entries), SqlType::Map(kt, vt)) => {
            Json::Object(entries.iter().map(|(k, v)| (json_key(&value_to_json(k, kt)), value_to_json(v, vt))).collect())
        }
        (Value::Struct(fields), SqlType::Struct(types)) => Json::Object(
            types
                .iter()
                .map(|(name, t)| {
                    let v = fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()).unwrap_or(Value::Null);
                    (name.clone(), value_to_json(&v, t))
                })
                .collect(),
        ),
        (other, _) => Json::String(other.to_string()),
    }
}

fn json_key(json: &Json) -> String {
    match json {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}
