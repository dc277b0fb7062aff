//! Date and time functions: arithmetic in a time unit (DATEADD, TIMESUB, TIMESTAMPADD, ...), parsing
//! and formatting with Java `DateTimeFormatter` patterns (PARSE_DATE, FORMAT_TIMESTAMP, ...), time
//! zones by name (CONVERT_TZ) and the epoch conversions (UNIX_TIMESTAMP, FROM_UNIXTIME, ...).

use std::fmt::Write as _;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use eddy_catalog::SqlType;

use super::{signature_error_lowercase, text, RowFn};
use crate::timestamp::java_to_strftime;
use crate::value::Value;

pub const NAMES: &[&str] = &[
    "CONVERT_TZ",
    "DATEADD",
    "DATESUB",
    "DATETOSTRING",
    "FORMAT_DATE",
    "FORMAT_TIME",
    "FORMAT_TIMESTAMP",
    "FROM_DAYS",
    "FROM_UNIXTIME",
    "PARSE_DATE",
    "PARSE_TIME",
    "PARSE_TIMESTAMP",
    "STRINGTODATE",
    "STRINGTOTIMESTAMP",
    "TIMEADD",
    "TIMESTAMPADD",
    "TIMESTAMPSUB",
    "TIMESTAMPTOSTRING",
    "TIMESUB",
    "UNIX_DATE",
    "UNIX_TIMESTAMP",
];

const DAY_MS: i64 = 86_400_000;

/// Whether a function's first argument is a time unit (`DATEADD(DAYS, 1, d)`).
pub fn takes_time_unit(name: &str) -> bool {
    matches!(name, "DATEADD" | "DATESUB" | "TIMEADD" | "TIMESUB" | "TIMESTAMPADD" | "TIMESTAMPSUB")
}

/// Milliseconds in one of a time unit, by its name (ksqlDB's units; sub-millisecond ones count 0).
pub fn time_unit_millis(unit: &str) -> Option<i64> {
    Some(match unit {
        "NANOSECONDS" | "MICROSECONDS" => 0,
        "MILLISECONDS" => 1,
        "SECONDS" => 1_000,
        "MINUTES" => 60_000,
        "HOURS" => 3_600_000,
        "DAYS" => DAY_MS,
        _ => return None,
    })
}

type Found = Option<Result<(RowFn, SqlType), String>>;

pub fn resolve(name: &str, args: &[SqlType]) -> Found {
    use SqlType::{Bigint, Date, Int, String as S, Time, Timestamp};
    let ok = |f: RowFn, t: SqlType| Some(Ok((f, t)));
    let count = |t: &SqlType| matches!(t, Int | Bigint);
    match (name, args) {
        ("DATEADD" | "DATESUB", [S, n, Date]) if count(n) => {
            ok(if name == "DATEADD" { date_add } else { date_sub }, Date)
        }
        ("TIMEADD" | "TIMESUB", [S, n, Time]) if count(n) => {
            ok(if name == "TIMEADD" { time_add } else { time_sub }, Time)
        }
        ("TIMESTAMPADD" | "TIMESTAMPSUB", [S, n, Timestamp]) if count(n) => {
            ok(if name == "TIMESTAMPADD" { timestamp_add } else { timestamp_sub }, Timestamp)
        }
        ("PARSE_DATE", [S, S]) => ok(parse_date, Date),
        ("STRINGTODATE", [S, S]) => ok(parse_date_days, Int),
        ("PARSE_TIME", [S, S]) => ok(parse_time, Time),
        ("PARSE_TIMESTAMP", [S, S] | [S, S, S]) => ok(parse_timestamp, Timestamp),
        ("STRINGTOTIMESTAMP", [S, S] | [S, S, S]) => ok(parse_timestamp_millis, Bigint),
        ("FORMAT_DATE", [Date, S]) | ("DATETOSTRING", [Int, S]) => ok(format_date, S),
        ("FORMAT_TIME", [Time, S]) => ok(format_time, S),
        ("FORMAT_TIMESTAMP", [Timestamp, S] | [Timestamp, S, S])
        | ("TIMESTAMPTOSTRING", [Bigint, S] | [Bigint, S, S]) => ok(format_timestamp, S),
        ("CONVERT_TZ", [Timestamp, S, S]) => ok(convert_tz, Timestamp),
        ("FROM_UNIXTIME", [Bigint]) => ok(from_unixtime, Timestamp),
        ("FROM_DAYS", [Int]) => ok(from_days, Date),
        ("UNIX_TIMESTAMP", []) => ok(now_millis, Bigint),
        ("UNIX_TIMESTAMP", [Timestamp]) => ok(epoch_millis, Bigint),
        ("UNIX_DATE", []) => ok(today, Int),
        ("UNIX_DATE", [Date]) => ok(epoch_days, Int),
        (n, _) if NAMES.contains(&n) => Some(Err(signature_error_lowercase(n, args))),
        _ => None,
    }
}

