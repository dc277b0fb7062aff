//! libFuzzer target: `eddy_tests::fuzz::pg_messages`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| eddy_tests::fuzz::pg_messages(data));
