//! More string functions: INITCAP, INSTR, LPAD, RPAD, REPLACE, SPLIT, CONCAT_WS, CHR, MASK*, ELT,
//! FIELD and the REGEXP_* family.

use std::sync::atomic::{AtomicUsize, Ordering};

use eddy_catalog::SqlType;

use super::{signature_error, text, RowFn};
use crate::value::Value;

pub const NAMES: &[&str] = &[
    "CHR",
    "CONCAT_WS",
    "ELT",
    "FIELD",
    "INITCAP",
    "INSTR",
    "LPAD",
    "MASK",
    "MASK_KEEP_LEFT",
    "MASK_KEEP_RIGHT",
    "MASK_LEFT",
    "MASK_RIGHT",
    "REGEXP_EXTRACT",
    "REGEXP_EXTRACT_ALL",
    "REGEXP_REPLACE",
    "REGEXP_SPLIT_TO_ARRAY",
    "REPLACE",
    "RPAD",
    "SPLIT",
];

type Found = Option<Result<(RowFn, SqlType), String>>;

fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i as i64),
        Value::Bigint(i) => Some(*i),
        _ => None,
    }
}

pub fn resolve(name: &str, args: &[SqlType]) -> Found {
    use SqlType::{Int, String as S};
    let strings = |n: usize| args.len() == n && args.iter().all(|t| *t == S);
    let ok = |f: RowFn, t: SqlType| Some(Ok((f, t)));
    let bad = || Some(Err(signature_error(name, args)));
    match name {
        "INITCAP" if strings(1) => ok(initcap, S),
        "REPLACE" if strings(3) => ok(replace, S),
        "SPLIT" if strings(2) => ok(split, SqlType::Array(Box::new(S))),
        "SPLIT" if args == [SqlType::Bytes, SqlType::Bytes] => {
            ok(split_bytes, SqlType::Array(Box::new(SqlType::Bytes)))
        }
        "CONCAT_WS" if args.len() >= 2 && args.iter().all(|t| *t == S) => ok(concat_ws, S),
        "INSTR" => match args {
            [S, S] | [S, S, Int] | [S, S, Int, Int] => ok(instr, Int),
            _ => bad(),
        },
        "LPAD" | "RPAD" => match args {
            [S, Int, S] => ok(if name == "LPAD" { lpad } else { rpad }, S),
            _ => bad(),
        },
        "CHR" => match args {
            [Int] | [S] => ok(chr, S),
            _ => bad(),
        },
        "MASK" if !args.is_empty() && args.len() <= 5 && args.iter().all(|t| *t == S) => ok(mask, S),
        "MASK_KEEP_LEFT" | "MASK_KEEP_RIGHT" | "MASK_LEFT" | "MASK_RIGHT" => match args {
            [S, Int] | [S, Int, S] | [S, Int, S, S] | [S, Int, S, S, S] | [S, Int, S, S, S, S] => ok(
                match name {
                    "MASK_KEEP_LEFT" => mask_keep_left,
                    "MASK_KEEP_RIGHT" => mask_keep_right,
                    "MASK_LEFT" => mask_left,
                    _ => mask_right,
                },
                S,
            ),
            _ => bad(),
        },
        "ELT" => match args.split_first() {
            Some((Int, rest)) if rest.iter().all(|t| *t == S) => ok(elt, S),
            _ => bad(),
        },
        "FIELD" if !args.is_empty() && args.iter().all(|t| *t == S) => ok(field, Int),
        "REGEXP_EXTRACT" => match args {
            [S, S] | [S, S, Int] => ok(regexp_extract, S),
            _ => bad(),
        },
        "REGEXP_EXTRACT_ALL" => match args {
            [S, S] | [S, S, Int] => ok(regexp_extract_all, SqlType::Array(Box::new(S))),
            _ => bad(),
        },
        "REGEXP_REPLACE" if strings(3) => ok(regexp_replace, S),
        "REGEXP_SPLIT_TO_ARRAY" if strings(2) => ok(regexp_split, SqlType::Array(Box::new(S))),
        n if NAMES.contains(&n) => bad(),
        _ => None,
    }
}

fn initcap(a: &[Value]) -> Result<Value, String> {
    let Some(s) = text(&a[0]) else { return Ok(Value::Null) };
    let mut out = String::with_capacity(s.len());
    let mut start = true;
    for c in s.chars() {
        if c.is_whitespace() {
            start = true;
            out.push(c);
        } else if start {
            out.extend(c.to_uppercase());
            start = false;
        } else {
            out.extend(c.to_lowercase());
        }
    }
    Ok(Value::String(out))
}

fn replace(a: &[Value]) -> Result<Value, String> {
    Ok(match (text(&a[0]), text(&a[1]), text(&a[2])) {
        (Some(s), Some(old), Some(new)) => Value::String(s.replace(old, new)),
        _ => Value::Null,
    })
}

