//! Fuzz target `hf_config`: see `codex_fuzz::targets::hf_config`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| codex_fuzz::targets::hf_config(data));
