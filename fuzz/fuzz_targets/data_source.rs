//! Fuzz target `data_source`: see `codex_fuzz::targets::data_source`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| codex_fuzz::targets::data_source(data));
