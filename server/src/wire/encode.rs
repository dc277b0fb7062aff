//! Result values as Postgres sends them, in text or binary as each column's format asks: Arrow
//! arrays (the SQL engine's results) and Eddy's row values, both typed by `pg_types`, into data
//! rows or COPY data.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{
    DataType, Date32Type, Date64Type, Decimal128Type, Float16Type, Float32Type, Float64Type, Int16Type, Int32Type,
    Int64Type, Int8Type, IntervalUnit, Schema, Time32MillisecondType, Time32SecondType, Time64MicrosecondType,
    Time64NanosecondType, TimeUnit, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow::record_batch::RecordBatch;
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike, Utc};
use eddy_catalog::{sql_type_of, SqlType};
use eddy_runtime::format::value_to_json;
use eddy_runtime::{array_value, decimal_to_string, Value};
use pg_interval::Interval;
use pgwire::api::portal::Format;
use pgwire::api::results::{CopyEncoder, DataRowEncoder, FieldFormat, FieldInfo};
use pgwire::api::Type;
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::data::DataRow;
use pgwire::types::format::FormatOptions;
use pgwire::types::ToSqlText;
use postgres_types::ToSql;

use crate::engine::ResultColumn;
use crate::pg_types::{pg_type, pg_type_of};

/// Where encoded fields go: a data row or COPY data.
pub trait FieldSink {
    fn put<T: ToSql + ToSqlText + Sized>(&mut self, value: &T) -> PgWireResult<()>;
    /// The DateStyle of the next field when it is sent as text (None: binary).
    fn text_style(&self) -> Option<&str>;
}

/// An encoder that knows which field comes next.
pub struct Fields<E> {
    pub encoder: E,
    fields: Arc<Vec<FieldInfo>>,
    next: usize,
}

impl<E> Fields<E> {
    /// An encoder of rows of `fields`.
    pub fn new(encoder: E, fields: Arc<Vec<FieldInfo>>) -> Self {
        Self { encoder, fields, next: 0 }
    }

    /// Starts the next row.
    pub fn restart(&mut self) {
        self.next = 0;
    }
}

impl FieldSink for Fields<DataRowEncoder> {
    fn put<T: ToSql + ToSqlText + Sized>(&mut self, value: &T) -> PgWireResult<()> {
        self.next += 1;
        self.encoder.encode_field(value)
    }

    fn text_style(&self) -> Option<&str> {
        let field = self.fields.get(self.next)?;
        (field.format() == FieldFormat::Text).then(|| field.format_options().date_style.as_str())
    }
}

impl FieldSink for Fields<CopyEncoder> {
    fn put<T: ToSql + ToSqlText + Sized>(&mut self, value: &T) -> PgWireResult<()> {
        self.next += 1;
        self.encoder.encode_field(value)
    }

    fn text_style(&self) -> Option<&str> {
        let field = self.fields.get(self.next)?;
        (field.format() == FieldFormat::Text).then(|| field.format_options().date_style.as_str())
    }
}

/// Fractional seconds as Postgres prints them: none when zero, else without trailing zeros.
fn fraction(micros: u32) -> String {
    if micros == 0 {
        return String::new();
    }
    let digits = format!(".{micros:06}");
    digits.trim_end_matches('0').to_string()
}

/// Dates and times in ISO style as Postgres prints them; other styles are pgwire's.
fn put_date<S: FieldSink>(sink: &mut S, date: Option<NaiveDate>) -> PgWireResult<()> {
    match (date, sink.text_style()) {
        (Some(d), Some(style)) if style.starts_with("ISO") => sink.put(&d.format("%Y-%m-%d").to_string()),
        _ => sink.put(&date),
    }
}

fn put_time<S: FieldSink>(sink: &mut S, time: Option<NaiveTime>) -> PgWireResult<()> {
    match (time, sink.text_style()) {
        (Some(t), Some(_)) => {
            let text = format!("{}{}", t.format("%H:%M:%S"), fraction(t.nanosecond() / 1000));
            sink.put(&text)
        }
        _ => sink.put(&time),
    }
}

fn put_timestamp<S: FieldSink>(sink: &mut S, ts: NaiveDateTime) -> PgWireResult<()> {
    match sink.text_style() {
        Some(style) if style.starts_with("ISO") => {
            let text = format!("{}{}", ts.format("%Y-%m-%d %H:%M:%S"), fraction(ts.nanosecond() / 1000));
            sink.put(&text)
        }
        _ => sink.put(&ts),
    }
}

