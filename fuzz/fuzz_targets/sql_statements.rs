//! libFuzzer target: `eddy_tests::fuzz::sql_statements`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| eddy_tests::fuzz::sql_statements(data));
