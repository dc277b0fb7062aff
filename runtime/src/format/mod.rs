//! Key and value formats: how a record's bytes become column values and back.
#![deny(clippy::indexing_slicing)] // Bytes from clients and records are read with checked access.

mod delimited;
mod json;
mod json_read;
mod json_scan;
mod json_write;
mod kafka;
mod none;

use arrow::array::ArrayRef;
use eddy_catalog::{Format, FormatSpec, SqlType};

pub use json::{json_to_value, value_to_json};

use crate::cell::Cell;
use crate::columnar::array_value;
use crate::error::{Result, RuntimeError};
use crate::value::Value;

/// Whether a codec reads keys or values (their wrapping rules differ).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Key,
    Value,
}

/// Reads and writes one side (key or value) of a record.
pub trait Codec: Send + Sync {
    /// Decodes bytes (None = null) into one value per column.
    fn decode(&self, bytes: Option<&[u8]>) -> Result<Vec<Value>>;
    /// Encodes one value per column; None writes a null key/value.
    fn encode(&self, values: &[Value]) -> Result<Option<Vec<u8>>>;

    /// Decodes into `out`, one cell per column; a format may leave text borrowed from `bytes`.
    fn decode_cells<'a>(&self, bytes: Option<&'a [u8]>, out: &mut Vec<Cell<'a>>) -> Result<()> {
        out.extend(self.decode(bytes)?.into_iter().map(Cell::Value));
        Ok(())
    }

    /// The encoder of the rows of one batch's `columns` (one array per codec column); a format may
    /// read the arrays directly.
    fn row_encoder<'c>(&'c self, columns: &'c [ArrayRef]) -> Box<dyn RowEncoder + 'c> {
        Box::new(ViaValues { codec: self, columns })
    }
}

/// Encodes rows of one batch: made once per batch, so that a format looks at the arrays' types once.
pub trait RowEncoder {
    /// Encodes row `row`; None writes a null key/value.
    fn encode_row(&mut self, row: usize) -> Result<Option<Vec<u8>>>;
}

/// Encodes a row of arrays by reading it into values first.
struct ViaValues<'c, C: ?Sized> {
    codec: &'c C,
    columns: &'c [ArrayRef],
}

impl<C: Codec + ?Sized> RowEncoder for ViaValues<'_, C> {
    fn encode_row(&mut self, row: usize) -> Result<Option<Vec<u8>>> {
        let values: Vec<Value> = self.columns.iter().map(|c| array_value(c.as_ref(), row)).collect();
        self.codec.encode(&values)
    }
}

/// The columns a codec reads or writes, in order.
pub type CodecColumns = Vec<(String, SqlType)>;

/// Builds the codec for a format and columns.
pub fn codec_for(spec: &FormatSpec, columns: CodecColumns, role: Role) -> Result<Box<dyn Codec>> {
    let wrap = match role {
        // Keys: a single key column is never wrapped unless asked for.
        Role::Key => columns.len() != 1 || spec.wrap_single_value == Some(true),
        Role::Value => columns.len() != 1 || spec.wraps_single_value(),
    };
    Ok(match spec.format {
        Format::Json => Box::new(json::JsonCodec::new(columns, wrap)?),
        Format::Delimited => Box::new(delimited::DelimitedCodec::new(columns, spec.delimiter, role == Role::Key)?),
        Format::Kafka => Box::new(kafka::KafkaCodec::new(columns, role)?),
        Format::None => Box::new(none::NoneCodec::new(columns, role == Role::Key)?),
        other => {
            return Err(RuntimeError::Unsupported(format!(
                "The {other} format needs a Schema Registry, which Eddy does not support yet"
            )))
        }
    })
}