fn put_timestamptz<S: FieldSink>(sink: &mut S, ts: DateTime<FixedOffset>) -> PgWireResult<()> {
    match sink.text_style() {
        Some(style) if style.starts_with("ISO") => {
            let offset = ts.offset().local_minus_utc();
            let (sign, offset) = if offset < 0 { ('-', -offset) } else { ('+', offset) };
            let zone = match offset % 3600 {
                0 => format!("{sign}{:02}", offset / 3600),
                rest => format!("{sign}{:02}:{:02}", offset / 3600, rest / 60),
            };
            let text = format!("{}{}{zone}", ts.format("%Y-%m-%d %H:%M:%S"), fraction(ts.nanosecond() / 1000));
            sink.put(&text)
        }
        _ => sink.put(&ts),
    }
}

/// Type modifier of a type with precision and scale (`numeric(p, s)`), else -1.
fn type_modifier(dt: &DataType) -> i32 {
    match dt {
        DataType::Decimal128(p, s) => ((*p as i32) << 16 | (*s as i32).max(0)) + 4,
        _ => -1,
    }
}

/// The fields of an Arrow schema.
pub fn schema_fields(schema: &Schema, format: &Format, options: &Arc<FormatOptions>) -> Arc<Vec<FieldInfo>> {
    Arc::new(
        schema
            .fields()
            .iter()
            .enumerate()
            .map(|(i, f)| {
                FieldInfo::new(f.name().clone(), None, None, pg_type_of(f.data_type()), format.format_for(i))
                    .with_type_modifier(type_modifier(f.data_type()))
                    .with_format_options(options.clone())
            })
            .collect(),
    )
}

/// The fields of Eddy's result columns.
pub fn column_fields(columns: &[ResultColumn], format: &Format, options: &Arc<FormatOptions>) -> Arc<Vec<FieldInfo>> {
    Arc::new(
        columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let dt = eddy_catalog::arrow_type(&c.ty);
                FieldInfo::new(c.name.clone(), None, None, pg_type(&c.ty), format.format_for(i))
                    .with_type_modifier(type_modifier(&dt))
                    .with_format_options(options.clone())
            })
            .collect(),
    )
}

/// The data rows of a batch.
pub fn batch_rows(fields: &Arc<Vec<FieldInfo>>, batch: &RecordBatch, zone: &Zone) -> PgWireResult<Vec<DataRow>> {
    let mut encoder = Fields::new(DataRowEncoder::new(fields.clone()), fields.clone());
    let mut rows = Vec::with_capacity(batch.num_rows());
    for row in 0..batch.num_rows() {
        encoder.restart();
        for (column, field) in batch.columns().iter().zip(fields.iter()) {
            encode_cell(&mut encoder, column, row, field.datatype(), zone)?;
        }
        rows.push(encoder.encoder.take_row());
    }
    Ok(rows)
}

/// One row of Eddy's values.
pub fn value_row(fields: &Arc<Vec<FieldInfo>>, types: &[SqlType], row: &[Value]) -> PgWireResult<DataRow> {
    let mut encoder = Fields::new(DataRowEncoder::new(fields.clone()), fields.clone());
    for (ty, value) in types.iter().zip(row) {
        encode_value(&mut encoder, ty, value)?;
    }
    Ok(encoder.encoder.take_row())
}

/// An Arrow cast whose failure is the client's error.
fn cast(array: &ArrayRef, to: &DataType) -> PgWireResult<ArrayRef> {
    arrow::compute::cast(array, to).map_err(|e| error(e.to_string()))
}

fn error(message: String) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new("ERROR".into(), "XX000".into(), message)))
}

/// The session's time zone, for `timestamptz` values.
#[derive(Debug, Clone)]
pub struct Zone(pub chrono_tz::Tz);

impl Zone {
    /// The zone `TimeZone` names (UTC when it names none chrono knows).
    pub fn named(name: &str) -> Self {
        Self(name.parse().unwrap_or(chrono_tz::UTC))
    }

    fn at(&self, utc: DateTime<Utc>) -> DateTime<FixedOffset> {
        self.0.from_utc_datetime(&utc.naive_utc()).fixed_offset()
    }
}

fn epoch_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()
}

fn micros(value: i64, unit: &TimeUnit) -> i64 {
    match unit {
        TimeUnit::Second => value.saturating_mul(1_000_000),
        TimeUnit::Millisecond => value.saturating_mul(1000),
        TimeUnit::Microsecond => value,
        TimeUnit::Nanosecond => value / 1000,
    }
}

