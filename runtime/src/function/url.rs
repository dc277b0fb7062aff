//! The URL functions: URL_EXTRACT_* read a URL's parts as `java.net.URI` does (path, query and
//! fragment percent-decoded; NULL for a part the URL lacks), URL_ENCODE_PARAM / URL_DECODE_PARAM
//! convert `application/x-www-form-urlencoded` text as Java's URLEncoder / URLDecoder do.

use eddy_catalog::SqlType;

use super::{signature_error, RowFn};
use crate::value::Value;

pub const NAMES: &[&str] = &[
    "URL_DECODE_PARAM",
    "URL_ENCODE_PARAM",
    "URL_EXTRACT_FRAGMENT",
    "URL_EXTRACT_HOST",
    "URL_EXTRACT_PARAMETER",
    "URL_EXTRACT_PATH",
    "URL_EXTRACT_PORT",
    "URL_EXTRACT_PROTOCOL",
    "URL_EXTRACT_QUERY",
];

type Found = Option<Result<(RowFn, SqlType), String>>;

pub fn resolve(name: &str, args: &[SqlType]) -> Found {
    use SqlType::String as S;
    let ok = |f: RowFn, t: SqlType| Some(Ok((f, t)));
    match (name, args) {
        ("URL_DECODE_PARAM", [S]) => ok(decode_param, S),
        ("URL_ENCODE_PARAM", [S]) => ok(encode_param, S),
        ("URL_EXTRACT_FRAGMENT", [S]) => ok(fragment, S),
        ("URL_EXTRACT_HOST", [S]) => ok(host, S),
        ("URL_EXTRACT_PARAMETER", [S, S]) => ok(parameter, S),
        ("URL_EXTRACT_PATH", [S]) => ok(path, S),
        ("URL_EXTRACT_PORT", [S]) => ok(port, SqlType::Int),
        ("URL_EXTRACT_PROTOCOL", [S]) => ok(protocol, S),
        ("URL_EXTRACT_QUERY", [S]) => ok(query, S),
        (n, _) if NAMES.contains(&n) => Some(Err(signature_error(name, args))),
        _ => None,
    }
}

/// A URL split as RFC 3986 splits it (raw, still percent-encoded).
#[derive(Debug, Default, PartialEq)]
struct Parts<'a> {
    scheme: Option<&'a str>,
    authority: Option<&'a str>,
    /// None for an opaque URL (`mailto:x@y`), which has no path or query.
    path: Option<&'a str>,
    query: Option<&'a str>,
    fragment: Option<&'a str>,
}

/// Characters `java.net.URI` refuses anywhere in a URL.
fn illegal(c: char) -> bool {
    c.is_control() || c.is_whitespace() || matches!(c, '"' | '<' | '>' | '\\' | '^' | '`' | '{' | '|' | '}')
}

fn parse(url: &str) -> Result<Parts<'_>, String> {
    let invalid = || format!("URL input has invalid syntax: {url}");
    if url.is_empty() || url.chars().any(illegal) {
        return Err(invalid());
    }
    let (rest, fragment) = match url.split_once('#') {
        Some((r, f)) => (r, Some(f)),
        None => (url, None),
    };
    // A scheme: a letter, then letters, digits, '+', '-', '.', before the first ':' (and before any '/').
    let (scheme, rest) = match rest.find(':') {
        Some(i)
            if i > 0
                && rest[..i].starts_with(|c: char| c.is_ascii_alphabetic())
                && rest[..i].chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')) =>
        {
            (Some(&rest[..i]), &rest[i + 1..])
        }
        Some(0) => return Err(invalid()),
        _ => (None, rest),
    };
    if scheme.is_some() && !rest.starts_with('/') {
        if rest.is_empty() {
            return Err(invalid());
        }
        return Ok(Parts { scheme, fragment, ..Parts::default() });
    }
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) => (r, Some(q)),
        None => (rest, None),
    };
    let (authority, path) = match rest.strip_prefix("//") {
        Some(after) => match after.find('/') {
            Some(i) => (Some(&after[..i]), &after[i..]),
            None => (Some(after), ""),
        },
        None => (None, rest),
    };
    Ok(Parts { scheme, authority, path: Some(path), query, fragment })
}

/// Percent-decodes as `java.net.URI` decodes its parts ('+' stays '+').
fn percent_decode(s: &str, plus_is_space: bool) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = s.get(i + 1..i + 3).filter(|h| h.chars().all(|c| c.is_ascii_hexdigit()));
                let byte = hex.and_then(|h| u8::from_str_radix(h, 16).ok());
                let Some(byte) = byte else {
                    return Err(format!("Illegal hex characters in escape (%) pattern: {s}"));
                };
                out.push(byte);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// The host and port of an authority (`user@host:port`).
fn host_port(authority: &str) -> (Option<&str>, Option<&str>) {
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    // An IPv6 literal keeps its brackets and its colons.
    let split = match host_port.rfind(']') {
        Some(end) => host_port[end..].find(':').map(|i| end + i),
        None => host_port.rfind(':'),
    };
    let (host, port) = match split {
        Some(i) => (&host_port[..i], Some(&host_port[i + 1..])),
        None => (host_port, None),
    };
    ((!host.is_empty()).then_some(host), port.filter(|p| !p.is_empty()))
}

