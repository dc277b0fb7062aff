//! The DELIMITED format: one field per column, separated by a delimiter, with CSV quoting.

use eddy_catalog::SqlType;

use super::json::text_to_value;
use super::Codec;
use crate::error::{Result, RuntimeError};
use crate::value::{decimal_to_string, Value};

/// Reads and writes delimited text.
pub struct DelimitedCodec {
    columns: Vec<(String, SqlType)>,
    delimiter: char,
    key: bool,
}

impl DelimitedCodec {
    /// DELIMITED carries primitives and decimals only.
    pub fn new(columns: Vec<(String, SqlType)>, delimiter: char, key: bool) -> Result<Self> {
        for (name, ty) in &columns {
            let base = match ty {
                SqlType::Array(_) => Some("ARRAY"),
                SqlType::Map(..) => Some("MAP"),
                SqlType::Struct(_) => Some("STRUCT"),
                _ => None,
            };
            if let Some(base) = base {
                return Err(RuntimeError::Unsupported(format!(
                    "The 'DELIMITED' format does not support type '{base}', column: `{name}`"
                )));
            }
        }
        Ok(Self { columns, delimiter, key })
    }
}

impl Codec for DelimitedCodec {
    fn decode(&self, bytes: Option<&[u8]>) -> Result<Vec<Value>> {
        let Some(bytes) = bytes else { return Ok(vec![Value::Null; self.columns.len()]) };
        if self.columns.is_empty() {
            return Ok(Vec::new());
        }
        let text = std::str::from_utf8(bytes).map_err(|e| RuntimeError::Serde(format!("invalid UTF-8: {e}")))?;
        let fields = split(text, self.delimiter)?;
        if fields.len() != self.columns.len() {
            return Err(RuntimeError::Serde(format!(
                "Unexpected field count, csvFields:{} schemaFields:{}",
                fields.len(),
                self.columns.len()
            )));
        }
        self.columns
            .iter()
            .zip(fields)
            .map(|((_, ty), field)| match field {
                None => Ok(Value::Null),
                Some(f) if f.is_empty() && !matches!(ty, SqlType::String) => Ok(Value::Null),
                Some(f) => text_to_value(&f, ty),
            })
            .collect()
    }

    fn encode(&self, values: &[Value]) -> Result<Option<Vec<u8>>> {
        if self.columns.is_empty() {
            return Ok(None);
        }
        if (self.columns.len() == 1 || self.key) && values.iter().all(Value::is_null) {
            return Ok(None);
        }
        let mut out = String::new();
        for (i, ((_, ty), v)) in self.columns.iter().zip(values).enumerate() {
            if i > 0 {
                out.push(self.delimiter);
            }
            let text = match (v, ty) {
                (Value::Null, _) => String::new(),
                (Value::Decimal(d), SqlType::Decimal { scale, .. }) => decimal_to_string(*d, *scale),
                (Value::Array(_) | Value::Map(_) | Value::Struct(_), _) => {
                    return Err(RuntimeError::Serde(format!("DELIMITED does not support type: {ty}")))
                }
                (Value::Bytes(b), _) => {
                    use base64::Engine as _;
                    base64::engine::general_purpose::STANDARD.encode(b)
                }
                (other, _) => other.to_string(),
            };
            if text.contains(self.delimiter) || text.contains('"') || text.contains('\n') {
                out.push('"');
                out.push_str(&text.replace('"', "\"\""));
                out.push('"');
            } else {
                out.push_str(&text);
            }
        }
        Ok(Some(out.into_bytes()))
    }
}

/// Splits one line into fields; an unquoted empty field is None (null), a quoted one is "".
fn split(text: &str, delimiter: char) -> Result<Vec<Option<String>>> {
    let mut fields = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        let mut field = String::new();
        let mut quoted = false;
        if chars.peek() == Some(&'"') {
            quoted = true;
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                    None => return Err(RuntimeError::Serde("unterminated quoted field".into())),
                }
            }
        }
        while let Some(&c) = chars.peek() {
            if c == delimiter {
                break;
            }
            field.push(c);
            chars.next();
        }
        fields.push(if field.is_empty() && !quoted { None } else { Some(field) });
        if chars.next().is_none() {
            break;
        }
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_quoted_fields() {
        let f = split("a,\"b,c\",,\"\"", ',').unwrap();
        assert_eq!(f, vec![Some("a".into()), Some("b,c".into()), None, Some(String::new())]);
    }
}