fn naive_time(nanos: i64) -> Option<NaiveTime> {
    NaiveTime::from_num_seconds_from_midnight_opt((nanos / 1_000_000_000) as u32, (nanos % 1_000_000_000) as u32)
}

/// Encodes row `row` of `array` as Postgres type `ty`.
pub fn encode_cell<S: FieldSink>(
    sink: &mut S,
    array: &ArrayRef,
    row: usize,
    ty: &Type,
    zone: &Zone,
) -> PgWireResult<()> {
    if array.is_null(row) {
        return sink.put(&None::<i32>);
    }
    match array.data_type() {
        DataType::Null => sink.put(&None::<i32>),
        DataType::Boolean => sink.put(&array.as_boolean().value(row)),
        DataType::Int8 => sink.put(&(array.as_primitive::<Int8Type>().value(row) as i16)),
        DataType::Int16 => sink.put(&array.as_primitive::<Int16Type>().value(row)),
        DataType::UInt8 => sink.put(&(array.as_primitive::<UInt8Type>().value(row) as i16)),
        DataType::Int32 => sink.put(&array.as_primitive::<Int32Type>().value(row)),
        DataType::UInt16 => sink.put(&(array.as_primitive::<UInt16Type>().value(row) as i32)),
        DataType::Int64 => sink.put(&array.as_primitive::<Int64Type>().value(row)),
        DataType::UInt32 => sink.put(&(array.as_primitive::<UInt32Type>().value(row) as i64)),
        DataType::UInt64 => {
            let v = array.as_primitive::<UInt64Type>().value(row);
            sink.put(&rust_decimal::Decimal::from(v))
        }
        DataType::Float16 => sink.put(&array.as_primitive::<Float16Type>().value(row).to_f32()),
        DataType::Float32 => sink.put(&array.as_primitive::<Float32Type>().value(row)),
        DataType::Float64 => sink.put(&array.as_primitive::<Float64Type>().value(row)),
        DataType::Decimal128(_, scale) => {
            let v = array.as_primitive::<Decimal128Type>().value(row);
            encode_decimal(sink, v, (*scale).max(0) as u8)
        }
        DataType::Utf8 => sink.put(&array.as_string::<i32>().value(row)),
        DataType::LargeUtf8 => sink.put(&array.as_string::<i64>().value(row)),
        DataType::Utf8View => sink.put(&array.as_string_view().value(row)),
        DataType::Binary => sink.put(&array.as_binary::<i32>().value(row)),
        DataType::LargeBinary => sink.put(&array.as_binary::<i64>().value(row)),
        DataType::BinaryView => sink.put(&array.as_binary_view().value(row)),
        DataType::FixedSizeBinary(_) => sink.put(&array.as_fixed_size_binary().value(row)),
        DataType::Date32 => {
            let days = array.as_primitive::<Date32Type>().value(row);
            put_date(sink, epoch_date().checked_add_signed(chrono::Duration::days(days as i64)))
        }
        DataType::Date64 => {
            let ms = array.as_primitive::<Date64Type>().value(row);
            put_date(sink, DateTime::from_timestamp_millis(ms).map(|d| d.date_naive()))
        }
        DataType::Time32(TimeUnit::Second) => {
            let s = array.as_primitive::<Time32SecondType>().value(row) as i64;
            put_time(sink, naive_time(s * 1_000_000_000))
        }
        DataType::Time32(_) => {
            let ms = array.as_primitive::<Time32MillisecondType>().value(row) as i64;
            put_time(sink, naive_time(ms * 1_000_000))
        }
        DataType::Time64(TimeUnit::Microsecond) => {
            put_time(sink, naive_time(array.as_primitive::<Time64MicrosecondType>().value(row) * 1000))
        }
        DataType::Time64(_) => put_time(sink, naive_time(array.as_primitive::<Time64NanosecondType>().value(row))),
        DataType::Timestamp(unit, tz) => {
            let raw = cast(&array.slice(row, 1), &DataType::Int64)?;
            let us = micros(raw.as_primitive::<Int64Type>().value(0), unit);
            let utc =
                DateTime::from_timestamp_micros(us).ok_or_else(|| error(format!("timestamp out of range: {us}")))?;
            match tz {
                None => put_timestamp(sink, utc.naive_utc()),
                Some(_) => put_timestamptz(sink, zone.at(utc)),
            }
        }
        DataType::Interval(unit) => {
            let interval = match unit {
                IntervalUnit::YearMonth => {
                    Interval::new(array.as_primitive::<arrow::datatypes::IntervalYearMonthType>().value(row), 0, 0)
                }
                IntervalUnit::DayTime => {
                    let v = array.as_primitive::<arrow::datatypes::IntervalDayTimeType>().value(row);
                    Interval::new(0, v.days, v.milliseconds as i64 * 1000)
                }
                IntervalUnit::MonthDayNano => {
                    let v = array.as_primitive::<arrow::datatypes::IntervalMonthDayNanoType>().value(row);
                    Interval::new(v.months, v.days, v.nanoseconds / 1000)
                }
            };
            sink.put(&interval)
        }
        DataType::Duration(unit) => {
            let raw = cast(&array.slice(row, 1), &DataType::Int64)?;
            sink.put(&Interval::new(0, 0, micros(raw.as_primitive::<Int64Type>().value(0), unit)))
        }
        DataType::Dictionary(_, value_type) => {
            let values = cast(&array.slice(row, 1), value_type)?;
            encode_cell(sink, &values, 0, ty, zone)
        }
        DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..) if *ty != Type::JSON => {
            let items = match array.data_type() {
                DataType::List(_) => array.as_list::<i32>().value(row),
                DataType::LargeList(_) => array.as_list::<i64>().value(row),
                _ => array.as_fixed_size_list().value(row),
            };
            encode_list(sink, &items, ty, zone)
        }
        _ => {
            // Structs, maps and nested arrays travel as JSON.
            let json = match sql_type_of(array.data_type()) {
                Some(sql) => value_to_json(&array_value(array.as_ref(), row), &sql),
                None => serde_json::Value::String(
                    arrow::util::display::array_value_to_string(array, row).map_err(|e| error(e.to_string()))?,
                ),
            };
            sink.put(&json)
        }
    }
}

