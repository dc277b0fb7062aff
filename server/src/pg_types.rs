//! Postgres types of Arrow and ksqlDB types: one mapping for result descriptions, parameters and
//! the catalog (`pg_attribute`, `information_schema.columns`), so a client sees the same type
//! whichever way it asks.
//!
//! ksqlDB types map to `bool`, `int4`, `int8`, `float8`, `numeric`, `text`, `bytea`, `date`,
//! `time`, `timestamp`; an ARRAY of those to the Postgres array of the element type; STRUCT, MAP and
//! arrays of them to `json` (their values travel as JSON text).

use arrow::datatypes::DataType;
use eddy_catalog::{arrow_type, SqlType};
use pgwire::api::Type;

/// The Postgres type of values of an Arrow type.
pub fn pg_type_of(dt: &DataType) -> Type {
    match dt {
        DataType::Null => Type::TEXT,
        DataType::Boolean => Type::BOOL,
        DataType::Int8 | DataType::Int16 | DataType::UInt8 => Type::INT2,
        DataType::Int32 | DataType::UInt16 => Type::INT4,
        DataType::Int64 | DataType::UInt32 => Type::INT8,
        DataType::UInt64
        | DataType::Decimal32(..)
        | DataType::Decimal64(..)
        | DataType::Decimal128(..)
        | DataType::Decimal256(..) => Type::NUMERIC,
        DataType::Float16 | DataType::Float32 => Type::FLOAT4,
        DataType::Float64 => Type::FLOAT8,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Type::TEXT,
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView | DataType::FixedSizeBinary(_) => Type::BYTEA,
        DataType::Date32 | DataType::Date64 => Type::DATE,
        DataType::Time32(_) | DataType::Time64(_) => Type::TIME,
        DataType::Timestamp(_, None) => Type::TIMESTAMP,
        DataType::Timestamp(_, Some(_)) => Type::TIMESTAMPTZ,
        DataType::Interval(_) | DataType::Duration(_) => Type::INTERVAL,
        DataType::Dictionary(_, value) => pg_type_of(value),
        DataType::List(item) | DataType::LargeList(item) | DataType::FixedSizeList(item, _) => {
            array_of(&pg_type_of(item.data_type())).unwrap_or(Type::JSON)
        }
        _ => Type::JSON,
    }
}

/// The Postgres type of a ksqlDB type.
pub fn pg_type(ty: &SqlType) -> Type {
    pg_type_of(&arrow_type(ty))
}

/// The array type of an element type, for the element types arrays are sent as.
pub fn array_of(element: &Type) -> Option<Type> {
    Some(match *element {
        Type::BOOL => Type::BOOL_ARRAY,
        Type::INT2 => Type::INT2_ARRAY,
        Type::INT4 => Type::INT4_ARRAY,
        Type::INT8 => Type::INT8_ARRAY,
        Type::FLOAT4 => Type::FLOAT4_ARRAY,
        Type::FLOAT8 => Type::FLOAT8_ARRAY,
        Type::NUMERIC => Type::NUMERIC_ARRAY,
        Type::TEXT => Type::TEXT_ARRAY,
        Type::BYTEA => Type::BYTEA_ARRAY,
        Type::DATE => Type::DATE_ARRAY,
        Type::TIME => Type::TIME_ARRAY,
        Type::TIMESTAMP => Type::TIMESTAMP_ARRAY,
        Type::TIMESTAMPTZ => Type::TIMESTAMPTZ_ARRAY,
        Type::INTERVAL => Type::INTERVAL_ARRAY,
        _ => return None,
    })
}

/// The SQL-standard name of a type, as `information_schema.columns.data_type` gives it.
pub fn standard_name(ty: &Type) -> &'static str {
    match *ty {
        Type::BOOL => "boolean",
        Type::INT2 => "smallint",
        Type::INT4 => "integer",
        Type::INT8 => "bigint",
        Type::FLOAT4 => "real",
        Type::FLOAT8 => "double precision",
        Type::NUMERIC => "numeric",
        Type::TEXT => "text",
        Type::VARCHAR => "character varying",
        Type::BYTEA => "bytea",
        Type::DATE => "date",
        Type::TIME => "time without time zone",
        Type::TIMESTAMP => "timestamp without time zone",
        Type::TIMESTAMPTZ => "timestamp with time zone",
        Type::INTERVAL => "interval",
        Type::JSON => "json",
        _ if matches!(ty.kind(), postgres_types::Kind::Array(_)) => "ARRAY",
        _ => "USER-DEFINED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ksql_types_as_postgres_types() {
        assert_eq!(pg_type(&SqlType::String), Type::TEXT);
        assert_eq!(pg_type(&SqlType::Int), Type::INT4);
        assert_eq!(pg_type(&SqlType::Decimal { precision: 4, scale: 2 }), Type::NUMERIC);
        assert_eq!(pg_type(&SqlType::Array(Box::new(SqlType::Bigint))), Type::INT8_ARRAY);
        assert_eq!(pg_type(&SqlType::Array(Box::new(SqlType::Array(Box::new(SqlType::Int))))), Type::JSON);
        assert_eq!(pg_type(&SqlType::Map(Box::new(SqlType::String), Box::new(SqlType::Int))), Type::JSON);
        assert_eq!(pg_type(&SqlType::Struct(vec![("A".into(), SqlType::Int)])), Type::JSON);
        assert_eq!(standard_name(&Type::INT8_ARRAY), "ARRAY");
    }
}
