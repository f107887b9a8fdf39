//! Fuzz target `safetensors`: see `codex_fuzz::targets::safetensors`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| codex_fuzz::targets::safetensors(data));
