//! The ksqlDB REST query-validation test (RQTT) runner: each case's statements go to Eddy over the
//! Postgres protocol, and what comes back (RowDescription, DataRows, errors) is compared with the
//! responses ksqlDB's REST API gives.

mod case;
mod run;
mod values;

pub use case::{load_dir, RqttCase};
pub use run::{run_case, Answer, Outcome};
