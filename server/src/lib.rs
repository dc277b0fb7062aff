//! Eddy's server: the engine that executes statements, the SQL engine for everything that is not
//! a continuous query, client sessions, the Postgres wire front end, and configuration.

pub mod accept;
pub mod config;
pub mod engine;
pub mod http;
pub mod limits;
pub mod pg_types;
pub mod pg_values;
pub mod server;
pub mod session;
pub mod sql;
pub mod tls;
pub mod views;
pub mod wire;

pub use config::Config;
pub use engine::{Engine, EngineError, Output, Session};