/// Applies `part` to the parsed URL of the first argument; NULL in, NULL out.
fn with_url(a: &[Value], part: impl FnOnce(&Parts<'_>) -> Result<Value, String>) -> Result<Value, String> {
    match a.first() {
        Some(Value::String(url)) => part(&parse(url)?),
        _ => Ok(Value::Null),
    }
}

fn decoded(part: Option<&str>) -> Result<Value, String> {
    part.map(|p| percent_decode(p, false).map(Value::String)).unwrap_or(Ok(Value::Null))
}

fn protocol(a: &[Value]) -> Result<Value, String> {
    with_url(a, |p| Ok(p.scheme.map(|s| Value::String(s.to_string())).unwrap_or(Value::Null)))
}

fn host(a: &[Value]) -> Result<Value, String> {
    with_url(a, |p| {
        Ok(p.authority.and_then(|x| host_port(x).0).map(|h| Value::String(h.to_string())).unwrap_or(Value::Null))
    })
}

fn port(a: &[Value]) -> Result<Value, String> {
    with_url(a, |p| match p.authority.and_then(|x| host_port(x).1) {
        None => Ok(Value::Null),
        // Not a number: java.net.URI reads the authority as a registry name, without a port.
        Some(port) => Ok(port.parse::<i32>().map(Value::Int).unwrap_or(Value::Null)),
    })
}

fn path(a: &[Value]) -> Result<Value, String> {
    with_url(a, |p| decoded(p.path))
}

fn query(a: &[Value]) -> Result<Value, String> {
    with_url(a, |p| decoded(p.query))
}

fn fragment(a: &[Value]) -> Result<Value, String> {
    with_url(a, |p| decoded(p.fragment))
}

/// The (decoded) value of the query's first parameter named `a[1]`: "" when it has no `=`.
fn parameter(a: &[Value]) -> Result<Value, String> {
    let Some(Value::String(name)) = a.get(1) else { return Ok(Value::Null) };
    with_url(a, |p| {
        let Some(query) = p.query else { return Ok(Value::Null) };
        let query = percent_decode(query, false)?;
        for param in query.split('&') {
            match param.split_once('=') {
                None if param == name => return Ok(Value::String(String::new())),
                Some((k, v)) if k == name => return Ok(Value::String(v.to_string())),
                _ => {}
            }
        }
        Ok(Value::Null)
    })
}

/// `URLEncoder.encode(s, UTF-8)`: letters, digits and `.-*_` stay, a space becomes '+', every other
/// byte `%XX`.
fn encode_param(a: &[Value]) -> Result<Value, String> {
    let Some(Value::String(s)) = a.first() else { return Ok(Value::Null) };
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' | b'*' | b'_' => out.push(b as char),
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    Ok(Value::String(out))
}

/// `URLDecoder.decode(s, UTF-8)`: '+' is a space, `%XX` a byte; a broken escape is an error.
fn decode_param(a: &[Value]) -> Result<Value, String> {
    let Some(Value::String(s)) = a.first() else { return Ok(Value::Null) };
    percent_decode(s, true).map(Value::String)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(f: RowFn, args: &[&str]) -> Value {
        let args: Vec<Value> = args.iter().map(|s| Value::String(s.to_string())).collect();
        f(&args).unwrap_or(Value::Null)
    }

    fn s(v: &str) -> Value {
        Value::String(v.to_string())
    }

    #[test]
    fn parts_read_as_java_uri_reads_them() {
        let url = "https://test@confluent.io:8080/nested/pa%20th?q=a%20b&two#frag%21";
        assert_eq!(call(protocol, &[url]), s("https"));
        assert_eq!(call(host, &[url]), s("confluent.io"));
        assert_eq!(call(port, &[url]), Value::Int(8080));
        assert_eq!(call(path, &[url]), s("/nested/pa th"));
        assert_eq!(call(query, &[url]), s("q=a b&two"));
        assert_eq!(call(fragment, &[url]), s("frag!"));
        assert_eq!(call(parameter, &[url, "q"]), s("a b"));
        assert_eq!(call(parameter, &[url, "two"]), s(""));
        assert_eq!(call(parameter, &[url, "none"]), Value::Null);
        assert_eq!(call(path, &["http://www.test.com?query#fragment"]), s(""));
        assert_eq!(call(port, &["http://test@confluent.io"]), Value::Null);
        assert_eq!(call(protocol, &["www.confluent.io"]), Value::Null);
        assert_eq!(call(path, &["www.confluent.io"]), s("www.confluent.io"));
        assert_eq!(call(host, &["http://[::1]:9/x"]), s("[::1]"));
        assert_eq!(call(port, &["http://[::1]:9/x"]), Value::Int(9));
        assert_eq!(call(path, &["mailto:a@b.com"]), Value::Null);
        assert_eq!(call(query, &["http://a.com/p"]), Value::Null);
        // Not a URL: an error (the row's value becomes NULL and the error is logged).
        assert!(host(&[s("http://a b.com")]).is_err());
        assert_eq!(call(port, &["http://a.com:x/"]), Value::Null);
        assert_eq!(host(&[Value::Null]), Ok(Value::Null));
    }

    #[test]
    fn parameters_encode_and_decode_as_java_does() {
        assert_eq!(call(encode_param, &["?foo $bar"]), s("%3Ffoo+%24bar"));
        assert_eq!(call(encode_param, &["hello&world"]), s("hello%26world"));
        assert_eq!(call(encode_param, &["é~"]), s("%C3%A9%7E"));
        assert_eq!(call(decode_param, &["url%20encoded+too%C3%A9"]), s("url encoded tooé"));
        assert!(decode_param(&[s("bad%zz")]).is_err());
        assert!(decode_param(&[s("cut%4")]).is_err());
    }
}
