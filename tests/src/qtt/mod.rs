//! The ksqlDB query-validation test (QTT) runner: loads cases, runs them through the engine under the
//! deterministic driver, and compares the records queries write with the expected ones.

pub(crate) mod case;
pub(crate) mod compare;
mod records;
pub(crate) mod run;

pub use case::{load_dir, load_file, TestCase};
pub use run::{run_case, Outcome};
