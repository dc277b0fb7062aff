//! ksqlDB's "magic" timestamps: a string compared with ROWTIME, WINDOWSTART or WINDOWEND is read as a
//! point in time (`'2018'`, `'2018-01-01T00:00:00.001'`, with an optional `Z` or `+hhmm`/`-hh:mm`
//! offset; UTC when none) and becomes its epoch milliseconds.

use chrono::{FixedOffset, NaiveDateTime, TimeZone};
use eddy_parser::fold_ident;
use sqlparser::ast::{self as sql, BinaryOperator};

use crate::error::{PlanError, Result};

/// The columns whose comparisons with strings read the strings as timestamps.
const TIME_COLUMNS: [&str; 3] = ["ROWTIME", "WINDOWSTART", "WINDOWEND"];

fn is_time_column(e: &sql::Expr) -> bool {
    let name = match e {
        sql::Expr::Identifier(i) => fold_ident(i),
        sql::Expr::CompoundIdentifier(parts) => parts.last().map(fold_ident).unwrap_or_default(),
        _ => return false,
    };
    TIME_COLUMNS.contains(&name.as_str())
}

fn string_literal(e: &sql::Expr) -> Option<&str> {
    match e {
        sql::Expr::Value(v) => match &v.value {
            sql::Value::SingleQuotedString(s) => Some(s),
            _ => None,
        },
        _ => None,
    }
}

/// Epoch milliseconds of a (possibly partial) ISO-8601 timestamp.
pub(crate) fn parse_time_literal(text: &str) -> Option<i64> {
    let text = text.trim();
    // Split off an offset: `Z`, or a sign after the date (position 10 on).
    let (local, offset) = if let Some(rest) = text.strip_suffix('Z') {
        (rest, 0)
    } else {
        match text.char_indices().skip(10).find(|(_, c)| *c == '+' || *c == '-') {
            Some((at, sign)) => {
                let digits: String = text[at + 1..].chars().filter(|c| *c != ':').collect();
                if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                let minutes = digits[..2].parse::<i32>().ok()? * 60 + digits[2..].parse::<i32>().ok()?;
                (&text[..at], if sign == '-' { -minutes } else { minutes })
            }
            None => (text, 0),
        }
    };
    // Complete the missing parts from the start of the year.
    const TEMPLATE: &str = "0000-01-01T00:00:00.000";
    if local.len() < 4 || local.len() > TEMPLATE.len() {
        return None;
    }
    let full = format!("{local}{}", &TEMPLATE[local.len()..]);
    let naive = NaiveDateTime::parse_from_str(&full, "%Y-%m-%dT%H:%M:%S%.3f").ok()?;
    let zone = FixedOffset::east_opt(offset * 60)?;
    zone.from_local_datetime(&naive).single().map(|t| t.timestamp_millis())
}

fn millis_literal(text: &str) -> Result<sql::Expr> {
    let ms = parse_time_literal(text).ok_or_else(|| {
        PlanError::new(format!("Failed to parse timestamp '{text}': expected yyyy-MM-ddTHH:mm:ss.SSS[+hhmm]"))
    })?;
    Ok(sql::Expr::Value(sql::Value::Number(ms.to_string(), false).into()))
}

/// Rewrites string literals compared with ROWTIME / WINDOWSTART / WINDOWEND (also in BETWEEN) into
/// their epoch milliseconds.
pub(crate) fn rewrite_time_literals(e: &sql::Expr) -> Result<sql::Expr> {
    let mut e = e.clone();
    let mut failed = None;
    let _ = sql::visit_expressions_mut(&mut e, |x: &mut sql::Expr| {
        let result = match x {
            sql::Expr::BinaryOp {
                left,
                op:
                    BinaryOperator::Gt
                    | BinaryOperator::Lt
                    | BinaryOperator::GtEq
                    | BinaryOperator::LtEq
                    | BinaryOperator::Eq
                    | BinaryOperator::NotEq,
                right,
            } => {
                if let (true, Some(s)) = (is_time_column(left), string_literal(right)) {
                    millis_literal(s).map(|m| **right = m)
                } else if let (Some(s), true) = (string_literal(left), is_time_column(right)) {
                    millis_literal(s).map(|m| **left = m)
                } else {
                    Ok(())
                }
            }
            sql::Expr::Between { expr, low, high, .. } if is_time_column(expr) => {
                let mut r = Ok(());
                for bound in [low, high] {
                    if let Some(s) = string_literal(bound) {
                        match millis_literal(s) {
                            Ok(m) => **bound = m,
                            Err(e) => r = Err(e),
                        }
                    }
                }
                r
            }
            _ => Ok(()),
        };
        match result {
            Ok(()) => std::ops::ControlFlow::Continue(()),
            Err(err) => {
                failed = Some(err);
                std::ops::ControlFlow::Break(())
            }
        }
    });
    match failed {
        Some(err) => Err(err),
        None => Ok(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_timestamps_and_offsets() {
        assert_eq!(parse_time_literal("2018"), Some(1_514_764_800_000));
        assert_eq!(parse_time_literal("2018-01-01T00:00:00.001"), Some(1_514_764_800_001));
        assert_eq!(parse_time_literal("2018-01-01T00:00:01"), Some(1_514_764_801_000));
        assert_eq!(parse_time_literal("2020-02-10T08:31:44.001+0000"), Some(1_581_323_504_001));
        assert_eq!(parse_time_literal("2019-01-01T00:00:00+0445"), Some(1_546_300_800_000 - 17_100_000));
        assert_eq!(parse_time_literal("2019-01-01T00:00:00Z"), Some(1_546_300_800_000));
        assert_eq!(parse_time_literal("2019-01-01T00:00:00-01:30"), Some(1_546_300_800_000 + 5_400_000));
        assert_eq!(parse_time_literal("yesterday"), None);
        assert_eq!(parse_time_literal("201"), None);
    }
}
