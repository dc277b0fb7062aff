//! Eddy's server: the engine that executes statements, the Postgres wire front end, and configuration.

pub mod config;
pub mod engine;
pub mod server;
pub mod wire;

pub use config::Config;
pub use engine::{Engine, EngineError, Output, Session};
