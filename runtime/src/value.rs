//! A single SQL value, the row-wise form formats read and write before values go columnar.

use std::fmt;

/// One SQL value of any ksqlDB type. Serializable for Eddy's internal topics (repartition records).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Value {
    Null,
    Boolean(bool),
    Int(i32),
    Bigint(i64),
    Double(f64),
    /// Unscaled value; the scale comes from the column's type.
    Decimal(i128),
    String(String),
    Bytes(Vec<u8>),
    /// Days since the epoch.
    Date(i32),
    /// Milliseconds since midnight.
    Time(i32),
    /// Milliseconds since the epoch.
    Timestamp(i64),
    Array(Vec<Value>),
    Map(Vec<(Value, Value)>),
    Struct(Vec<(String, Value)>),
}

impl Value {
    /// About how many bytes the value holds: its enum plus what its text, bytes or elements hold
    /// (for bounding results, not accounting exactly).
    pub fn approx_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + match self {
                Self::String(s) => s.len(),
                Self::Bytes(b) => b.len(),
                Self::Array(items) => items.iter().map(Self::approx_bytes).sum(),
                Self::Map(entries) => entries.iter().map(|(k, v)| k.approx_bytes() + v.approx_bytes()).sum(),
                Self::Struct(fields) => fields.iter().map(|(n, v)| n.len() + v.approx_bytes()).sum(),
                _ => 0,
            }
    }

    /// True for NULL.
    pub fn is_null(&self) -> bool {
        matches!(self, Self::Null)
    }
}

/// Renders a decimal's unscaled value with its scale: (12345, 2) -> "123.45".
pub fn decimal_to_string(unscaled: i128, scale: u8) -> String {
    if scale == 0 {
        return unscaled.to_string();
    }
    let negative = unscaled < 0;
    let digits = unscaled.unsigned_abs().to_string();
    let scale = scale as usize;
    let padded =
        if digits.len() <= scale { format!("{}{}", "0".repeat(scale - digits.len() + 1), digits) } else { digits };
    let (int, frac) = padded.split_at(padded.len() - scale);
    format!("{}{int}.{frac}", if negative { "-" } else { "" })
}

/// Parses decimal text to an unscaled value at `scale`, rounding half up; None if it is not a number
/// or does not fit `precision`.
pub fn parse_decimal(text: &str, precision: u8, scale: u8) -> Option<i128> {
    let text = text.trim();
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], body[i + 1..].parse::<i32>().ok()?),
        None => (body, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.is_empty() && frac.is_empty() || !int.chars().chain(frac.chars()).all(|c| c.is_ascii_digit()) {
        return None;
    }
    let mut digits: String = format!("{int}{frac}");
    // value = digits * 10^(exponent - frac.len()); we want value * 10^scale.
    let shift = exponent - frac.len() as i32 + scale as i32;
    let mut unscaled: i128 = if shift >= 0 {
        digits.push_str(&"0".repeat(shift as usize));
        digits.trim_start_matches('0').parse::<i128>().unwrap_or(0)
    } else {
        let cut = (-shift) as usize;
        if cut > digits.len() {
            0
        } else {
            let (keep, dropped) = digits.split_at(digits.len() - cut);
            let base = keep.trim_start_matches('0').parse::<i128>().unwrap_or(0);
            if dropped.starts_with(|c: char| c >= '5') {
                base + 1
            } else {
                base
            }
        }
    };
    if unscaled.unsigned_abs().to_string().len() > precision as usize {
        return None;
    }
    if negative {
        unscaled = -unscaled;
    }
    Some(unscaled)
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Null => f.write_str("NULL"),
            Self::Boolean(b) => write!(f, "{b}"),
            Self::Int(v) => write!(f, "{v}"),
            Self::Bigint(v) => write!(f, "{v}"),
            Self::Double(v) => write!(f, "{v}"),
            Self::Decimal(v) => write!(f, "{v}"),
            Self::String(s) => f.write_str(s),
            Self::Bytes(b) => write!(f, "{b:?}"),
            Self::Date(d) => write!(f, "{d}"),
            Self::Time(t) => write!(f, "{t}"),
            Self::Timestamp(t) => write!(f, "{t}"),
            Self::Array(items) => {
                f.write_str("[")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
            Self::Map(entries) => {
                f.write_str("{")?;
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}={v}")?;
                }
                f.write_str("}")
            }
            Self::Struct(fields) => {
                f.write_str("{")?;
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}={v}")?;
                }
                f.write_str("}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_round_trip_through_text() {
        assert_eq!(parse_decimal("12.345", 5, 2), Some(1235));
        assert_eq!(parse_decimal("-0.5", 3, 1), Some(-5));
        assert_eq!(parse_decimal("1e2", 5, 0), Some(100));
        assert_eq!(parse_decimal("123456", 4, 0), None);
        assert_eq!(parse_decimal("abc", 4, 0), None);
        assert_eq!(decimal_to_string(1235, 2), "12.35");
        assert_eq!(decimal_to_string(-5, 2), "-0.05");
        assert_eq!(decimal_to_string(7, 0), "7");
    }
}