fn split(a: &[Value]) -> Result<Value, String> {
    let (Some(s), Some(d)) = (text(&a[0]), text(&a[1])) else { return Ok(Value::Null) };
    let parts: Vec<Value> = if d.is_empty() {
        s.chars().map(|c| Value::String(c.to_string())).collect()
    } else {
        s.split(d).map(|p| Value::String(p.to_string())).collect()
    };
    Ok(Value::Array(parts))
}

/// SPLIT of bytes by a delimiter of bytes; an empty delimiter splits into single bytes.
fn split_bytes(a: &[Value]) -> Result<Value, String> {
    let (Value::Bytes(b), Value::Bytes(d)) = (&a[0], &a[1]) else { return Ok(Value::Null) };
    if d.is_empty() {
        return Ok(Value::Array(b.iter().map(|x| Value::Bytes(vec![*x])).collect()));
    }
    let mut parts = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i + d.len() <= b.len() {
        if b[i..i + d.len()] == d[..] {
            parts.push(Value::Bytes(b[start..i].to_vec()));
            i += d.len();
            start = i;
        } else {
            i += 1;
        }
    }
    parts.push(Value::Bytes(b[start..].to_vec()));
    Ok(Value::Array(parts))
}

fn concat_ws(a: &[Value]) -> Result<Value, String> {
    let Some(sep) = text(&a[0]) else { return Ok(Value::Null) };
    let parts: Vec<&str> = a[1..].iter().filter_map(text).collect();
    Ok(Value::String(parts.join(sep)))
}

/// INSTR(string, substring[, position[, occurrence]]): 1-based, 0 when absent; a negative position searches backwards.
fn instr(a: &[Value]) -> Result<Value, String> {
    let (Some(s), Some(sub)) = (text(&a[0]), text(&a[1])) else { return Ok(Value::Null) };
    let position = a.get(2).and_then(int).unwrap_or(1);
    let occurrence = a.get(3).and_then(int).unwrap_or(1).max(1);
    let chars: Vec<char> = s.chars().collect();
    let needle: Vec<char> = sub.chars().collect();
    let n = chars.len() as i64;
    let matches_at = |i: usize| chars.get(i..i + needle.len()).is_some_and(|w| w == needle.as_slice());
    let mut found = 0;
    if position >= 0 {
        let start = (position.max(1) - 1) as usize;
        for i in start..chars.len() {
            if matches_at(i) {
                found += 1;
                if found == occurrence {
                    return Ok(Value::Int(i as i32 + 1));
                }
            }
        }
    } else {
        let start = n + position;
        let mut i = start;
        while i >= 0 {
            if matches_at(i as usize) {
                found += 1;
                if found == occurrence {
                    return Ok(Value::Int(i as i32 + 1));
                }
            }
            i -= 1;
        }
    }
    Ok(Value::Int(0))
}

/// Most characters a function may build from a length its arguments give (LPAD, RPAD): a
/// larger request is an error, not gigabytes allocated for one value. Default 16 Mi; the server
/// sets it from its configuration (`eddy.limit.function.string.chars`).
pub static MAX_BUILT_STRING_CHARS: AtomicUsize = AtomicUsize::new(16 << 20);

/// The most elements a function builds into one collection from a count argument (the SQL engine's
/// `array_repeat`, `range`, `generate_series`). Default 16 Mi
/// (`eddy.limit.function.collection.elements`).
pub static MAX_BUILT_ELEMENTS: AtomicUsize = AtomicUsize::new(16 << 20);

fn pad(a: &[Value], left: bool) -> Result<Value, String> {
    let (Some(s), Some(len), Some(p)) = (text(&a[0]), int(&a[1]), text(&a[2])) else { return Ok(Value::Null) };
    if len < 0 || p.is_empty() {
        return Ok(Value::Null);
    }
    let most = MAX_BUILT_STRING_CHARS.load(Ordering::Relaxed);
    if len as usize > most {
        return Err(format!(
            "{} to {len} characters exceeds the limit of {most} characters per value",
            if left { "LPAD" } else { "RPAD" }
        ));
    }
    let len = len as usize;
    let chars: Vec<char> = s.chars().collect();
    if chars.len() >= len {
        return Ok(Value::String(chars[..len].iter().collect()));
    }
    let fill: String = p.chars().cycle().take(len - chars.len()).collect();
    Ok(Value::String(if left { format!("{fill}{s}") } else { format!("{s}{fill}") }))
}

fn lpad(a: &[Value]) -> Result<Value, String> {
    pad(a, true)
}

fn rpad(a: &[Value]) -> Result<Value, String> {
    pad(a, false)
}

fn chr(a: &[Value]) -> Result<Value, String> {
    Ok(match &a[0] {
        Value::Int(code) => char::from_u32(*code as u32).map(|c| Value::String(c.to_string())).unwrap_or(Value::Null),
        Value::String(s) => {
            let hex = s.strip_prefix("\\u").or_else(|| s.strip_prefix("U+")).unwrap_or(s);
            u32::from_str_radix(hex, 16)
                .ok()
                .and_then(char::from_u32)
                .map(|c| Value::String(c.to_string()))
                .unwrap_or(Value::Null)
        }
        _ => Value::Null,
    })
}

