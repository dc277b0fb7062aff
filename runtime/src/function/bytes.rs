//! Bytes functions: TO_BYTES / FROM_BYTES between strings and bytes in an encoding (hex, utf8,
//! ascii, base64), ENCODE from one encoding to another, and INT/BIGINT/DOUBLE_FROM_BYTES.

use base64::Engine as _;
use eddy_catalog::SqlType;

use super::{signature_error, RowFn};
use crate::value::Value;

pub const NAMES: &[&str] =
    &["BIGINT_FROM_BYTES", "DOUBLE_FROM_BYTES", "ENCODE", "FROM_BYTES", "INT_FROM_BYTES", "TO_BYTES"];

type Found = Option<Result<(RowFn, SqlType), String>>;

pub fn resolve(name: &str, args: &[SqlType]) -> Found {
    use SqlType::{Bytes as B, String as S};
    let ok = |f: RowFn, t: SqlType| Some(Ok((f, t)));
    match (name, args) {
        ("TO_BYTES", [S, S]) => ok(to_bytes, B),
        ("FROM_BYTES", [B, S]) => ok(from_bytes, S),
        ("ENCODE", [S, S, S]) => ok(encode, S),
        ("INT_FROM_BYTES", [B] | [B, S]) => ok(int_from_bytes, SqlType::Int),
        ("BIGINT_FROM_BYTES", [B] | [B, S]) => ok(bigint_from_bytes, SqlType::Bigint),
        ("DOUBLE_FROM_BYTES", [B] | [B, S]) => ok(double_from_bytes, SqlType::Double),
        (n, _) if NAMES.contains(&n) => Some(Err(signature_error(name, args))),
        _ => None,
    }
}

/// The encodings strings and bytes convert with.
#[derive(Clone, Copy)]
enum Encoding {
    Hex,
    Utf8,
    Ascii,
    Base64,
}

impl Encoding {
    fn of(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "hex" => Some(Self::Hex),
            "utf8" => Some(Self::Utf8),
            "ascii" => Some(Self::Ascii),
            "base64" => Some(Self::Base64),
            _ => None,
        }
    }

    /// The bytes a string stands for.
    fn decode(self, s: &str) -> Result<Vec<u8>, String> {
        match self {
            Self::Hex => {
                // An odd number of digits reads as if a leading zero were there.
                let padded = if s.len() % 2 == 1 { format!("0{s}") } else { s.to_string() };
                (0..padded.len())
                    .step_by(2)
                    .map(|i| {
                        padded
                            .get(i..i + 2)
                            .and_then(|h| u8::from_str_radix(h, 16).ok())
                            .ok_or_else(|| format!("Failed to decode hex string {s}"))
                    })
                    .collect()
            }
            Self::Utf8 => Ok(s.as_bytes().to_vec()),
            // Characters beyond ASCII become '?', as Java's US-ASCII charset writes them.
            Self::Ascii => Ok(s.chars().map(|c| if c.is_ascii() { c as u8 } else { b'?' }).collect()),
            Self::Base64 => base64::engine::general_purpose::STANDARD
                .decode(s)
                .map_err(|e| format!("Failed to decode base64 string {s}: {e}")),
        }
    }

    /// The string for some bytes.
    fn encode(self, bytes: &[u8], hex_upper: bool) -> String {
        match self {
            Self::Hex if hex_upper => bytes.iter().map(|b| format!("{b:02X}")).collect(),
            Self::Hex => bytes.iter().map(|b| format!("{b:02x}")).collect(),
            Self::Utf8 => String::from_utf8_lossy(bytes).into_owned(),
            // Bytes beyond ASCII read as the replacement character, as Java's US-ASCII charset reads them.
            Self::Ascii => bytes.iter().map(|&b| if b.is_ascii() { b as char } else { '\u{fffd}' }).collect(),
            Self::Base64 => base64::engine::general_purpose::STANDARD.encode(bytes),
        }
    }
}

fn encoding(v: &Value) -> Result<Option<Encoding>, String> {
    match v {
        Value::String(name) => Encoding::of(name).map(Some).ok_or_else(|| {
            format!("Supported input and output encodings are: hex, utf8, ascii and base64. Got: {name}")
        }),
        _ => Ok(None),
    }
}

fn to_bytes(a: &[Value]) -> Result<Value, String> {
    let (Value::String(s), Some(e)) = (&a[0], encoding(&a[1])?) else { return Ok(Value::Null) };
    e.decode(s).map(Value::Bytes)
}

fn from_bytes(a: &[Value]) -> Result<Value, String> {
    let (Value::Bytes(b), Some(e)) = (&a[0], encoding(&a[1])?) else { return Ok(Value::Null) };
    Ok(Value::String(e.encode(b, true)))
}

