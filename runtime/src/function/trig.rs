//! Floating-point math: EXP, LN, LOG, SQRT, CBRT, POWER, trigonometry, DEGREES, RADIANS, SIGN, PI, RANDOM,
//! GEO_DISTANCE.

use eddy_catalog::SqlType;

use super::{signature_error, RowFn};
use crate::value::Value;

pub const NAMES: &[&str] = &[
    "ACOS",
    "ASIN",
    "ATAN",
    "ATAN2",
    "CBRT",
    "COS",
    "COSH",
    "COT",
    "DEGREES",
    "EXP",
    "GEO_DISTANCE",
    "LN",
    "LOG",
    "PI",
    "POWER",
    "RADIANS",
    "RANDOM",
    "SIGN",
    "SIN",
    "SINH",
    "SQRT",
    "TAN",
    "TANH",
];

type Found = Option<Result<(RowFn, SqlType), String>>;

fn double(v: &Value) -> Option<f64> {
    match v {
        Value::Double(d) => Some(*d),
        Value::Int(i) => Some(*i as f64),
        Value::Bigint(i) => Some(*i as f64),
        _ => None,
    }
}

macro_rules! unary {
    ($f:expr) => {
        (|a: &[Value]| Ok(double(&a[0]).map(|x| Value::Double($f(x))).unwrap_or(Value::Null))) as RowFn
    };
}

pub fn resolve(name: &str, args: &[SqlType]) -> Found {
    let unary: Option<RowFn> = match name {
        "EXP" => Some(unary!(f64::exp)),
        "LN" => Some(unary!(f64::ln)),
        "SQRT" => Some(unary!(f64::sqrt)),
        "CBRT" => Some(unary!(f64::cbrt)),
        "ACOS" => Some(unary!(f64::acos)),
        "ASIN" => Some(unary!(f64::asin)),
        "ATAN" => Some(unary!(f64::atan)),
        "COS" => Some(unary!(f64::cos)),
        "COSH" => Some(unary!(f64::cosh)),
        "SIN" => Some(unary!(f64::sin)),
        "SINH" => Some(unary!(f64::sinh)),
        "TAN" => Some(unary!(f64::tan)),
        "TANH" => Some(unary!(f64::tanh)),
        "COT" => Some(unary!(|x: f64| 1.0 / x.tan())),
        "DEGREES" => Some(unary!(f64::to_degrees)),
        "RADIANS" => Some(unary!(f64::to_radians)),
        _ => None,
    };
    if let Some(f) = unary {
        return Some(match args {
            [SqlType::Double] => Ok((f, SqlType::Double)),
            _ => Err(signature_error(name, args)),
        });
    }
    match name {
        "LOG" => Some(match args {
            [SqlType::Double] => Ok((unary!(f64::ln), SqlType::Double)),
            [SqlType::Double, SqlType::Double] => Ok((log_base as RowFn, SqlType::Double)),
            _ => Err(signature_error(name, args)),
        }),
        "POWER" => Some(match args {
            [SqlType::Double, SqlType::Double] => Ok((power as RowFn, SqlType::Double)),
            _ => Err(signature_error(name, args)),
        }),
        "ATAN2" => Some(match args {
            [SqlType::Double, SqlType::Double] => Ok((atan2 as RowFn, SqlType::Double)),
            _ => Err(signature_error(name, args)),
        }),
        "SIGN" => Some(match args {
            [SqlType::Int | SqlType::Bigint | SqlType::Double] => Ok((sign as RowFn, SqlType::Int)),
            _ => Err(signature_error(name, args)),
        }),
        "PI" => Some(match args {
            [] => Ok(((|_: &[Value]| Ok(Value::Double(std::f64::consts::PI))) as RowFn, SqlType::Double)),
            _ => Err(signature_error(name, args)),
        }),
        "GEO_DISTANCE" => Some(match args {
            [SqlType::Double, SqlType::Double, SqlType::Double, SqlType::Double]
            | [SqlType::Double, SqlType::Double, SqlType::Double, SqlType::Double, SqlType::String] => {
                Ok((geo_distance as RowFn, SqlType::Double))
            }
            _ => Err(signature_error(name, args)),
        }),
        "RANDOM" => Some(match args {
            [] => Ok((random as RowFn, SqlType::Double)),
            _ => Err(signature_error(name, args)),
        }),
        _ => None,
    }
}

