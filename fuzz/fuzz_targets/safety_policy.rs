//! Fuzz target `safety_policy`: see `codex_fuzz::targets::safety_policy`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| codex_fuzz::targets::safety_policy(data));
