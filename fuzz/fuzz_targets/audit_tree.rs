//! Fuzz target `audit_tree`: see `codex_fuzz::targets::audit_tree`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| codex_fuzz::targets::audit_tree(data));
