//! The Postgres wire front end (pgwire): simple and extended protocol, streaming push queries
//! row by row with a flush each, cancel requests, errors with SQLSTATE and position.

mod handler;
mod types;

pub use handler::{HandlerFactory, WireHandler};
pub use types::{encode_row, pg_type};
