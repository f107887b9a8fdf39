//! Properties of tokenization over generated text (a fixed seed: every run
//! draws the same cases): decoding inverts encoding, offsets point into the
//! text in order, and the fast byte-level BPE path gives the library's ids.

use std::path::Path;

use codex_tokenize::HfTokenizer;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

fn config() -> Config {
    Config {
        cases: 128,
        rng_seed: RngSeed::Fixed(0x70C0_0001),
        failure_persistence: None,
        ..Config::default()
    }
}

fn tokenizer() -> HfTokenizer {
    // A byte-level BPE with added special tokens (the chat test tokenizer).
    HfTokenizer::from_file(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/chat/tokenizer.json"),
    )
    .unwrap()
}

/// Text of every kind: ASCII words, Unicode, whitespace runs, punctuation,
/// emoji, and the special tokens' own strings now and then.
fn text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "[a-zA-Z]{1,8}",
        "[ \\t\\n]{1,3}",
        "[0-9]{1,4}",
        "[.,;:!?'\"()-]",
        "\\PC{1,3}",
        Just("<|im_end|>".to_owned()),
        Just("é✓🙂".to_owned()),
    ];
    proptest::collection::vec(piece, 0..24).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn decoding_the_ids_gives_the_text_back(s in text()) {
        let tok = tokenizer();
        let enc = tok.encode(&s, false).unwrap();
        prop_assert_eq!(tok.decode(&enc.ids, false).unwrap(), s);
    }

    #[test]
    fn offsets_lie_in_the_text_in_order(s in text()) {
        let enc = tokenizer().encode(&s, false).unwrap();
        let mut last_start = 0;
        for &(start, end) in &enc.offsets {
            prop_assert!(start <= end && end <= s.len(), "({start}, {end}) in {} bytes", s.len());
            prop_assert!(start >= last_start, "offsets go back: {:?}", enc.offsets);
            last_start = start;
        }
        prop_assert_eq!(enc.offsets.len(), enc.ids.len());
    }

    #[test]
    fn the_fast_path_gives_the_library_ids(texts in proptest::collection::vec(text(), 1..6)) {
        let tok = tokenizer();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let fast = tok.encode_batch_ids(&refs, false).unwrap();
        for (t, ids) in texts.iter().zip(&fast) {
            prop_assert_eq!(&tok.encode(t, false).unwrap().ids, ids, "{:?}", t);
        }
    }
}
