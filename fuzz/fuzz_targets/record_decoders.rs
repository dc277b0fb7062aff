//! libFuzzer target: `eddy_tests::fuzz::record_decoders`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| eddy_tests::fuzz::record_decoders(data));
