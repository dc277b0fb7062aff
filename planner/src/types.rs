//! ksqlDB's type rules: numeric widening, decimal arithmetic precision, comparability.

use eddy_catalog::SqlType;

/// The decimal form of an integral or decimal type.
pub fn as_decimal(ty: &SqlType) -> Option<(u8, u8)> {
    match ty {
        SqlType::Int => Some((10, 0)),
        SqlType::Bigint => Some((19, 0)),
        SqlType::Decimal { precision, scale } => Some((*precision, *scale)),
        _ => None,
    }
}

/// The type two numeric operands are widened to: INT < BIGINT < DECIMAL < DOUBLE.
pub fn wider_numeric(a: &SqlType, b: &SqlType) -> Option<SqlType> {
    if !a.is_numeric() || !b.is_numeric() {
        return None;
    }
    Some(match (a, b) {
        (SqlType::Double, _) | (_, SqlType::Double) => SqlType::Double,
        (SqlType::Decimal { .. }, _) | (_, SqlType::Decimal { .. }) => {
            let (p1, s1) = as_decimal(a)?;
            let (p2, s2) = as_decimal(b)?;
            let scale = s1.max(s2);
            let precision = ((p1 - s1).max(p2 - s2) + scale).min(38);
            SqlType::Decimal { precision, scale }
        }
        (SqlType::Bigint, _) | (_, SqlType::Bigint) => SqlType::Bigint,
        _ => SqlType::Int,
    })
}

/// Result type of decimal arithmetic, as ksqlDB computes it.
pub fn decimal_arithmetic(op: char, a: (u8, u8), b: (u8, u8)) -> SqlType {
    let (p1, s1) = (a.0 as i32, a.1 as i32);
    let (p2, s2) = (b.0 as i32, b.1 as i32);
    let (precision, scale) = match op {
        '+' | '-' => {
            let scale = s1.max(s2);
            ((p1 - s1).max(p2 - s2) + scale + 1, scale)
        }
        '*' => (p1 + p2 + 1, s1 + s2),
        '/' => {
            let scale = 6.max(s1 + p2 + 1);
            (p1 - s1 + s2 + scale, scale)
        }
        _ => ((p1 - s1).min(p2 - s2) + s1.max(s2), s1.max(s2)),
    };
    let precision = precision.clamp(1, 38);
    SqlType::Decimal { precision: precision as u8, scale: scale.clamp(0, precision) as u8 }
}

/// The common type two values are compared (or combined in CASE/IN) as, if they are comparable.
pub fn common_type(a: &SqlType, b: &SqlType) -> Option<SqlType> {
    if a == b {
        return Some(a.clone());
    }
    if let Some(t) = wider_numeric(a, b) {
        return Some(t);
    }
    match (a, b) {
        (SqlType::Array(x), SqlType::Array(y)) => Some(SqlType::Array(Box::new(common_type(x, y)?))),
        (SqlType::Map(k1, v1), SqlType::Map(k2, v2)) => {
            Some(SqlType::Map(Box::new(common_type(k1, k2)?), Box::new(common_type(v1, v2)?)))
        }
        (SqlType::Struct(f1), SqlType::Struct(f2)) if f1.len() == f2.len() => {
            let fields = f1
                .iter()
                .zip(f2)
                .map(|((n1, t1), (n2, t2))| if n1 == n2 { common_type(t1, t2).map(|t| (n1.clone(), t)) } else { None })
                .collect::<Option<Vec<_>>>()?;
            Some(SqlType::Struct(fields))
        }
        (SqlType::Timestamp, SqlType::String) | (SqlType::String, SqlType::Timestamp) => Some(SqlType::Timestamp),
        (SqlType::Date, SqlType::String) | (SqlType::String, SqlType::Date) => Some(SqlType::Date),
        (SqlType::Time, SqlType::String) | (SqlType::String, SqlType::Time) => Some(SqlType::Time),
        _ => None,
    }
}
