//! The SQL engine for everything a client sends that is not a continuous query (DESIGN §5): full
//! SQL on DataFusion over Eddy's streams and tables, `pg_catalog` and `information_schema`, with
//! ksqlDB's and Postgres' functions and name rules.

mod balance;
mod context;
mod executor;
mod functions;
mod information_schema;
mod names;
mod pg_catalog;
mod relations;
mod rewrite;
mod source_table;
mod statement;
mod subquery;
mod unknown_literals;

pub use context::{SessionIdentity, SqlEngine};
pub use names::Fold;
pub use relations::{CatalogView, SourceRelations};
pub use statement::{execute, parse, plan, sql_error, SqlPlan};
