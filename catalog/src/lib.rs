//! Eddy's catalog: SQL types and their Arrow forms, formats, streams and tables, queries and the command log record.

mod catalog;
mod command;
mod error;
mod format;
mod source;
mod types;
mod window;

pub use catalog::{Catalog, QueryInfo, QueryKind};
pub use command::{Command, COMMAND_VERSION};
pub use eddy_parser::{SourceKind, SqlType};
pub use error::{CatalogError, Result};
pub use format::{Format, FormatSpec};
pub use source::{max_partitions, Column, ColumnKind, Source, TimestampSpec, MAX_PARTITIONS, PSEUDO_COLUMNS};
pub use types::{arrow_field, arrow_type, sql_type_of};
pub use window::WindowKind;
