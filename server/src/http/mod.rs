//! The HTTP listener (`--http-listen`, ksqlDB's port 8088 by default): Prometheus metrics at
//! `/metrics`, ksqlDB's `/healthcheck` and `/info`.

mod metrics;
mod process;
mod routes;

pub use metrics::encode as encode_metrics;
pub use routes::{router, HttpState};
