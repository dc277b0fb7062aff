//! Streaming decode of a JSON object record: each top-level field goes straight to its column's type,
//! plain strings stay borrowed from the record, and a JSON tree is built only for nested values.
//! Same results as parsing the whole tree and converting it with `json_to_value`.

use std::fmt;

use eddy_catalog::SqlType;
use serde::de::{self, DeserializeSeed, Deserializer as _, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Number, Value as Json};

use super::json::json_to_value;
use crate::cell::Cell;
use crate::error::{Result, RuntimeError};
use crate::value::Value;

/// What a column got from the object: the value of the field named exactly as the column, else of the
/// first field whose name matches ignoring case (the last value of that field when it repeats).
#[derive(Default)]
struct Slot<'a> {
    exact: Option<Result<Cell<'a>>>,
    folded: Option<(Key<'a>, Result<Cell<'a>>)>,
}

/// Whether no two column names are equal ignoring case (then a field feeds at most one column).
pub(super) fn distinct_ignoring_case(columns: &[(String, SqlType)]) -> bool {
    let mut names: Vec<String> = columns.iter().map(|(n, _)| n.to_ascii_lowercase()).collect();
    names.sort_unstable();
    names.windows(2).all(|w| w.first() != w.last())
}

/// Decodes a wrapped JSON value into one cell per column; `distinct` as `distinct_ignoring_case` says.
pub(super) fn decode_object<'a>(
    columns: &[(String, SqlType)],
    distinct: bool,
    bytes: &'a [u8],
    out: &mut Vec<Cell<'a>>,
) -> Result<()> {
    let parse_error = |e: serde_json::Error| RuntimeError::Serde(format!("Failed to deserialise JSON: {e}"));
    let mut slots: Vec<Slot<'a>> = (0..columns.len()).map(|_| Slot::default()).collect();
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let top = de.deserialize_any(TopVisitor { columns, distinct, slots: &mut slots }).map_err(parse_error)?;
    de.end().map_err(parse_error)?;
    match top {
        Top::Object => {
            for slot in slots {
                out.push(match slot.exact.or(slot.folded.map(|(_, v)| v)) {
                    Some(cell) => cell?,
                    None => Cell::Value(Value::Null),
                });
            }
            Ok(())
        }
        Top::Null => {
            out.extend(columns.iter().map(|_| Cell::Value(Value::Null)));
            Ok(())
        }
        Top::Other(kind) => {
            Err(RuntimeError::Serde(format!("Can't convert type. sourceType: {kind}, requiredType: STRUCT")))
        }
    }
}

/// The record's top-level JSON value.
enum Top {
    Object,
    Null,
    Other(&'static str),
}

struct TopVisitor<'c, 's, 'a> {
    columns: &'c [(String, SqlType)],
    /// No two column names are equal ignoring case.
    distinct: bool,
    slots: &'s mut Vec<Slot<'a>>,
}

