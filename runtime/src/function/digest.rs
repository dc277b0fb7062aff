//! Digests and identifiers: MD5 (hex of a text's MD5 digest, as ksqlDB's `udf/string/MD5.java`)
//! and UUID (a random version-4 UUID, or the text of a 16-byte one, as `udf/string/Uuid.java`).

use eddy_catalog::SqlType;
use md5::{Digest, Md5};

use super::{signature_error, text, RowFn};
use crate::value::Value;

pub const NAMES: &[&str] = &["MD5", "UUID"];

type Found = Option<Result<(RowFn, SqlType), String>>;

pub fn resolve(name: &str, args: &[SqlType]) -> Found {
    let ok = |f: RowFn, t: SqlType| Some(Ok((f, t)));
    match (name, args) {
        ("MD5", [SqlType::String]) => ok(md5, SqlType::String),
        ("UUID", []) => ok(random_uuid, SqlType::String),
        ("UUID", [SqlType::Bytes]) => ok(uuid_of_bytes, SqlType::String),
        (n, _) if NAMES.contains(&n) => Some(Err(signature_error(name, args))),
        _ => None,
    }
}

/// The lower-case hex of the MD5 digest of the text's UTF-8 bytes; NULL for NULL.
fn md5(a: &[Value]) -> Result<Value, String> {
    let Some(s) = a.first().and_then(text) else { return Ok(Value::Null) };
    let digest = Md5::digest(s.as_bytes());
    Ok(Value::String(digest.iter().map(|b| format!("{b:02x}")).collect()))
}

/// A new random (version 4) UUID for each row.
fn random_uuid(_: &[Value]) -> Result<Value, String> {
    Ok(Value::String(uuid::Uuid::new_v4().to_string()))
}

/// The UUID whose 16 bytes are given; NULL for NULL or another length.
fn uuid_of_bytes(a: &[Value]) -> Result<Value, String> {
    Ok(match a.first() {
        Some(Value::Bytes(b)) => uuid::Uuid::from_slice(b).map(|u| Value::String(u.to_string())).unwrap_or(Value::Null),
        _ => Value::Null,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_and_uuid_as_ksqldb_documents_them() {
        assert_eq!(
            md5(&[Value::String("hello world".into())]),
            Ok(Value::String("5eb63bbbe01eeed093cb22bb8f5acdc3".into()))
        );
        assert_eq!(md5(&[Value::Null]), Ok(Value::Null));
        let (Ok(Value::String(a)), Ok(Value::String(b))) = (random_uuid(&[]), random_uuid(&[])) else { panic!("uuid") };
        assert!(a != b && a.len() == 36 && a.as_bytes().get(14) == Some(&b'4'), "{a} {b}");
        let bytes = (0u8..16).collect::<Vec<_>>();
        assert_eq!(
            uuid_of_bytes(&[Value::Bytes(bytes)]),
            Ok(Value::String("00010203-0405-0607-0809-0a0b0c0d0e0f".into()))
        );
        assert_eq!(uuid_of_bytes(&[Value::Bytes(vec![1, 2])]), Ok(Value::Null));
        // The SQL engine calls it per row rather than folding it into one value.
        let resolved = super::super::resolve_function("UUID", &[]).and_then(Result::ok).expect("UUID()");
        assert_eq!(resolved.udf.signature().volatility, datafusion_expr::Volatility::Volatile);
        assert!(!super::super::is_volatile("MD5"));
    }
}