/// LOG(base, value): NaN and infinities where the logarithm has no finite value, as Java's Math.log.
fn log_base(a: &[Value]) -> Result<Value, String> {
    let (Some(base), Some(x)) = (double(&a[0]), double(&a[1])) else { return Ok(Value::Null) };
    if base <= 0.0 || base == 1.0 {
        // ksqlDB's LOG has no base there (where the quotient would read as 0 or infinity).
        return Ok(Value::Double(f64::NAN));
    }
    Ok(Value::Double(x.ln() / base.ln()))
}

fn power(a: &[Value]) -> Result<Value, String> {
    Ok(match (double(&a[0]), double(&a[1])) {
        (Some(b), Some(e)) => Value::Double(b.powf(e)),
        _ => Value::Null,
    })
}

fn atan2(a: &[Value]) -> Result<Value, String> {
    Ok(match (double(&a[0]), double(&a[1])) {
        (Some(y), Some(x)) => Value::Double(y.atan2(x)),
        _ => Value::Null,
    })
}

fn sign(a: &[Value]) -> Result<Value, String> {
    Ok(match double(&a[0]) {
        Some(x) if x > 0.0 => Value::Int(1),
        Some(x) if x < 0.0 => Value::Int(-1),
        Some(_) => Value::Int(0),
        None => Value::Null,
    })
}

/// GEO_DISTANCE(lat1, lon1, lat2, lon2[, 'KM'|'MI']): the great-circle distance (haversine) in
/// kilometers (the default) or miles.
fn geo_distance(a: &[Value]) -> Result<Value, String> {
    let coords: Option<Vec<f64>> = a[..4].iter().map(double).collect();
    let Some(c) = coords else { return Ok(Value::Null) };
    for (lat, lon) in [(c[0], c[1]), (c[2], c[3])] {
        if !(-90.0..=90.0).contains(&lat) {
            return Err(
                "valid latitude values for GeoDistance function are in the range of -90 to 90 decimal degrees".into()
            );
        }
        if !(-180.0..=180.0).contains(&lon) {
            return Err(
                "valid longitude values for GeoDistance function are in the range of -180 to +180 decimal degrees"
                    .into(),
            );
        }
    }
    let radius = match a.get(4) {
        None | Some(Value::Null) => 6371.0,
        Some(Value::String(unit)) if unit.to_lowercase().starts_with("km") => 6371.0,
        Some(Value::String(unit)) if unit.to_lowercase().starts_with("mi") => 3959.0,
        Some(_) => return Err("GeoDistance function requires a valid radius unit of 'KM' or 'MI'".into()),
    };
    let (lat1, lat2) = (c[0].to_radians(), c[2].to_radians());
    let (dlat, dlon) = ((c[2] - c[0]).to_radians(), (c[3] - c[1]).to_radians());
    let h = (dlat / 2.0).sin().powi(2) + (dlon / 2.0).sin().powi(2) * lat1.cos() * lat2.cos();
    Ok(Value::Double(2.0 * h.sqrt().asin() * radius))
}

fn random(_: &[Value]) -> Result<Value, String> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static STATE: AtomicU64 = AtomicU64::new(0x2545_f491_4f6c_dd1d);
    // xorshift: a fast, seedless generator; RANDOM() makes no quality promise.
    let mut x = STATE.load(Ordering::Relaxed);
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    STATE.store(x, Ordering::Relaxed);
    Ok(Value::Double((x >> 11) as f64 / (1u64 << 53) as f64))
}
