//! SQL types as Postgres types (OIDs), and values encoded into data rows in text or binary.

use std::sync::Arc;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use eddy_catalog::SqlType;
use eddy_runtime::format::value_to_json;
use eddy_runtime::{decimal_to_string, Value};
use pgwire::api::results::{DataRowEncoder, FieldInfo};
use pgwire::api::Type;
use pgwire::error::PgWireResult;
use pgwire::messages::data::DataRow;

/// The Postgres type that carries a SQL type; nested types travel as JSON.
pub fn pg_type(ty: &SqlType) -> Type {
    match ty {
        SqlType::Boolean => Type::BOOL,
        SqlType::Int => Type::INT4,
        SqlType::Bigint => Type::INT8,
        SqlType::Double => Type::FLOAT8,
        SqlType::Decimal { .. } => Type::NUMERIC,
        SqlType::String => Type::VARCHAR,
        SqlType::Bytes => Type::BYTEA,
        SqlType::Date => Type::DATE,
        SqlType::Time => Type::TIME,
        SqlType::Timestamp => Type::TIMESTAMP,
        SqlType::Array(_) | SqlType::Map(..) | SqlType::Struct(_) => Type::JSON,
    }
}

/// Encodes one row of values of the given types.
pub fn encode_row(fields: &Arc<Vec<FieldInfo>>, types: &[SqlType], row: &[Value]) -> PgWireResult<DataRow> {
    let mut encoder = DataRowEncoder::new(fields.clone());
    for (ty, value) in types.iter().zip(row) {
        encode_value(&mut encoder, ty, value)?;
    }
    Ok(encoder.take_row())
}

fn encode_value(encoder: &mut DataRowEncoder, ty: &SqlType, value: &Value) -> PgWireResult<()> {
    match (ty, value) {
        (SqlType::Boolean, Value::Boolean(b)) => encoder.encode_field(b),
        (SqlType::Int, Value::Int(v)) => encoder.encode_field(v),
        (SqlType::Bigint, Value::Bigint(v)) => encoder.encode_field(v),
        (SqlType::Double, Value::Double(v)) => encoder.encode_field(v),
        (SqlType::Decimal { scale, .. }, Value::Decimal(v)) => {
            match rust_decimal::Decimal::try_from_i128_with_scale(*v, *scale as u32) {
                Ok(d) => encoder.encode_field(&d),
                // Beyond rust_decimal's 28 digits: fall back to text.
                Err(_) => encoder.encode_field(&decimal_to_string(*v, *scale)),
            }
        }
        (SqlType::String, Value::String(s)) => encoder.encode_field(s),
        (SqlType::Bytes, Value::Bytes(b)) => encoder.encode_field(b),
        (SqlType::Date, Value::Date(d)) => {
            let date = NaiveDate::from_ymd_opt(1970, 1, 1)
                .and_then(|e| e.checked_add_signed(chrono::Duration::days(*d as i64)));
            encoder.encode_field(&date)
        }
        (SqlType::Time, Value::Time(t)) => {
            let time =
                NaiveTime::from_num_seconds_from_midnight_opt((*t / 1000) as u32, ((*t % 1000) * 1_000_000) as u32);
            encoder.encode_field(&time)
        }
        (SqlType::Timestamp, Value::Timestamp(t)) => {
            let ts: Option<NaiveDateTime> = chrono::DateTime::from_timestamp_millis(*t).map(|d| d.naive_utc());
            encoder.encode_field(&ts)
        }
        (SqlType::Array(_) | SqlType::Map(..) | SqlType::Struct(_), v) if !v.is_null() => {
            encoder.encode_field(&value_to_json(v, ty))
        }
        (_, Value::Null) => encoder.encode_field(&None::<i32>),
        // A value of another type than declared (should not happen): send it as text.
        (_, other) => encoder.encode_field(&other.to_string()),
    }
}
