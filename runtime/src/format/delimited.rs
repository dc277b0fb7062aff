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
                (Value::Double(d), _) => java_double(*d),
                (Value::Array(_) | Value::Map(_) | Value::Struct(_), _) => {
                    return Err(RuntimeError::Serde(format!("DELIMITED does not support type: {ty}")))
                }
                (Value::Bytes(b), _) => {
                    use base64::Engine as _;
                    base64::engine::general_purpose::STANDARD.encode(b)
                }
                (other, _) => other.to_string(),
            };
            // Quoted as Apache Commons CSV's minimal quoting does (ksqlDB writes with it): the first
            // value of a line unless it starts with a letter or digit, any value starting with a
            // character up to '#' or ending with one up to ' ', one holding the delimiter, a quote or
            // a line break, and an empty string (not NULL) first on the line.
            let quote = match (text.chars().next(), text.chars().last()) {
                (None, _) => i == 0 && !v.is_null(),
                (Some(first), Some(last)) => {
                    (i == 0 && !first.is_ascii_alphanumeric())
                        || first <= '#'
                        || last <= ' '
                        || text.contains([self.delimiter, '"', '\n', '\r'])
                }
                (Some(_), None) => false,
            };
            if quote {
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

/// A double as Java's `Double.toString` writes it (which ksqlDB's DELIMITED format uses): the shortest
/// digits that read back to the same value, plain between 10^-3 and 10^7 (`100.0`, `0.001`), otherwise
/// as `d.dddE<exponent>` (`1.0E7`, `4.9E-324`).
pub(crate) fn java_double(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    let sign = if v.is_sign_negative() { "-" } else { "" };
    if v == 0.0 {
        return format!("{sign}0.0");
    }
    // Rust's `{:e}` gives the shortest digits that read back (`d[.ddd]e<exp>`). Java never stops at
    // one digit: of the decimals with two it takes the closest (`4.9E-324` where Rust says `5e-324`).
    let mut sci = format!("{:e}", v.abs());
    if !sci.contains('.') {
        sci = format!("{:.1e}", v.abs());
    }
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let digits = match digits.trim_end_matches('0') {
        "" => "0".to_string(),
        trimmed => trimmed.to_string(),
    };
    let body = if (-3..7).contains(&exp) {
        let point = exp + 1;
        if point <= 0 {
            format!("0.{}{digits}", "0".repeat(point.unsigned_abs() as usize))
        } else if digits.len() <= point as usize {
            format!("{digits}{}.0", "0".repeat(point as usize - digits.len()))
        } else {
            format!("{}.{}", &digits[..point as usize], &digits[point as usize..])
        }
    } else {
        let fraction = if digits.len() > 1 { &digits[1..] } else { "0" };
        format!("{}.{fraction}E{exp}", &digits[..1])
    };
    format!("{sign}{body}")
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
#[allow(clippy::indexing_slicing)] // Tests index what they just built.
mod tests {
    use super::*;

    #[test]
    fn splits_quoted_fields() {
        let f = split("a,\"b,c\",,\"\"", ',').unwrap();
        assert_eq!(f, vec![Some("a".into()), Some("b,c".into()), None, Some(String::new())]);
    }

    #[test]
    fn values_are_quoted_as_commons_csv_quotes_them() {
        let columns: Vec<(String, SqlType)> = (0..3).map(|i| (format!("C{i}"), SqlType::String)).collect();
        let codec = DelimitedCodec::new(columns, ',', false).unwrap();
        let line = |v: [&str; 3]| {
            let values: Vec<Value> = v.iter().map(|s| Value::String(s.to_string())).collect();
            String::from_utf8(codec.encode(&values).unwrap().unwrap()).unwrap()
        };
        assert_eq!(line(["!", "#x", "a"]), "\"!\",\"#x\",a");
        assert_eq!(line(["a b", "tail ", "-5"]), "a b,\"tail \",-5");
        assert_eq!(line(["x,y", "say \"hi\"", "two\nlines"]), "\"x,y\",\"say \"\"hi\"\"\",\"two\nlines\"");
        assert_eq!(line(["", "", "z"]), "\"\",,z");
        assert_eq!(line(["-5", "-5", "_"]), "\"-5\",-5,_");
    }

    #[test]
    fn doubles_read_as_java_writes_them() {
        let cases = [
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.0, "1.0"),
            (100.5, "100.5"),
            (0.001, "0.001"),
            (0.0001, "1.0E-4"),
            (1234567.0, "1234567.0"),
            (12345678.0, "1.2345678E7"),
            (4.9e-324, "4.9E-324"),
            (-2.2250738585072014e-308, "-2.2250738585072014E-308"),
            (f64::MAX, "1.7976931348623157E308"),
            (f64::NAN, "NaN"),
            (f64::NEG_INFINITY, "-Infinity"),
        ];
        for (v, text) in cases {
            assert_eq!(java_double(v), text, "{v}");
        }
    }
}
