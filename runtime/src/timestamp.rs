//! Timestamp text parsing with Java-style `TIMESTAMP_FORMAT` patterns.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

use crate::error::{Result, RuntimeError};

/// Parses `text` with a Java `DateTimeFormatter` pattern (or ISO-8601 without one) to epoch ms (UTC).
pub fn parse_timestamp(text: &str, java_format: Option<&str>) -> Result<i64> {
    let bad = |why: &str| RuntimeError::Serde(format!("Failed to parse timestamp '{text}': {why}"));
    let Some(java) = java_format else {
        let t = text.trim_end_matches('Z');
        for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S%.f"] {
            if let Ok(dt) = NaiveDateTime::parse_from_str(t, fmt) {
                return Ok(dt.and_utc().timestamp_millis());
            }
        }
        if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
            return Ok(d.and_time(NaiveTime::MIN).and_utc().timestamp_millis());
        }
        return Err(bad("not an ISO-8601 timestamp"));
    };
    let fmt = java_to_strftime(java);
    // chrono's %z does not read the `Z` that Java's X pattern accepts for UTC.
    let owned;
    // Java's formatters read case-insensitively here (`z` too).
    let text = if fmt.contains("%z") && (text.ends_with('Z') || text.ends_with('z')) {
        owned = format!("{}+0000", &text[..text.len() - 1]);
        owned.as_str()
    } else {
        text
    };
    if let Ok(dt) = chrono::DateTime::parse_from_str(text, &fmt) {
        return Ok(dt.timestamp_millis());
    }
    if let Ok(dt) = NaiveDateTime::parse_from_str(text, &fmt) {
        return Ok(dt.and_utc().timestamp_millis());
    }
    if let Ok(d) = NaiveDate::parse_from_str(text, &fmt) {
        return Ok(d.and_time(NaiveTime::MIN).and_utc().timestamp_millis());
    }
    Err(bad(&format!("does not match '{java}'")))
}

/// Translates the common Java pattern letters to chrono's strftime.
pub fn java_to_strftime(java: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = java.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            i += 1;
            while i < chars.len() && chars[i] != '\'' {
                if chars[i] == '%' {
                    out.push('%');
                }
                out.push(chars[i]);
                i += 1;
            }
            i += 1;
            continue;
        }
        let mut n = 1;
        while i + n < chars.len() && chars[i + n] == c {
            n += 1;
        }
        let piece = match (c, n) {
            ('y', 2) | ('u', 2) => "%y".to_string(),
            ('y', _) | ('u', _) => "%Y".to_string(),
            ('M', 1) | ('M', 2) => "%m".to_string(),
            ('M', 3) => "%b".to_string(),
            ('M', _) => "%B".to_string(),
            ('d', _) => "%d".to_string(),
            ('H', _) => "%H".to_string(),
            ('h', _) => "%I".to_string(),
            ('m', _) => "%M".to_string(),
            ('s', _) => "%S".to_string(),
            ('S', _) => "%3f".to_string(),
            ('a', _) => "%p".to_string(),
            ('X', _) | ('x', _) | ('Z', _) => "%z".to_string(),
            ('z', 1..=3) => "%Z".to_string(),
            ('%', _) => "%%".repeat(n),
            ('E', 1..=3) => "%a".to_string(),
            ('E', _) => "%A".to_string(),
            _ => c.to_string().repeat(n),
        };
        // `.SSS` in Java is the fraction digits only; chrono's %3f already excludes the dot.
        out.push_str(&piece);
        i += n;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_java_patterns() {
        assert_eq!(parse_timestamp("2018-05-11 21:58:33.123", Some("yyyy-MM-dd HH:mm:ss.SSS")).unwrap(), 1526075913123);
        assert_eq!(parse_timestamp("1970-01-01T00:00:01", None).unwrap(), 1000);
        assert!(parse_timestamp("nope", Some("yyyy")).is_err());
    }
}