/// An integer, or the number a DATE, TIME or TIMESTAMP is stored as.
fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) | Value::Date(i) | Value::Time(i) => Some(*i as i64),
        Value::Bigint(i) | Value::Timestamp(i) => Some(*i),
        _ => None,
    }
}

/// The unit, count and value of a unit-arithmetic call: the count in milliseconds (negated to
/// subtract); None when any is NULL.
fn shift(a: &[Value], sign: i64) -> Result<Option<(i64, i64)>, String> {
    let (Some(unit), Some(n), Some(v)) = (text(&a[0]), int(&a[1]), int(&a[2])) else { return Ok(None) };
    let per = time_unit_millis(unit).ok_or_else(|| format!("Unknown time unit {unit}"))?;
    let ms = n.checked_mul(per).and_then(|m| m.checked_mul(sign)).ok_or("interval out of range")?;
    Ok(Some((ms, v)))
}

fn date_shift(a: &[Value], sign: i64) -> Result<Value, String> {
    Ok(match shift(a, sign)? {
        // Whole days only, as Java's TimeUnit.toDays truncates.
        Some((ms, days)) => Value::Date(i32::try_from(days + ms / DAY_MS).map_err(|_| "date out of range")?),
        None => Value::Null,
    })
}

fn date_add(a: &[Value]) -> Result<Value, String> {
    date_shift(a, 1)
}

fn date_sub(a: &[Value]) -> Result<Value, String> {
    date_shift(a, -1)
}

/// Times wrap around midnight.
fn time_shift(a: &[Value], sign: i64) -> Result<Value, String> {
    Ok(match shift(a, sign)? {
        Some((ms, t)) => Value::Time((t + ms).rem_euclid(DAY_MS) as i32),
        None => Value::Null,
    })
}

fn time_add(a: &[Value]) -> Result<Value, String> {
    time_shift(a, 1)
}

fn time_sub(a: &[Value]) -> Result<Value, String> {
    time_shift(a, -1)
}

fn timestamp_shift(a: &[Value], sign: i64) -> Result<Value, String> {
    Ok(match shift(a, sign)? {
        Some((ms, t)) => Value::Timestamp(t.checked_add(ms).ok_or("timestamp out of range")?),
        None => Value::Null,
    })
}

fn timestamp_add(a: &[Value]) -> Result<Value, String> {
    timestamp_shift(a, 1)
}

fn timestamp_sub(a: &[Value]) -> Result<Value, String> {
    timestamp_shift(a, -1)
}

fn zone(name: &str) -> Result<Tz, String> {
    name.parse::<Tz>().map_err(|_| format!("Unknown time zone: {name}"))
}

/// Formats with a Java pattern; a pattern chrono cannot render is an error, not a panic.
fn render(value: impl std::fmt::Display) -> Result<String, String> {
    let mut out = String::new();
    write!(out, "{value}").map_err(|_| "Invalid format pattern".to_string())?;
    Ok(out)
}

fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()
}

fn parse_day(a: &[Value]) -> Result<Option<i32>, String> {
    let (Some(s), Some(pattern)) = (text(&a[0]), text(&a[1])) else { return Ok(None) };
    let fmt = java_to_strftime(pattern);
    // Fields the pattern lacks default as Java's defaulting formatter has them: day 1, month 1.
    let date = NaiveDate::parse_from_str(s, &fmt)
        .or_else(|_| NaiveDate::parse_from_str(&format!("{s} 1"), &format!("{fmt} %d")))
        .or_else(|_| NaiveDate::parse_from_str(&format!("{s} 1 1"), &format!("{fmt} %m %d")))
        .map_err(|e| format!("Failed to parse date '{s}' with formatter '{pattern}': {e}"))?;
    Ok(Some((date - epoch()).num_days() as i32))
}

fn parse_date(a: &[Value]) -> Result<Value, String> {
    Ok(parse_day(a)?.map(Value::Date).unwrap_or(Value::Null))
}

fn parse_date_days(a: &[Value]) -> Result<Value, String> {
    Ok(parse_day(a)?.map(Value::Int).unwrap_or(Value::Null))
}

