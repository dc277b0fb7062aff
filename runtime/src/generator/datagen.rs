//! The `datagen` connector's rows: each column drawn at random from its type, within a range given by
//! `DATAGEN_RANGES='COL:lo..hi, ...'` (numbers: the values; STRING and BYTES: the length). Row `i` is
//! the same for a seed, whatever was generated before it.

use eddy_catalog::SqlType;

use super::connector::GeneratedRow;
use super::random::Random;
use crate::error::{Result, RuntimeError};
use crate::value::Value;

/// Event time of row 0 (2023-11-14T22:13:20Z); rows are 1 ms apart.
const BASE_TIME_MS: i64 = 1_700_000_000_000;
const DAY_MS: f64 = 86_400_000.0;

/// How a column is drawn.
#[derive(Debug, Clone, PartialEq)]
struct ColumnGen {
    ty: SqlType,
    /// Inclusive bounds for integers and lengths, `[lo, hi)` for doubles; None: the type's default.
    range: Option<(f64, f64)>,
}

/// Generates rows for the given columns.
#[derive(Debug, Clone, PartialEq)]
pub struct Datagen {
    columns: Vec<ColumnGen>,
    seed: u64,
}

fn invalid(message: String) -> RuntimeError {
    RuntimeError::Unsupported(message)
}

/// `COL:lo..hi, COL2:lo..hi`.
fn parse_ranges(text: &str) -> Result<Vec<(String, f64, f64)>> {
    text.split(',')
        .filter(|part| !part.trim().is_empty())
        .map(|part| {
            let bad = || invalid(format!("Invalid DATAGEN_RANGES entry '{}': expected COLUMN:low..high", part.trim()));
            let (column, range) = part.split_once(':').ok_or_else(bad)?;
            let (lo, hi) = range.split_once("..").ok_or_else(bad)?;
            let (lo, hi): (f64, f64) = (lo.trim().parse().map_err(|_| bad())?, hi.trim().parse().map_err(|_| bad())?);
            if !lo.is_finite() || !hi.is_finite() || lo > hi {
                return Err(bad());
            }
            Ok((column.trim().trim_matches('`').to_string(), lo, hi))
        })
        .collect()
}

