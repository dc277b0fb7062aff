//! The HTTP listener (`--http-listen`, ksqlDB's port 8088 by default): Prometheus metrics at
//! `/metrics`, ksqlDB's `/healthcheck` and `/info`; at most 64 connections, each closed when a
//! request's header does not come within 10 s.

mod metrics;
mod process;
mod routes;
mod serve;

pub use metrics::encode as encode_metrics;
pub use routes::{router, HttpState};
pub use serve::{serve, HEADER_TIMEOUT, MAX_CONNECTIONS};