fn parse_time(a: &[Value]) -> Result<Value, String> {
    let (Some(s), Some(pattern)) = (text(&a[0]), text(&a[1])) else { return Ok(Value::Null) };
    let time = NaiveTime::parse_from_str(s, &java_to_strftime(pattern))
        .map_err(|e| format!("Failed to parse time '{s}' with formatter '{pattern}': {e}"))?;
    Ok(Value::Time((time - NaiveTime::MIN).num_milliseconds() as i32))
}

/// Milliseconds of a text timestamp read with a pattern, in a zone (UTC by default) unless the text
/// names its offset.
fn parse_millis(a: &[Value]) -> Result<Option<i64>, String> {
    let (Some(s), Some(pattern)) = (text(&a[0]), text(&a[1])) else { return Ok(None) };
    let tz = match a.get(2) {
        Some(Value::String(z)) => Some(zone(z)?),
        Some(_) => return Ok(None),
        None => None,
    };
    let fmt = java_to_strftime(pattern);
    if fmt.contains("%z") || fmt.contains("%Z") {
        return crate::timestamp::parse_timestamp(s, Some(pattern)).map(Some).map_err(|e| e.to_string());
    }
    let naive = NaiveDateTime::parse_from_str(s, &fmt)
        .or_else(|_| NaiveDate::parse_from_str(s, &fmt).map(|d| d.and_time(NaiveTime::MIN)))
        .map_err(|e| format!("Failed to parse timestamp '{s}' with formatter '{pattern}': {e}"))?;
    Ok(Some(match tz {
        None => naive.and_utc().timestamp_millis(),
        Some(tz) => tz
            .from_local_datetime(&naive)
            .earliest()
            .ok_or_else(|| format!("{s} does not exist in {tz}"))?
            .timestamp_millis(),
    }))
}

fn parse_timestamp(a: &[Value]) -> Result<Value, String> {
    Ok(parse_millis(a)?.map(Value::Timestamp).unwrap_or(Value::Null))
}

fn parse_timestamp_millis(a: &[Value]) -> Result<Value, String> {
    Ok(parse_millis(a)?.map(Value::Bigint).unwrap_or(Value::Null))
}

fn format_date(a: &[Value]) -> Result<Value, String> {
    let (Some(days), Some(pattern)) = (int(&a[0]), text(&a[1])) else { return Ok(Value::Null) };
    let date = epoch().checked_add_signed(chrono::Duration::days(days)).ok_or("date out of range")?;
    render(date.format(&java_to_strftime(pattern))).map(Value::String)
}

fn format_time(a: &[Value]) -> Result<Value, String> {
    let (Some(ms), Some(pattern)) = (int(&a[0]), text(&a[1])) else { return Ok(Value::Null) };
    let time = NaiveTime::MIN + chrono::Duration::milliseconds(ms.rem_euclid(DAY_MS));
    render(time.format(&java_to_strftime(pattern))).map(Value::String)
}

fn utc(ms: i64) -> Result<DateTime<Utc>, String> {
    DateTime::from_timestamp_millis(ms).ok_or_else(|| format!("timestamp {ms} out of range"))
}

fn format_timestamp(a: &[Value]) -> Result<Value, String> {
    let (Some(ms), Some(pattern)) = (int(&a[0]), text(&a[1])) else { return Ok(Value::Null) };
    let fmt = java_to_strftime(pattern);
    let at = utc(ms)?;
    let text = match a.get(2) {
        Some(Value::String(z)) => render(at.with_timezone(&zone(z)?).format(&fmt))?,
        Some(_) => return Ok(Value::Null),
        None => render(at.format(&fmt))?,
    };
    Ok(Value::String(text))
}

/// The same wall-clock time moved from one zone to another.
fn convert_tz(a: &[Value]) -> Result<Value, String> {
    let (Some(ms), Some(from), Some(to)) = (int(&a[0]), text(&a[1]), text(&a[2])) else { return Ok(Value::Null) };
    let (from, to) = (zone(from)?, zone(to)?);
    let wall = utc(ms)?.naive_utc();
    let instant =
        from.from_local_datetime(&wall).earliest().ok_or_else(|| format!("{wall} does not exist in {from}"))?;
    Ok(Value::Timestamp(instant.with_timezone(&to).naive_local().and_utc().timestamp_millis()))
}

fn from_unixtime(a: &[Value]) -> Result<Value, String> {
    Ok(int(&a[0]).map(Value::Timestamp).unwrap_or(Value::Null))
}

fn from_days(a: &[Value]) -> Result<Value, String> {
    Ok(match int(&a[0]) {
        Some(d) => Value::Date(i32::try_from(d).map_err(|_| "date out of range")?),
        None => Value::Null,
    })
}

fn now_millis(_: &[Value]) -> Result<Value, String> {
    Ok(Value::Bigint(Utc::now().timestamp_millis()))
}

