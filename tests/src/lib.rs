//! Test support for Eddy: a statement runner over the deterministic in-memory driver, shared by the
//! runtime golden scripts and the conformance runner.

mod driver;
pub mod fuzz;
pub mod qtt;
pub mod rqtt;

pub use driver::{render_output, render_record, TestDriver};
