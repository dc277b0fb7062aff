//! The `eddy` shell: an interactive REPL and script runner that speaks to `eddy-server` over the
//! Postgres wire protocol (tokio-postgres), and `eddy migrate`; it links no engine crate.

pub mod cli;
pub mod complete;
pub mod connection;
pub mod error;
pub mod migrate;
pub mod render;
pub mod repl;
pub mod session;
pub mod statements;
pub mod variables;

pub use error::ShellError;
