//! How ksqlDB SQL types are held in Arrow arrays.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Fields, TimeUnit};

use crate::SqlType;

/// The Arrow type that holds values of a SQL type.
pub fn arrow_type(ty: &SqlType) -> DataType {
    match ty {
        SqlType::Boolean => DataType::Boolean,
        SqlType::Int => DataType::Int32,
        SqlType::Bigint => DataType::Int64,
        SqlType::Double => DataType::Float64,
        SqlType::Decimal { precision, scale } => DataType::Decimal128(*precision, *scale as i8),
        SqlType::String => DataType::Utf8,
        SqlType::Bytes => DataType::Binary,
        SqlType::Date => DataType::Date32,
        SqlType::Time => DataType::Time32(TimeUnit::Millisecond),
        SqlType::Timestamp => DataType::Timestamp(TimeUnit::Millisecond, None),
        SqlType::Array(item) => DataType::List(Arc::new(arrow_field("item", item))),
        SqlType::Map(k, v) => DataType::Map(
            Arc::new(Field::new(
                "entries",
                DataType::Struct(Fields::from(vec![Field::new("key", arrow_type(k), false), arrow_field("value", v)])),
                false,
            )),
            false,
        ),
        SqlType::Struct(fields) => {
            DataType::Struct(fields.iter().map(|(n, t)| arrow_field(n, t)).collect::<Vec<_>>().into())
        }
    }
}

/// A nullable Arrow field of a SQL type.
pub fn arrow_field(name: &str, ty: &SqlType) -> Field {
    Field::new(name, arrow_type(ty), true)
}

/// The SQL type of an Arrow type, where there is one.
pub fn sql_type_of(dt: &DataType) -> Option<SqlType> {
    Some(match dt {
        DataType::Boolean => SqlType::Boolean,
        DataType::Int8 | DataType::Int16 | DataType::Int32 => SqlType::Int,
        DataType::Int64 => SqlType::Bigint,
        DataType::Float32 | DataType::Float64 => SqlType::Double,
        DataType::Decimal128(p, s) => SqlType::Decimal { precision: *p, scale: (*s).max(0) as u8 },
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => SqlType::String,
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => SqlType::Bytes,
        DataType::Date32 => SqlType::Date,
        DataType::Time32(_) | DataType::Time64(_) => SqlType::Time,
        DataType::Timestamp(_, _) => SqlType::Timestamp,
        DataType::List(f) | DataType::LargeList(f) => SqlType::Array(Box::new(sql_type_of(f.data_type())?)),
        DataType::Map(entries, _) => match entries.data_type() {
            DataType::Struct(kv) if kv.len() == 2 => {
                SqlType::Map(Box::new(sql_type_of(kv[0].data_type())?), Box::new(sql_type_of(kv[1].data_type())?))
            }
            _ => return None,
        },
        DataType::Struct(fields) => SqlType::Struct(
            fields.iter().map(|f| Some((f.name().clone(), sql_type_of(f.data_type())?))).collect::<Option<_>>()?,
        ),
        DataType::Null => SqlType::String,
        _ => return None,
    })
}
