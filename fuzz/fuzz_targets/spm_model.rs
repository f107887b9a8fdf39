//! Arbitrary bytes as a SentencePiece `.model`: loading must fail cleanly or give
//! a model that encodes and decodes without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(model) = codex_tokenize::SpmModel::from_bytes(data) {
        for text in ["", " ", "Hello  world\t😀 東京", "<unk><s>\u{2581}\u{2581}x"] {
            let ids = model.encode(text);
            let _ = model.decode(&ids);
        }
    }
});