fn encode_decimal<S: FieldSink>(sink: &mut S, unscaled: i128, scale: u8) -> PgWireResult<()> {
    match rust_decimal::Decimal::try_from_i128_with_scale(unscaled, scale as u32) {
        Ok(d) => sink.put(&d),
        // Beyond rust_decimal's 28 digits: the text form.
        Err(_) => sink.put(&decimal_to_string(unscaled, scale)),
    }
}

/// An array of primitives as a Postgres array.
fn encode_list<S: FieldSink>(sink: &mut S, items: &ArrayRef, ty: &Type, zone: &Zone) -> PgWireResult<()> {
    macro_rules! collect {
        ($f:expr) => {{
            let values: Vec<_> = (0..items.len()).map(|i| if items.is_null(i) { None } else { Some($f(i)) }).collect();
            sink.put(&values)
        }};
    }
    let text = |i: usize| arrow::util::display::array_value_to_string(items, i).unwrap_or_default();
    match items.data_type() {
        DataType::Boolean => collect!(|i| items.as_boolean().value(i)),
        DataType::Int8 | DataType::Int16 | DataType::UInt8 => {
            let cast = cast(items, &DataType::Int16)?;
            collect!(|i| cast.as_primitive::<Int16Type>().value(i))
        }
        DataType::Int32 | DataType::UInt16 => {
            let cast = cast(items, &DataType::Int32)?;
            collect!(|i| cast.as_primitive::<Int32Type>().value(i))
        }
        DataType::Int64 | DataType::UInt32 => {
            let cast = cast(items, &DataType::Int64)?;
            collect!(|i| cast.as_primitive::<Int64Type>().value(i))
        }
        DataType::Float16 | DataType::Float32 => {
            let cast = cast(items, &DataType::Float32)?;
            collect!(|i| cast.as_primitive::<Float32Type>().value(i))
        }
        DataType::Float64 => collect!(|i| items.as_primitive::<Float64Type>().value(i)),
        DataType::Decimal128(_, scale) => {
            let scale = (*scale).max(0) as u32;
            collect!(|i| rust_decimal::Decimal::try_from_i128_with_scale(
                items.as_primitive::<Decimal128Type>().value(i),
                scale
            )
            .unwrap_or_default())
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => collect!(text),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => {
            let cast = cast(items, &DataType::Binary)?;
            collect!(|i| cast.as_binary::<i32>().value(i).to_vec())
        }
        DataType::Date32 | DataType::Date64 => {
            let cast = cast(items, &DataType::Date32)?;
            collect!(|i| epoch_date()
                .checked_add_signed(chrono::Duration::days(cast.as_primitive::<Date32Type>().value(i) as i64))
                .unwrap_or_default())
        }
        DataType::Time32(_) | DataType::Time64(_) => {
            let cast = cast(items, &DataType::Time64(TimeUnit::Nanosecond))?;
            collect!(|i| naive_time(cast.as_primitive::<Time64NanosecondType>().value(i)).unwrap_or_default())
        }
        DataType::Timestamp(unit, tz) => {
            let raw = cast(items, &DataType::Int64)?;
            let at = |i: usize| {
                DateTime::from_timestamp_micros(micros(raw.as_primitive::<Int64Type>().value(i), unit))
                    .unwrap_or_default()
            };
            match tz {
                None => collect!(|i| at(i).naive_utc()),
                Some(_) => collect!(|i| zone.at(at(i))),
            }
        }
        _ if *ty == Type::JSON => Err(error("nested array sent as JSON".into())),
        _ => collect!(text),
    }
}

/// Encodes one of Eddy's values of type `ty`.
pub fn encode_value<S: FieldSink>(sink: &mut S, ty: &SqlType, value: &Value) -> PgWireResult<()> {
    match (ty, value) {
        (_, Value::Null) => sink.put(&None::<i32>),
        (SqlType::Boolean, Value::Boolean(b)) => sink.put(b),
        (SqlType::Int, Value::Int(v)) => sink.put(v),
        (SqlType::Bigint, Value::Bigint(v)) => sink.put(v),
        (SqlType::Double, Value::Double(v)) => sink.put(v),
        (SqlType::Decimal { scale, .. }, Value::Decimal(v)) => encode_decimal(sink, *v, *scale),
        (SqlType::String, Value::String(s)) => sink.put(s),
        (SqlType::Bytes, Value::Bytes(b)) => sink.put(b),
        (SqlType::Date, Value::Date(d)) => {
            put_date(sink, epoch_date().checked_add_signed(chrono::Duration::days(*d as i64)))
        }
        (SqlType::Time, Value::Time(t)) => put_time(sink, naive_time(*t as i64 * 1_000_000)),
        (SqlType::Timestamp, Value::Timestamp(t)) => match DateTime::from_timestamp_millis(*t) {
            Some(d) => put_timestamp(sink, d.naive_utc()),
            None => sink.put(&None::<NaiveDateTime>),
        },
        (SqlType::Array(item), Value::Array(items)) if pg_type(ty) != Type::JSON => {
            let array = eddy_runtime::values_to_array(items, item).map_err(|e| error(e.to_string()))?;
            encode_list(sink, &array, &pg_type(ty), &Zone(chrono_tz::UTC))
        }
        (SqlType::Array(_) | SqlType::Map(..) | SqlType::Struct(_), v) => sink.put(&value_to_json(v, ty)),
        // A value of another type than declared (should not happen): send it as text.
        (_, other) => sink.put(&other.to_string()),
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)] // Tests index what they just built.
mod tests {
    use super::*;
    use arrow::array::{Int32Array, ListArray, StringArray, TimestampMillisecondArray};
    use arrow::datatypes::Field;

    fn text_of(batch: &RecordBatch) -> Vec<Option<String>> {
        let options = Arc::new(FormatOptions::default());
        let fields = schema_fields(&batch.schema(), &Format::UnifiedText, &options);
        let rows = batch_rows(&fields, batch, &Zone::named("UTC")).expect("rows");
        let mut out = Vec::new();
        let bytes = &rows[0].data;
        let mut at = 0;
        for _ in 0..rows[0].field_count {
            let len = i32::from_be_bytes(bytes[at..at + 4].try_into().expect("len"));
            at += 4;
            if len < 0 {
                out.push(None);
            } else {
                out.push(Some(String::from_utf8(bytes[at..at + len as usize].to_vec()).expect("utf8")));
                at += len as usize;
            }
        }
        out
    }

    #[test]
    fn arrow_values_in_postgres_text() {
        let list = ListArray::from_iter_primitive::<Int32Type, _, _>(vec![Some(vec![Some(1), None, Some(3)])]);
        let schema = Arc::new(Schema::new(vec![
            Field::new("i", DataType::Int32, true),
            Field::new("s", DataType::Utf8, true),
            Field::new("l", list.data_type().clone(), true),
            Field::new("t", DataType::Timestamp(TimeUnit::Millisecond, None), true),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int32Array::from(vec![Some(7)])),
                Arc::new(StringArray::from(vec![None::<&str>])),
                Arc::new(list),
                Arc::new(TimestampMillisecondArray::from(vec![1_500])),
            ],
        )
        .expect("batch");
        assert_eq!(
            text_of(&batch),
            vec![Some("7".into()), None, Some("{1,NULL,3}".into()), Some("1970-01-01 00:00:01.5".into())]
        );
    }
}