fn epoch_millis(a: &[Value]) -> Result<Value, String> {
    Ok(int(&a[0]).map(Value::Bigint).unwrap_or(Value::Null))
}

fn today(_: &[Value]) -> Result<Value, String> {
    Ok(Value::Int((Utc::now().date_naive() - epoch()).num_days() as i32))
}

fn epoch_days(a: &[Value]) -> Result<Value, String> {
    Ok(int(&a[0]).map(|d| Value::Int(d as i32)).unwrap_or(Value::Null))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Value {
        Value::String(v.to_string())
    }

    #[test]
    fn unit_arithmetic_keeps_each_type() {
        assert_eq!(date_add(&[s("DAYS"), Value::Int(10), Value::Date(10)]), Ok(Value::Date(20)));
        assert_eq!(date_sub(&[s("DAYS"), Value::Int(10), Value::Date(5)]), Ok(Value::Date(-5)));
        assert_eq!(date_add(&[s("MILLISECONDS"), Value::Int(5), Value::Date(5)]), Ok(Value::Date(5)));
        assert_eq!(time_sub(&[s("MILLISECONDS"), Value::Int(10), Value::Time(5)]), Ok(Value::Time(86_399_995)));
        assert_eq!(time_sub(&[s("MILLISECONDS"), Value::Int(-5), Value::Time(86_399_997)]), Ok(Value::Time(2)));
        assert_eq!(
            timestamp_sub(&[s("MILLISECONDS"), Value::Int(-5), Value::Timestamp(-100)]),
            Ok(Value::Timestamp(-95))
        );
        assert_eq!(timestamp_add(&[s("HOURS"), Value::Null, Value::Timestamp(1)]), Ok(Value::Null));
        assert!(timestamp_add(&[s("HOURS"), Value::Bigint(i64::MAX), Value::Timestamp(1)]).is_err());
    }

    #[test]
    fn java_patterns_parse_and_format() {
        assert_eq!(parse_date(&[s("2018-05-11Lit"), s("yyyy-MM-dd'Lit'")]), Ok(Value::Date(17662)));
        assert_eq!(parse_date(&[s("01-Jan-2022"), s("dd-MMM-yyyy")]), Ok(Value::Date(18993)));
        assert_eq!(parse_date(&[s("JAN-2022"), s("MMM-yyyy")]), Ok(Value::Date(18993)));
        assert_eq!(parse_date(&[s("2022"), s("yyyy")]), Ok(Value::Date(18993)));
        assert_eq!(parse_time(&[s("01:00:00 PM"), s("hh:mm:ss a")]), Ok(Value::Time(46_800_000)));
        assert_eq!(
            parse_timestamp(&[s("2018-05-11T21:58:33Z"), s("yyyy-MM-dd'T'HH:mm:ssX")]),
            Ok(Value::Timestamp(1526075913000))
        );
        assert_eq!(
            parse_timestamp(&[s("2018-05-11 14:58:33"), s("yyyy-MM-dd HH:mm:ss"), s("America/Los_Angeles")]),
            Ok(Value::Timestamp(1526075913000))
        );
        assert_eq!(format_date(&[Value::Date(18027), s("dd/MM/yyyy")]), Ok(s("11/05/2019")));
        assert_eq!(format_time(&[Value::Time(1_234_567), s("HHmmss'AAAAA'")]), Ok(s("002034AAAAA")));
        assert_eq!(format_time(&[Value::Time(65_000), s("HH_mm_ss_SSS")]), Ok(s("00_01_05_000")));
        assert_eq!(
            format_timestamp(&[
                Value::Timestamp(1526075913000),
                s("yyyy-MM-dd HH:mm:ss zzz"),
                s("America/Los_Angeles")
            ]),
            Ok(s("2018-05-11 14:58:33 PDT"))
        );
        assert!(parse_date(&[s("nope"), s("yyyy")]).is_err());
        assert!(format_timestamp(&[Value::Timestamp(0), s("yyyy"), s("Mars/Olympus")]).is_err());
        assert_eq!(format_date(&[Value::Date(0), s("'100%' yyyy")]), Ok(s("100% 1970")));
    }

    #[test]
    fn zones_convert_wall_clock_times() {
        let la_to_ny = |ms| convert_tz(&[Value::Timestamp(ms), s("America/Los_Angeles"), s("America/New_York")]);
        assert_eq!(la_to_ny(100), Ok(Value::Timestamp(10_800_100)));
        assert_eq!(la_to_ny(1589234313000), Ok(Value::Timestamp(1589245113000)));
    }
}
