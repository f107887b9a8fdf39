//! Fuzz target `tokenizer_json`: see `codex_fuzz::targets::tokenizer_json`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| codex_fuzz::targets::tokenizer_json(data));