impl<'de> Visitor<'de> for TopVisitor<'_, '_, 'de> {
    type Value = Top;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> std::result::Result<Top, E> {
        Ok(Top::Null)
    }
    fn visit_bool<E>(self, _: bool) -> std::result::Result<Top, E> {
        Ok(Top::Other("BOOLEAN"))
    }
    fn visit_i64<E>(self, _: i64) -> std::result::Result<Top, E> {
        Ok(Top::Other("BIGINT"))
    }
    fn visit_u64<E>(self, _: u64) -> std::result::Result<Top, E> {
        Ok(Top::Other("BIGINT"))
    }
    fn visit_f64<E>(self, _: f64) -> std::result::Result<Top, E> {
        Ok(Top::Other("DOUBLE"))
    }
    fn visit_str<E>(self, _: &str) -> std::result::Result<Top, E> {
        Ok(Top::Other("STRING"))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Top, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Top::Other("ARRAY"))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Top, A::Error> {
        let mut hint = 0;
        while let Some(key) = map.next_key::<Key<'de>>()? {
            let name = key.as_str();
            if self.distinct {
                // Each field feeds at most one column; fields usually come in column order.
                let n = self.columns.len();
                let found = (0..n)
                    .map(|k| (hint + k) % n)
                    .find(|&i| self.columns.get(i).is_some_and(|(c, _)| c.eq_ignore_ascii_case(name)));
                let Some((i, (column, ty), slot)) =
                    found.and_then(|i| Some((i, self.columns.get(i)?, self.slots.get_mut(i)?)))
                else {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                };
                hint = i + 1;
                if column == name {
                    slot.exact = Some(map.next_value_seed(ColumnSeed(ty))?);
                } else if slot.folded.as_ref().is_none_or(|(k, _)| k.as_str() == name) {
                    let cell = map.next_value_seed(ColumnSeed(ty))?;
                    slot.folded = Some((key, cell));
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
                continue;
            }
            let exact = self.columns.iter().position(|(n, _)| n == name);
            // Columns that would read this field: its exact column, and those it matches ignoring case
            // that have no exact field of their own (decided at the end) and no earlier folded field.
            let folded: Vec<usize> = self
                .columns
                .iter()
                .zip(self.slots.iter())
                .enumerate()
                .filter(|(i, ((n, _), _))| Some(*i) != exact && n.eq_ignore_ascii_case(name))
                .filter(|(_, (_, slot))| slot.folded.as_ref().is_none_or(|(k, _)| k.as_str() == name))
                .map(|(i, _)| i)
                .collect();
            let columns = self.columns;
            let column = |i: usize| columns.get(i).map(|(_, ty)| ty);
            match (exact, folded.as_slice()) {
                (None, []) => {
                    map.next_value::<IgnoredAny>()?;
                }
                (Some(i), []) => match (column(i), self.slots.get_mut(i)) {
                    (Some(ty), Some(slot)) => slot.exact = Some(map.next_value_seed(ColumnSeed(ty))?),
                    _ => {
                        map.next_value::<IgnoredAny>()?;
                    }
                },
                (exact, folded) => {
                    // One field read by several columns: keep the tree and convert it for each.
                    let json: Json = map.next_value()?;
                    let cells: Vec<_> = exact
                        .into_iter()
                        .chain(folded.iter().copied())
                        .filter_map(|i| Some((i, json_to_value(&json, column(i)?).map(Cell::Value))))
                        .collect();
                    for (i, cell) in cells {
                        let Some(slot) = self.slots.get_mut(i) else { continue };
                        if Some(i) == exact {
                            slot.exact = Some(cell);
                        } else {
                            slot.folded = Some((key.clone(), cell));
                        }
                    }
                }
            }
        }
        Ok(Top::Object)
    }
}

/// A field name, borrowed from the record unless it had escapes.
#[derive(Clone)]
enum Key<'a> {
    Borrowed(&'a str),
    Owned(String),
}

impl Key<'_> {
    fn as_str(&self) -> &str {
        match self {
            Key::Borrowed(s) => s,
            Key::Owned(s) => s,
        }
    }
}

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> std::result::Result<Key<'de>, E> {
                Ok(Key::Borrowed(s))
            }
            fn visit_str<E>(self, s: &str) -> std::result::Result<Key<'de>, E> {
                Ok(Key::Owned(s.to_string()))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// Reads one field's value as a column of the given type; a value that does not convert is an
/// `Err` inside `Ok`, so that the JSON syntax is checked to the end before conversions are reported.
struct ColumnSeed<'t>(&'t SqlType);

impl<'de> DeserializeSeed<'de> for ColumnSeed<'_> {
    type Value = Result<Cell<'de>>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> std::result::Result<Self::Value, D::Error> {
        let ty = self.0;
        if ty.is_primitive() && !matches!(ty, SqlType::Bytes) {
            d.deserialize_any(ScalarVisitor(ty))
        } else {
            let json = Json::deserialize(d)?;
            Ok(json_to_value(&json, ty).map(Cell::Value))
        }
    }
}

/// A primitive column's value: numbers and booleans convert without allocating, strings of a STRING
/// column stay borrowed; anything else takes the general conversion.
pub(super) struct ScalarVisitor<'t>(pub(super) &'t SqlType);

impl ScalarVisitor<'_> {
    fn convert<'a>(&self, json: &Json) -> Result<Cell<'a>> {
        json_to_value(json, self.0).map(Cell::Value)
    }

    /// An integer into a numeric column converts in place, as `json_to_value` would.
    fn integer<'a>(&self, v: i64) -> Result<Cell<'a>> {
        match self.0 {
            SqlType::Bigint => Ok(Cell::Value(Value::Bigint(v))),
            SqlType::Int => Ok(Cell::Value(Value::Int(v as i32))),
            SqlType::Timestamp => Ok(Cell::Value(Value::Timestamp(v))),
            SqlType::Double => Ok(Cell::Value(Value::Double(v as f64))),
            _ => self.convert(&Json::Number(v.into())),
        }
    }
}