/// Masking characters: upper, lower, digit, other (NULL keeps the character).
fn mask_chars(a: &[Value]) -> [Option<char>; 4] {
    let pick = |i: usize, d: char| match a.get(i) {
        None => Some(d),
        Some(Value::String(s)) => s.chars().next(),
        Some(_) => None,
    };
    [pick(0, 'X'), pick(1, 'x'), pick(2, 'n'), pick(3, '-')]
}

fn mask_char(c: char, m: &[Option<char>; 4]) -> char {
    let slot = if c.is_uppercase() {
        m[0]
    } else if c.is_lowercase() {
        m[1]
    } else if c.is_ascii_digit() {
        m[2]
    } else {
        m[3]
    };
    slot.unwrap_or(c)
}

fn mask_range(a: &[Value], from_masks: usize, masked: impl Fn(usize, usize) -> bool) -> Result<Value, String> {
    let Some(s) = text(&a[0]) else { return Ok(Value::Null) };
    let m = mask_chars(&a[from_masks..]);
    let n = s.chars().count();
    Ok(Value::String(s.chars().enumerate().map(|(i, c)| if masked(i, n) { mask_char(c, &m) } else { c }).collect()))
}

fn mask(a: &[Value]) -> Result<Value, String> {
    mask_range(a, 1, |_, _| true)
}

fn count(a: &[Value]) -> Option<usize> {
    int(&a[1]).map(|n| n.max(0) as usize)
}

fn mask_keep_left(a: &[Value]) -> Result<Value, String> {
    let Some(k) = count(a) else { return Ok(Value::Null) };
    mask_range(a, 2, |i, _| i >= k)
}

fn mask_keep_right(a: &[Value]) -> Result<Value, String> {
    let Some(k) = count(a) else { return Ok(Value::Null) };
    mask_range(a, 2, |i, n| i + k < n)
}

fn mask_left(a: &[Value]) -> Result<Value, String> {
    let Some(k) = count(a) else { return Ok(Value::Null) };
    mask_range(a, 2, |i, _| i < k)
}

fn mask_right(a: &[Value]) -> Result<Value, String> {
    let Some(k) = count(a) else { return Ok(Value::Null) };
    mask_range(a, 2, |i, n| i + k >= n)
}

fn elt(a: &[Value]) -> Result<Value, String> {
    let Some(n) = int(&a[0]) else { return Ok(Value::Null) };
    Ok(if n >= 1 { a.get(n as usize).cloned().unwrap_or(Value::Null) } else { Value::Null })
}

fn field(a: &[Value]) -> Result<Value, String> {
    let Some(s) = text(&a[0]) else { return Ok(Value::Int(0)) };
    Ok(Value::Int(a[1..].iter().position(|v| text(v) == Some(s)).map(|i| i as i32 + 1).unwrap_or(0)))
}

fn regex(pattern: &str) -> Result<regex::Regex, String> {
    regex::Regex::new(pattern).map_err(|e| format!("invalid regular expression: {e}"))
}

fn regexp_extract(a: &[Value]) -> Result<Value, String> {
    let (Some(p), Some(s)) = (text(&a[0]), text(&a[1])) else { return Ok(Value::Null) };
    let group = a.get(2).and_then(int).unwrap_or(0) as usize;
    Ok(regex(p)?
        .captures(s)
        .and_then(|c| c.get(group))
        .map(|m| Value::String(m.as_str().to_string()))
        .unwrap_or(Value::Null))
}

fn regexp_extract_all(a: &[Value]) -> Result<Value, String> {
    let (Some(p), Some(s)) = (text(&a[0]), text(&a[1])) else { return Ok(Value::Null) };
    let group = a.get(2).and_then(int).unwrap_or(0) as usize;
    let re = regex(p)?;
    Ok(Value::Array(
        re.captures_iter(s)
            .map(|c| c.get(group).map(|m| Value::String(m.as_str().to_string())).unwrap_or(Value::Null))
            .collect(),
    ))
}

fn regexp_replace(a: &[Value]) -> Result<Value, String> {
    let (Some(s), Some(p), Some(r)) = (text(&a[0]), text(&a[1]), text(&a[2])) else { return Ok(Value::Null) };
    // Java's $1 group references read the same in the regex crate.
    Ok(Value::String(regex(p)?.replace_all(s, r).into_owned()))
}

fn regexp_split(a: &[Value]) -> Result<Value, String> {
    let (Some(s), Some(p)) = (text(&a[0]), text(&a[1])) else { return Ok(Value::Null) };
    Ok(Value::Array(regex(p)?.split(s).map(|x| Value::String(x.to_string())).collect()))
}
