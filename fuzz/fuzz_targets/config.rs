//! Fuzz target `config`: see `codex_fuzz::targets::config`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| codex_fuzz::targets::config(data));