impl<'de> Visitor<'de> for ScalarVisitor<'_> {
    type Value = Result<Cell<'de>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a value of type {}", self.0)
    }

    fn visit_unit<E>(self) -> std::result::Result<Self::Value, E> {
        Ok(Ok(Cell::Value(Value::Null)))
    }
    fn visit_bool<E>(self, b: bool) -> std::result::Result<Self::Value, E> {
        if matches!(self.0, SqlType::Boolean) {
            return Ok(Ok(Cell::Value(Value::Boolean(b))));
        }
        Ok(self.convert(&Json::Bool(b)))
    }
    fn visit_i64<E>(self, v: i64) -> std::result::Result<Self::Value, E> {
        Ok(self.integer(v))
    }
    fn visit_u64<E>(self, v: u64) -> std::result::Result<Self::Value, E> {
        Ok(match i64::try_from(v) {
            Ok(v) => self.integer(v),
            Err(_) => self.convert(&Json::Number(v.into())),
        })
    }
    fn visit_f64<E>(self, v: f64) -> std::result::Result<Self::Value, E> {
        if matches!(self.0, SqlType::Double) {
            return Ok(Ok(Cell::Value(Value::Double(v))));
        }
        Ok(self.convert(&Number::from_f64(v).map(Json::Number).unwrap_or(Json::Null)))
    }
    fn visit_borrowed_str<E>(self, s: &'de str) -> std::result::Result<Self::Value, E> {
        if matches!(self.0, SqlType::String) {
            return Ok(Ok(Cell::Str(s)));
        }
        Ok(self.convert(&Json::String(s.to_string())))
    }
    fn visit_str<E>(self, s: &str) -> std::result::Result<Self::Value, E> {
        Ok(self.convert(&Json::String(s.to_string())))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> std::result::Result<Self::Value, A::Error> {
        let json = Json::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
        Ok(self.convert(&json))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> std::result::Result<Self::Value, A::Error> {
        let json = Json::deserialize(de::value::MapAccessDeserializer::new(map))?;
        Ok(self.convert(&json))
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)] // Tests index what they just built.
mod tests {
    use super::*;

    fn columns() -> Vec<(String, SqlType)> {
        vec![
            ("ID".into(), SqlType::Bigint),
            ("NAME".into(), SqlType::String),
            ("PRICE".into(), SqlType::Double),
            ("TAGS".into(), SqlType::Array(Box::new(SqlType::String))),
            ("OK".into(), SqlType::Boolean),
        ]
    }

    /// The streaming decode (its path for distinct names, and its general path) against the tree decode.
    fn decoded(cols: &[(String, SqlType)], text: &str) -> [Result<Vec<Value>>; 3] {
        let streamed = |distinct: bool| {
            let mut out = Vec::new();
            decode_object(cols, distinct, text.as_bytes(), &mut out)
                .map(|_| out.into_iter().map(Cell::into_value).collect())
        };
        let tree = serde_json::from_slice::<Json>(text.as_bytes())
            .map_err(|e| RuntimeError::Serde(format!("Failed to deserialise JSON: {e}")))
            .and_then(|json| match json {
                Json::Object(o) => cols
                    .iter()
                    .map(|(n, t)| {
                        let v = o
                            .get(n)
                            .or_else(|| o.iter().find(|(k, _)| k.eq_ignore_ascii_case(n)).map(|(_, v)| v))
                            .unwrap_or(&Json::Null);
                        json_to_value(v, t)
                    })
                    .collect(),
                Json::Null => Ok(vec![Value::Null; cols.len()]),
                _ => Err(RuntimeError::Serde("not an object".into())),
            });
        [if distinct_ignoring_case(cols) { streamed(true) } else { streamed(false) }, streamed(false), tree]
    }

    #[test]
    fn agrees_with_the_tree_decode() {
        for text in [
            r#"{"ID": 1, "NAME": "a", "PRICE": 1.5, "TAGS": ["x"], "OK": true}"#,
            r#"{"id": "7", "name": 3.0, "price": 2, "ok": "TRUE", "other": {"a": [1, 2]}}"#,
            r#"{"Name": "first", "NAME": "exact", "name": "third"}"#,
            r#"{"name": "first", "Name": "second", "name": "again"}"#,
            r#"{"NAME": {"nested": [1, "two"]}, "TAGS": null}"#,
            r#"{"NAME": "esc\"aped\u00e9", "ID": 18446744073709551615}"#,
            r#"{"ID": 1, "ID": 2}"#,
            "null",
            "{}",
        ] {
            let [fast, general, tree] = decoded(&columns(), text);
            let tree = tree.unwrap();
            assert_eq!(fast.unwrap(), tree, "{text}");
            assert_eq!(general.unwrap(), tree, "{text}");
        }
        // Two columns whose names differ only in case: a field may feed both.
        let cols = vec![("a".to_string(), SqlType::Bigint), ("A".to_string(), SqlType::String)];
        assert!(!distinct_ignoring_case(&cols));
        for text in [r#"{"a": 1}"#, r#"{"A": "x", "a": 2}"#, r#"{"a": 1, "A": "y"}"#] {
            let [_, general, tree] = decoded(&cols, text);
            assert_eq!(general.unwrap(), tree.unwrap(), "{text}");
        }
    }

    #[test]
    fn the_fast_scanner_agrees_with_the_general_reader() {
        let cols = vec![
            ("ID".to_string(), SqlType::Bigint),
            ("NAME".to_string(), SqlType::String),
            ("PRICE".to_string(), SqlType::Double),
            ("N".to_string(), SqlType::Int),
            ("OK".to_string(), SqlType::Boolean),
            ("TS".to_string(), SqlType::Timestamp),
        ];
        let general = |text: &str| {
            let mut out = Vec::new();
            decode_object(&cols, false, text.as_bytes(), &mut out)
                .map(|_| out.into_iter().map(Cell::into_value).collect::<Vec<_>>())
                .map_err(|e| e.to_string())
        };
        assert!(super::super::json_scan::scannable(&cols, distinct_ignoring_case(&cols)));
        // The scanner where it reads the record, else the general reader with its fast field matching.
        let fast = |text: &str| {
            let mut out = Vec::new();
            let patterns = super::super::json_scan::KeyPatterns::new(&cols);
            if super::super::json_scan::scan_object(&cols, &patterns, text.as_bytes(), &mut out) {
                return Ok(out.into_iter().map(Cell::into_value).collect::<Vec<_>>());
            }
            assert!(out.is_empty());
            decode_object(&cols, true, text.as_bytes(), &mut out)
                .map(|_| out.into_iter().map(Cell::into_value).collect::<Vec<_>>())
                .map_err(|e| e.to_string())
        };
        for text in [
            r#"{"ID": 1, "NAME": "a", "PRICE": 1.5, "N": 7, "OK": true, "TS": 1700000000000}"#,
            r#"{"id":1,"name":"a","price":1.5,"n":7,"ok":true,"ts":1700000000000}"#,
            r#"{"id":1,"Name":"b","NAME":"c","name":"d","ID":2,"idx":3,"ID" :4}"#,
            r#" { "id" : -12 , "name" : "é ü" , "price" : -2.5e3 , "n" : 0 , "ok" : false } "#,
            r#"{"ID": "7", "NAME": 3.25, "PRICE": 2, "N": "8", "OK": "TRUE", "extra": [1, {"a": 2}]}"#,
            r#"{"Name": "first", "NAME": "exact", "name": "third"}"#,
            r#"{"name": "first", "Name": "second", "name": "again"}"#,
            r#"{"NAME": "esc"aped", "ID": 18446744073709551615}"#,
            r#"{"ID": 1, "ID": 2, "PRICE": 0.1, "PRICE": 1e-7}"#,
            r#"{"ID": -9223372036854775808, "N": -0, "TS": 9223372036854775807}"#,
            r#"{"ID": 9223372036854775808}"#,
            r#"{"ID": -9223372036854775809, "PRICE": -0.0}"#,
            r#"{"ID": 999999999999999999, "N": 123456789012, "TS": -999999999999999999}"#,
            r#"{"ID": 1000000000000000000, "TS": -1000000000000000000}"#,
            r#"{"ID": 9999999999999999999, "N": -}"#,
            r#"{"ID": -0, "N": 2147483648, "TS": 00}"#,
            r#"{"ID": 1e3, "N": 12E-1, "PRICE": 17}"#,
            r#"{"ID": null, "NAME": null, "unknown": "x", "other": 1.25}"#,
            r#"{"PRICE": 01}"#,
            r#"{"PRICE": 1.}"#,
            r#"{"ID": 1,}"#,
            r#"{"ID" 1}"#,
            r#"{"ID": 1} x"#,
            r#"{"ID": "x"}"#,
            r#"{"OK": [1]}"#,
            r#"{"ID": tru}"#,
            "{\"NAME\": \"tab\there\"}",
            "{}",
            "null",
            "[1]",
            "",
        ] {
            assert_eq!(fast(text), general(text), "{text}");
        }
    }

    #[test]
    fn reports_bad_input() {
        let cols = columns();
        let err = |text: &str| decode_object(&cols, true, text.as_bytes(), &mut Vec::new()).unwrap_err().to_string();
        assert!(err("{\"ID\": 1").contains("Failed to deserialise JSON"));
        assert!(err("{\"ID\": 1} x").contains("Failed to deserialise JSON"));
        assert!(err("[1]").contains("sourceType: ARRAY, requiredType: STRUCT"));
        assert!(err("5").contains("sourceType: BIGINT"));
        assert!(err(r#"{"ID": "x"}"#).contains("Can't convert"));
        assert!(err(r#"{"OK": [1]}"#).contains("Can't convert type. sourceType: ARRAY"));
    }
}
