//! The NONE format: no columns; the bytes are ignored.

use eddy_catalog::SqlType;

use super::{Codec, RowEncoder};
use crate::error::{Result, RuntimeError};
use crate::value::Value;

/// Reads nothing and writes a null.
pub struct NoneCodec;

impl NoneCodec {
    pub fn new(columns: Vec<(String, SqlType)>, key: bool) -> Result<Self> {
        if !columns.is_empty() {
            let suffix = if key { " KEY" } else { "" };
            let cols: Vec<String> = columns.iter().map(|(n, t)| format!("`{n}` {t}{suffix}")).collect();
            return Err(RuntimeError::Unsupported(format!(
                "The 'NONE' format can only be used when no columns are defined. Got: [{}]",
                cols.join(", ")
            )));
        }
        Ok(Self)
    }
}

impl Codec for NoneCodec {
    fn decode(&self, _: Option<&[u8]>) -> Result<Vec<Value>> {
        Ok(Vec::new())
    }

    fn decode_cells<'a>(&self, _: Option<&'a [u8]>, _: &mut Vec<crate::cell::Cell<'a>>) -> Result<()> {
        Ok(())
    }

    fn encode(&self, _: &[Value]) -> Result<Option<Vec<u8>>> {
        Ok(None)
    }

    fn row_encoder<'c>(&'c self, _: &'c [arrow::array::ArrayRef]) -> Box<dyn RowEncoder + 'c> {
        Box::new(Nothing)
    }
}

/// Every row encodes to nothing.
struct Nothing;

impl RowEncoder for Nothing {
    fn encode_row(&mut self, _: usize) -> Result<Option<Vec<u8>>> {
        Ok(None)
    }
}
