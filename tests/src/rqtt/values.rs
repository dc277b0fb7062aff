//! What the Postgres protocol carries back, as the JSON ksqlDB's REST API gives: a header schema
//! parsed into columns, and text-format cells read by their ksqlDB type.

use base64::Engine as _;
use eddy_catalog::SqlType;
use serde_json::Value as Json;

/// One column of an expected header: `` `NAME` TYPE [KEY] ``.
#[derive(Debug, Clone, PartialEq)]
pub struct HeaderColumn {
    pub name: String,
    pub ty: SqlType,
}

/// Parses a REST header schema such as `` `ID` STRING KEY, `COUNT` BIGINT ``.
pub fn parse_header(schema: &str) -> Result<Vec<HeaderColumn>, String> {
    let mut columns = Vec::new();
    for part in split_top_level(schema) {
        let part = part.trim();
        let rest = part.strip_prefix('`').ok_or_else(|| format!("header column without a name: {part}"))?;
        let (name, ty) = rest.split_once('`').ok_or_else(|| format!("unterminated column name: {part}"))?;
        // `BYTES KEY`, `ARRAY<...> HEADERS`, `BYTES HEADER('name')`: the column's role follows its type.
        let ty = ty.trim();
        let ty = ty.find(" HEADER").map_or(ty, |i| &ty[..i]);
        let ty = ty.strip_suffix(" KEY").unwrap_or(ty).trim();
        let ty = eddy_parser::parse_type(ty).map_err(|e| format!("header type {ty}: {e}"))?;
        columns.push(HeaderColumn { name: name.to_string(), ty });
    }
    Ok(columns)
}

/// Splits on commas outside `<...>` and backticks.
fn split_top_level(s: &str) -> Vec<&str> {
    let (mut parts, mut depth, mut quoted, mut start) = (Vec::new(), 0i32, false, 0);
    for (i, c) in s.char_indices() {
        match c {
            '`' => quoted = !quoted,
            '<' | '(' if !quoted => depth += 1,
            '>' | ')' if !quoted => depth -= 1,
            ',' if !quoted && depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if !s[start..].trim().is_empty() {
        parts.push(&s[start..]);
    }
    parts
}

/// A text-format cell as JSON, read as its ksqlDB type travels over the Postgres protocol
/// (`pg_types`): numbers, `t`/`f`, `\x` hex for bytes (base64 in REST), Postgres array literals for
/// arrays of primitives, JSON text for maps, structs and nested arrays.
pub fn cell_json(text: Option<&str>, ty: &SqlType) -> Json {
    let Some(text) = text else { return Json::Null };
    match ty {
        SqlType::Boolean => match text {
            "t" | "true" => Json::Bool(true),
            "f" | "false" => Json::Bool(false),
            other => Json::String(other.to_string()),
        },
        SqlType::Int | SqlType::Bigint => {
            text.parse::<i64>().map(Json::from).unwrap_or_else(|_| Json::String(text.to_string()))
        }
        SqlType::Double | SqlType::Decimal { .. } => match text.parse::<f64>() {
            Ok(f) => serde_json::Number::from_f64(f).map(Json::Number).unwrap_or_else(|| Json::String(text.into())),
            Err(_) => Json::String(text.to_string()),
        },
        SqlType::Bytes => match text.strip_prefix("\\x").and_then(hex) {
            Some(bytes) => Json::String(base64::engine::general_purpose::STANDARD.encode(bytes)),
            None => Json::String(text.to_string()),
        },
        SqlType::Array(element) if text.starts_with('{') => match parse_array(text) {
            Some(items) => Json::Array(items.iter().map(|i| cell_json(i.as_deref(), element)).collect()),
            None => Json::String(text.to_string()),
        },
        SqlType::Array(_) | SqlType::Map(..) | SqlType::Struct(_) => {
            serde_json::from_str(text).unwrap_or_else(|_| Json::String(text.to_string()))
        }
        _ => Json::String(text.to_string()),
    }
}

fn hex(s: &str) -> Option<Vec<u8>> {
    (0..s.len()).step_by(2).map(|i| s.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok())).collect()
}

/// The elements of a one-dimensional Postgres array literal (`{a,"b c",NULL}`); None if malformed.
pub fn parse_array(text: &str) -> Option<Vec<Option<String>>> {
    let inner = text.strip_prefix('{')?.strip_suffix('}')?;
    let mut items = Vec::new();
    if inner.is_empty() {
        return Some(items);
    }
    let mut chars = inner.chars().peekable();
    loop {
        if chars.peek() == Some(&'"') {
            chars.next();
            let mut item = String::new();
            loop {
                match chars.next()? {
                    '\\' => item.push(chars.next()?),
                    '"' => break,
                    c => item.push(c),
                }
            }
            items.push(Some(item));
        } else {
            let mut item = String::new();
            while let Some(c) = chars.peek().copied().filter(|c| *c != ',') {
                item.push(c);
                chars.next();
            }
            items.push((item != "NULL").then_some(item));
        }
        match chars.next() {
            Some(',') => continue,
            None => return Some(items),
            Some(_) => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn headers_and_cells() {
        let h = parse_header("`ID` STRUCT<`F1` STRING, `F2` STRING> KEY, `COUNT` BIGINT").unwrap();
        assert_eq!(h.len(), 2);
        assert_eq!(h[1], HeaderColumn { name: "COUNT".into(), ty: SqlType::Bigint });
        let list = SqlType::Array(Box::new(SqlType::String));
        assert_eq!(cell_json(Some(r#"{a,"b,c",NULL}"#), &list), json!(["a", "b,c", null]));
        assert_eq!(cell_json(Some("\\x21"), &SqlType::Bytes), json!("IQ=="));
        assert_eq!(cell_json(Some("t"), &SqlType::Boolean), json!(true));
        assert_eq!(cell_json(None, &SqlType::Int), Json::Null);
    }
}
