//! ksqlDB's SQL types as written in statements (`INT`, `DECIMAL(4,2)`, `ARRAY<STRING>`, ...).

use std::fmt;

/// A ksqlDB SQL type.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum SqlType {
    Boolean,
    Int,
    Bigint,
    Double,
    Decimal { precision: u8, scale: u8 },
    String,
    Bytes,
    Date,
    Time,
    Timestamp,
    Array(Box<SqlType>),
    Map(Box<SqlType>, Box<SqlType>),
    Struct(Vec<(String, SqlType)>),
}

impl SqlType {
    /// True for INT, BIGINT, DECIMAL and DOUBLE.
    pub fn is_numeric(&self) -> bool {
        matches!(self, Self::Int | Self::Bigint | Self::Double | Self::Decimal { .. })
    }

    /// True for types that can be a Kafka primitive (KAFKA format) value.
    pub fn is_primitive(&self) -> bool {
        !matches!(self, Self::Array(_) | Self::Map(..) | Self::Struct(_) | Self::Decimal { .. })
    }

    /// Looks a simple type up by its ksqlDB name (case-insensitive), with aliases.
    pub fn from_simple_name(name: &str) -> Option<Self> {
        Some(match name.to_ascii_uppercase().as_str() {
            "BOOLEAN" | "BOOL" => Self::Boolean,
            "INT" | "INTEGER" => Self::Int,
            "BIGINT" => Self::Bigint,
            "DOUBLE" => Self::Double,
            "STRING" | "VARCHAR" => Self::String,
            "BYTES" => Self::Bytes,
            "DATE" => Self::Date,
            "TIME" => Self::Time,
            "TIMESTAMP" => Self::Timestamp,
            _ => return None,
        })
    }
}

impl fmt::Display for SqlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Boolean => f.write_str("BOOLEAN"),
            Self::Int => f.write_str("INTEGER"),
            Self::Bigint => f.write_str("BIGINT"),
            Self::Double => f.write_str("DOUBLE"),
            Self::Decimal { precision, scale } => write!(f, "DECIMAL({precision}, {scale})"),
            Self::String => f.write_str("STRING"),
            Self::Bytes => f.write_str("BYTES"),
            Self::Date => f.write_str("DATE"),
            Self::Time => f.write_str("TIME"),
            Self::Timestamp => f.write_str("TIMESTAMP"),
            Self::Array(item) => write!(f, "ARRAY<{item}>"),
            Self::Map(k, v) => write!(f, "MAP<{k}, {v}>"),
            Self::Struct(fields) => {
                f.write_str("STRUCT<")?;
                for (i, (name, ty)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "`{name}` {ty}")?;
                }
                f.write_str(">")
            }
        }
    }
}
