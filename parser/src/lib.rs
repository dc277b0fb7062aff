//! The ksqlDB dialect: splits and parses statement text into `Statement`s, reusing sqlparser for expressions.

mod ast;
mod dialect;
mod error;
mod ident;
mod parser;
mod select;
mod type_parser;
mod types;

pub use ast::*;
pub use error::{ParseError, ParseErrorKind, Result};
pub use ident::{fold_ident, object_name};
pub use parser::{location_to_position, parse_each, parse_statements, parse_type, ParsedStatement, StatementParse};
pub use sqlparser;
pub use types::SqlType;