/// ENCODE(string, from, to): NULL for an encoding it does not know, as ksqlDB returns.
fn encode(a: &[Value]) -> Result<Value, String> {
    let (Value::String(s), Value::String(from), Value::String(to)) = (&a[0], &a[1], &a[2]) else {
        return Ok(Value::Null);
    };
    let (Some(from), Some(to)) = (Encoding::of(from), Encoding::of(to)) else { return Ok(Value::Null) };
    Ok(Value::String(to.encode(&from.decode(s)?, false)))
}

/// The bytes as a number of `N` bytes, big-endian unless told `LITTLE_ENDIAN`.
fn number<const N: usize>(a: &[Value], what: &str) -> Result<Option<[u8; N]>, String> {
    let Value::Bytes(b) = &a[0] else { return Ok(None) };
    let mut bytes: [u8; N] = b
        .as_slice()
        .try_into()
        .map_err(|_| format!("Number of bytes must be equal to {N}, but found {} ({what})", b.len()))?;
    match a.get(1) {
        None | Some(Value::Null) => {}
        Some(Value::String(order)) if order.eq_ignore_ascii_case("BIG_ENDIAN") => {}
        Some(Value::String(order)) if order.eq_ignore_ascii_case("LITTLE_ENDIAN") => bytes.reverse(),
        Some(other) => return Err(format!("Byte order must be BIG_ENDIAN or LITTLE_ENDIAN, got {other:?}")),
    }
    Ok(Some(bytes))
}

fn int_from_bytes(a: &[Value]) -> Result<Value, String> {
    Ok(number::<4>(a, "INT")?.map(|b| Value::Int(i32::from_be_bytes(b))).unwrap_or(Value::Null))
}

fn bigint_from_bytes(a: &[Value]) -> Result<Value, String> {
    Ok(number::<8>(a, "BIGINT")?.map(|b| Value::Bigint(i64::from_be_bytes(b))).unwrap_or(Value::Null))
}

fn double_from_bytes(a: &[Value]) -> Result<Value, String> {
    Ok(number::<8>(a, "DOUBLE")?.map(|b| Value::Double(f64::from_be_bytes(b))).unwrap_or(Value::Null))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Value {
        Value::String(v.to_string())
    }

    #[test]
    fn strings_and_bytes_convert_in_each_encoding() {
        assert_eq!(to_bytes(&[s("1aB2"), s("hex")]), Ok(Value::Bytes(vec![0x1a, 0xb2])));
        assert_eq!(from_bytes(&[Value::Bytes(vec![0x1a, 0xb2]), s("HEX")]), Ok(s("1AB2")));
        assert_eq!(to_bytes(&[s("Ελ"), s("ascii")]), Ok(Value::Bytes(b"??".to_vec())));
        assert_eq!(from_bytes(&[Value::Bytes(vec![b'!', 0xce]), s("ascii")]), Ok(s("!\u{fffd}")));
        assert_eq!(from_bytes(&[Value::Bytes(b"Example!".to_vec()), s("base64")]), Ok(s("RXhhbXBsZSE=")));
        assert!(to_bytes(&[s("zz"), s("hex")]).is_err());
        assert!(to_bytes(&[s("x"), s("ebcdic")]).is_err());
        assert_eq!(to_bytes(&[Value::Null, s("hex")]), Ok(Value::Null));
    }

    #[test]
    fn encode_converts_between_encodings_and_unknown_ones_give_null() {
        assert_eq!(encode(&[s("4578616d706C6521"), s("hex"), s("utf8")]), Ok(s("Example!")));
        assert_eq!(encode(&[s("Example!"), s("ascii"), s("hex")]), Ok(s("4578616d706c6521")));
        assert_eq!(encode(&[s("zpXOu867zqzOtM6x"), s("base64"), s("utf8")]), Ok(s("Ελλάδα")));
        assert_eq!(encode(&[s("RXhhbXBsZSE="), s("base64"), s("null")]), Ok(Value::Null));
    }

    #[test]
    fn numbers_read_from_exactly_their_size() {
        assert_eq!(int_from_bytes(&[Value::Bytes(vec![0, 0, 7, 0xe5])]), Ok(Value::Int(2021)));
        assert_eq!(int_from_bytes(&[Value::Bytes(vec![0xe5, 7, 0, 0]), s("LITTLE_ENDIAN")]), Ok(Value::Int(2021)));
        assert_eq!(
            bigint_from_bytes(&[Value::Bytes(5_000_000_000i64.to_be_bytes().to_vec())]),
            Ok(Value::Bigint(5_000_000_000))
        );
        assert_eq!(double_from_bytes(&[Value::Bytes(532.5f64.to_be_bytes().to_vec())]), Ok(Value::Double(532.5)));
        assert!(int_from_bytes(&[Value::Bytes(vec![1, 2])]).is_err());
        assert!(int_from_bytes(&[Value::Bytes(vec![1, 2, 3, 4]), s("MIDDLE")]).is_err());
    }
}
