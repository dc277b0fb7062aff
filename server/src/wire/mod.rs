//! The Postgres wire front end (pgwire): simple and extended protocol with typed parameters,
//! results in text and binary, push queries streamed row by row, cursors' and COPY's messages,
//! cancel requests, errors with SQLSTATE and position; authentication, TLS and connection limits.
#![deny(clippy::indexing_slicing)] // Bytes from clients and records are read with checked access.

mod auth;
mod connection;
mod encode;
mod handler;
mod limits;
mod respond;
mod startup;

pub use auth::{AuthMethod, Users, Verifier};
pub use encode::{batch_rows, encode_cell, encode_value, Zone};
pub use handler::{HandlerFactory, WireHandler};
pub use limits::{fatal_response, open_sessions, watch_idle, Activity, ConnectionSlots};
