//! Fuzz target `checkpoint_state`: see `codex_fuzz::targets::checkpoint_state`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| codex_fuzz::targets::checkpoint_state(data));
