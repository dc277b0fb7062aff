//! Serialization formats of keys and values, as named in `WITH (KEY_FORMAT=..., VALUE_FORMAT=...)`.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{CatalogError, Result};

/// A ksqlDB serialization format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Format {
    Json,
    Delimited,
    Kafka,
    None,
    Avro,
    Protobuf,
    ProtobufNoSr,
    JsonSr,
}

impl Format {
    /// Parses a format name (case-insensitive).
    pub fn parse(name: &str) -> Result<Self> {
        Ok(match name.to_ascii_uppercase().as_str() {
            "JSON" => Self::Json,
            "DELIMITED" => Self::Delimited,
            "KAFKA" => Self::Kafka,
            "NONE" => Self::None,
            "AVRO" => Self::Avro,
            "PROTOBUF" => Self::Protobuf,
            "PROTOBUF_NOSR" => Self::ProtobufNoSr,
            "JSON_SR" => Self::JsonSr,
            other => return Err(CatalogError::Invalid(format!("Unknown format: {other}"))),
        })
    }

    /// Formats that need a Schema Registry, which Eddy does not support yet.
    pub fn needs_schema_registry(self) -> bool {
        matches!(self, Self::Avro | Self::Protobuf | Self::JsonSr)
    }

    /// Whether a single value column is wrapped in an object/record by default.
    pub fn wraps_single_values_by_default(self) -> bool {
        !matches!(self, Self::Kafka | Self::Delimited | Self::None)
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Json => "JSON",
            Self::Delimited => "DELIMITED",
            Self::Kafka => "KAFKA",
            Self::None => "NONE",
            Self::Avro => "AVRO",
            Self::Protobuf => "PROTOBUF",
            Self::ProtobufNoSr => "PROTOBUF_NOSR",
            Self::JsonSr => "JSON_SR",
        })
    }
}

/// A format with its options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormatSpec {
    pub format: Format,
    /// DELIMITED's field separator.
    pub delimiter: char,
    /// `WRAP_SINGLE_VALUE`: `Some(false)` writes a lone value column unwrapped.
    pub wrap_single_value: Option<bool>,
}

impl FormatSpec {
    /// A format with default options.
    pub fn new(format: Format) -> Self {
        Self { format, delimiter: ',', wrap_single_value: None }
    }

    /// Whether a single column is wrapped in an object.
    pub fn wraps_single_value(&self) -> bool {
        self.wrap_single_value.unwrap_or_else(|| self.format.wraps_single_values_by_default())
    }
}
