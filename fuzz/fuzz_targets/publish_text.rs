#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| nadir_fuzzing::publish_text(data));