impl Datagen {
    /// A generator for `columns` (keys first); `ranges` as `DATAGEN_RANGES` gives them.
    pub fn new(columns: &[(String, SqlType)], ranges: Option<&str>, seed: u64) -> Result<Self> {
        let ranges = ranges.map(parse_ranges).transpose()?.unwrap_or_default();
        for (name, _, _) in &ranges {
            if !columns.iter().any(|(c, _)| c.eq_ignore_ascii_case(name)) {
                return Err(invalid(format!("DATAGEN_RANGES names `{name}`, which is not a column of the stream")));
            }
        }
        let columns = columns
            .iter()
            .map(|(name, ty)| {
                let range = ranges.iter().find(|(c, _, _)| c.eq_ignore_ascii_case(name)).map(|(_, lo, hi)| (*lo, *hi));
                if range.is_some() && !ranged(ty) {
                    return Err(invalid(format!("DATAGEN_RANGES cannot bound column `{name}` of type {ty}")));
                }
                Ok(ColumnGen { ty: ty.clone(), range })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { columns, seed })
    }

    /// Row `i`.
    pub fn row(&self, i: u64) -> GeneratedRow {
        let mut r = Random::for_event(self.seed, i);
        let values = self.columns.iter().map(|c| draw(&c.ty, c.range, &mut r)).collect();
        GeneratedRow { timestamp: BASE_TIME_MS + i as i64, values }
    }
}

/// Types a range applies to.
fn ranged(ty: &SqlType) -> bool {
    ty.is_primitive() && *ty != SqlType::Boolean || matches!(ty, SqlType::Decimal { .. })
}

/// An integer in `[lo, hi]`.
fn integer(r: &mut Random, lo: f64, hi: f64) -> i64 {
    let (lo, hi) = (lo.ceil() as i64, hi.floor() as i64);
    if hi <= lo {
        return lo;
    }
    lo.saturating_add(r.below(hi.abs_diff(lo).saturating_add(1)) as i64)
}

fn letters(r: &mut Random, len: usize) -> String {
    (0..len).map(|_| (b'a' + r.below(26) as u8) as char).collect()
}

fn draw(ty: &SqlType, range: Option<(f64, f64)>, r: &mut Random) -> Value {
    match ty {
        SqlType::Boolean => Value::Boolean(r.below(2) == 1),
        SqlType::Int => {
            let (lo, hi) = range.unwrap_or((0.0, 1000.0));
            Value::Int(integer(r, lo.max(i32::MIN as f64), hi.min(i32::MAX as f64)) as i32)
        }
        SqlType::Bigint => {
            let (lo, hi) = range.unwrap_or((0.0, 1000.0));
            Value::Bigint(integer(r, lo, hi))
        }
        SqlType::Double => {
            let (lo, hi) = range.unwrap_or((0.0, 1.0));
            Value::Double(lo + r.unit() * (hi - lo))
        }
        SqlType::Decimal { precision, scale } => {
            let limit = 10f64.powi((*precision - *scale) as i32);
            let (lo, hi) = range.unwrap_or((0.0, limit.min(1000.0)));
            let (lo, hi) = (lo.max(-limit), hi.min(limit));
            let factor = 10f64.powi(*scale as i32);
            Value::Decimal(integer(r, lo * factor, hi * factor - 1.0).into())
        }
        SqlType::String => {
            let (lo, hi) = range.unwrap_or((8.0, 8.0));
            let len = integer(r, lo.max(0.0), hi.max(0.0)) as usize;
            Value::String(letters(r, len))
        }
        SqlType::Bytes => {
            let (lo, hi) = range.unwrap_or((8.0, 8.0));
            let len = integer(r, lo.max(0.0), hi.max(0.0)) as usize;
            Value::Bytes((0..len).map(|_| r.below(256) as u8).collect())
        }
        SqlType::Timestamp => {
            let (lo, hi) = range.unwrap_or((BASE_TIME_MS as f64, BASE_TIME_MS as f64 + DAY_MS));
            Value::Timestamp(integer(r, lo, hi))
        }
        SqlType::Date => {
            let day = (BASE_TIME_MS / 86_400_000) as f64;
            let (lo, hi) = range.unwrap_or((day, day + 365.0));
            Value::Date(integer(r, lo, hi) as i32)
        }
        SqlType::Time => {
            let (lo, hi) = range.unwrap_or((0.0, DAY_MS - 1.0));
            Value::Time(integer(r, lo.max(0.0), hi.min(DAY_MS - 1.0)) as i32)
        }
        SqlType::Array(item) => Value::Array((0..r.below(4)).map(|_| draw(item, None, r)).collect()),
        SqlType::Map(k, v) => Value::Map((0..r.below(4)).map(|_| (draw(k, None, r), draw(v, None, r))).collect()),
        SqlType::Struct(fields) => Value::Struct(fields.iter().map(|(n, t)| (n.clone(), draw(t, None, r))).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_stay_in_their_ranges_and_repeat_for_a_seed() {
        let columns = vec![
            ("ID".to_string(), SqlType::Bigint),
            ("SCORE".to_string(), SqlType::Double),
            ("NAME".to_string(), SqlType::String),
            ("OK".to_string(), SqlType::Boolean),
            ("TAGS".to_string(), SqlType::Array(Box::new(SqlType::Int))),
        ];
        let gen = Datagen::new(&columns, Some("id:10..20, SCORE:-1..1, name:3..5"), 7).unwrap();
        for i in 0..500 {
            let row = gen.row(i);
            assert_eq!(row, gen.row(i));
            let [Value::Bigint(id), Value::Double(score), Value::String(name), Value::Boolean(_), Value::Array(_)] =
                row.values.as_slice()
            else {
                panic!("unexpected row {row:?}")
            };
            assert!((10..=20).contains(id), "{id}");
            assert!((-1.0..1.0).contains(score), "{score}");
            assert!((3..=5).contains(&name.len()), "{name}");
        }
        assert_ne!(gen.row(0), Datagen::new(&columns, None, 8).unwrap().row(0));
    }

    #[test]
    fn refuses_bad_ranges() {
        let columns = vec![("ID".to_string(), SqlType::Bigint), ("OK".to_string(), SqlType::Boolean)];
        let err = |ranges: &str| Datagen::new(&columns, Some(ranges), 0).unwrap_err().to_string();
        assert!(err("ID:5").contains("expected COLUMN:low..high"));
        assert!(err("ID:9..1").contains("expected COLUMN:low..high"));
        assert!(err("NOPE:1..2").contains("not a column"));
        assert!(err("OK:1..2").contains("cannot bound column `OK`"));
    }
}
