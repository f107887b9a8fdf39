//! The fast byte-level BPE path (`encode_batch_ids`) gives exactly the ids of
//! the `tokenizers` library's own encoder, on corpora and on edge cases.

use std::path::Path;

use codex_core::Rng;
use codex_core::config::{OnError, TokenizerKind};
use codex_tokenize::HfTokenizer;
use codex_tokenize::train::{TrainConfig, train};

fn texts() -> Vec<String> {
    let corpus = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/corpus.txt"),
    )
    .unwrap();
    let mut out: Vec<String> = corpus.lines().map(str::to_owned).collect();
    out.push(corpus.clone());
    for s in [
        "",
        " ",
        "   ",
        "\n",
        "a  b\t\tc \n d\r\n\r\ne",
        "don't we'll I'M they've you're she'd it's 'S 'tis ''",
        "x 123 4.5e-3 1,000,000 !!? ... --- ((a)) [b] {c}",
        "café naïve Zürich 東京 Москва 数据 😀👍🏽 señor ½ ² ٣ Ⅻ",
        "tabs\tand\u{a0}nbsp\u{2003}emspace\u{3000}ideographic",
        "<|endoftext|>",
        "before<|endoftext|>after <|pad|><|pad|> end<|endoftext",
        "   leading and trailing   ",
        "a\u{301} combining e\u{301}",
        "\u{200b}zero\u{200b}width",
        "Mixed123Letters456 and_under_scores and-dashes",
    ] {
        out.push(s.to_owned());
    }
    // Random strings over classes the pattern distinguishes.
    let alphabet: Vec<char> = "aZé東 \n\t1½!'s.\u{a0}😀-_".chars().collect();
    let mut rng = Rng::new(11, 0);
    for _ in 0..300 {
        let n = rng.below(40);
        out.push(
            (0..n)
                .map(|_| alphabet[rng.below(alphabet.len())])
                .collect(),
        );
    }
    out
}

fn check(tok: &HfTokenizer, what: &str) {
    let texts = texts();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let fast = tok.encode_batch_ids(&refs, false).unwrap();
    for (t, ids) in texts.iter().zip(&fast) {
        let lib = tok.encode(t, false).unwrap().ids;
        assert_eq!(ids, &lib, "{what}: {t:?}");
    }
}

#[test]
fn fast_ids_equal_the_library_on_the_fixture_tokenizer() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/hf-bpe.json");
    check(&HfTokenizer::from_file(&path).unwrap(), "hf-bpe.json");
    // The same with a prefix space added by the pre-tokenizer.
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    v["pre_tokenizer"]["add_prefix_space"] = true.into();
    check(
        &HfTokenizer::from_bytes(v.to_string().as_bytes()).unwrap(),
        "add_prefix_space",
    );
}

#[test]
fn fast_ids_equal_the_library_on_a_larger_trained_vocabulary() {
    let cfg = TrainConfig {
        kind: TokenizerKind::Bpe,
        vocab_size: 2000,
        min_frequency: 1,
        special_tokens: vec!["<|endoftext|>".into(), "<|pad|>".into()],
        seed: 3,
        text_field: "text".into(),
        on_error: OnError::Skip,
        show_progress: false,
        command_line: vec!["codex".into()],
    };
    let trained = train(
        &cfg,
        &[Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/corpus.txt")],
    )
    .unwrap();
    check(&trained.tokenizer, "trained 2000");
}

/// On a large corpus and tokenizer of your own (for example the data
/// benchmark's): `CODEX_TEST_BPE_CORPUS=corpus.txt CODEX_TEST_BPE_TOKENIZER=tokenizer.json`.
/// Compares the first 20 MB line by line; without the variables it does nothing.
#[test]
fn fast_ids_equal_the_library_on_a_given_corpus() {
    let (Ok(corpus), Ok(tokenizer)) = (
        std::env::var("CODEX_TEST_BPE_CORPUS"),
        std::env::var("CODEX_TEST_BPE_TOKENIZER"),
    ) else {
        return;
    };
    let tok = HfTokenizer::from_file(&tokenizer).unwrap();
    let text = std::fs::read_to_string(&corpus).unwrap();
    let head = &text[..text.floor_char_boundary(20 << 20)];
    let lines: Vec<&str> = head.lines().collect();
    let mut compared = 0usize;
    for chunk in lines.chunks(4096) {
        let fast = tok.encode_batch_ids(chunk, false).unwrap();
        for (t, ids) in chunk.iter().zip(&fast) {
            assert_eq!(ids, &tok.encode(t, false).unwrap().ids, "{t:?}");
            compared += ids.len();
        }
    }
    assert!(compared > 1_000_000, "only {compared} tokens compared");
}
