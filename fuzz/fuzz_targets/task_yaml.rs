//! Fuzz target `task_yaml`: see `codex_fuzz::targets::task_yaml`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| codex_fuzz::targets::task_yaml(data));
