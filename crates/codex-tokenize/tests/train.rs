//! Training from streamed corpora: every family, manifests, determinism and bad input.

use std::path::{Path, PathBuf};

use codex_core::config::{OnError, TokenizerKind};
use codex_tokenize::train::{TrainConfig, train};
use codex_tokenize::{AnyTokenizer, HfTokenizer, TokenizeError};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/corpus.txt")
}

fn config(kind: TokenizerKind, vocab_size: u32) -> TrainConfig {
    TrainConfig {
        kind,
        vocab_size,
        min_frequency: 2,
        special_tokens: vec!["<|endoftext|>".into(), "<|pad|>".into()],
        seed: 7,
        text_field: "text".into(),
        on_error: OnError::Skip,
        show_progress: false,
        command_line: vec!["codex".into(), "tokenizer".into(), "train".into()],
    }
}

#[test]
fn every_family_trains_and_round_trips() {
    let text = "The river moves over quiet fields.";
    for (kind, vocab) in [
        (TokenizerKind::Bpe, 400),
        (TokenizerKind::Unigram, 200),
        (TokenizerKind::Wordpiece, 300),
        (TokenizerKind::Wordlevel, 100),
    ] {
        let trained = train(&config(kind, vocab), &[corpus()]).unwrap();
        let tok = &trained.tokenizer;
        assert!(
            tok.vocab_size() <= vocab as usize + 2,
            "{kind:?}: {}",
            tok.vocab_size()
        );
        assert_eq!(
            tok.token_to_id("<|endoftext|>"),
            Some(0),
            "{kind:?}: specials come first"
        );
        let ids = tok.encode(text, false).unwrap().ids;
        assert!(!ids.is_empty());
        let decoded = tok.decode(&ids, true).unwrap();
        match kind {
            // WordPiece and WordLevel decoders rejoin words with spaces around punctuation.
            TokenizerKind::Wordpiece | TokenizerKind::Wordlevel => {
                assert_eq!(decoded.replace(" .", "."), text, "{kind:?}")
            }
            _ => assert_eq!(decoded, text, "{kind:?}"),
        }
        // The written file loads back and encodes identically.
        let dir = tempfile::tempdir().unwrap();
        trained.write(dir.path()).unwrap();
        let back = HfTokenizer::from_file(dir.path().join("tokenizer.json")).unwrap();
        assert_eq!(back.encode(text, false).unwrap().ids, ids, "{kind:?}");
    }
}

#[test]
fn manifest_records_inputs_hashes_and_settings() {
    let trained = train(&config(TokenizerKind::Bpe, 400), &[corpus()]).unwrap();
    let m = &trained.manifest;
    let (digest, size) = codex_core::hash_file(corpus()).unwrap();
    assert_eq!(m.inputs.len(), 1);
    assert_eq!((m.inputs[0].blake3, m.inputs[0].bytes), (digest, size));
    assert_eq!(m.inputs[0].lines, 1500);
    assert_eq!(m.inputs[0].documents, 1500);
    assert_eq!(m.documents, 1500);
    assert_eq!(m.kind, "bpe");
    assert_eq!(m.seed, 7);
    assert_eq!(
        m.tokenizer_blake3,
        codex_core::Digest::of(trained.json.as_bytes())
    );
    assert_eq!(
        m.libraries["tokenizers"],
        codex_tokenize::train::TOKENIZERS_VERSION
    );
    let dir = tempfile::tempdir().unwrap();
    trained.write(dir.path()).unwrap();
    let on_disk: codex_tokenize::train::Manifest =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(&on_disk, m);
    let (file_digest, _) = codex_core::hash_file(dir.path().join("tokenizer.json")).unwrap();
    assert_eq!(file_digest, m.tokenizer_blake3);
}

#[test]
fn training_is_deterministic() {
    if let Ok(kind) = std::env::var("CODEX_TEST_TRAIN_KIND") {
        // Child half: train once and write the digest of the result.
        let kind = match kind.as_str() {
            "bpe" => TokenizerKind::Bpe,
            "unigram" => TokenizerKind::Unigram,
            "wordpiece" => TokenizerKind::Wordpiece,
            _ => TokenizerKind::Wordlevel,
        };
        let t = train(&config(kind, 300), &[corpus()]).unwrap();
        let out = std::env::var("CODEX_TEST_TRAIN_OUT").unwrap();
        std::fs::write(out, t.manifest.tokenizer_blake3.to_hex()).unwrap();
        return;
    }
    // Hash-map seeds are drawn once per process, so only separate processes show
    // whether a trainer depends on them; the thread count is the other thing a
    // parallel trainer could depend on.
    let dir = tempfile::tempdir().unwrap();
    let run = |kind: &str, threads: Option<usize>| {
        let digest_file = dir.path().join(format!("{kind}.digest"));
        let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
        cmd.args(["--exact", "training_is_deterministic", "--test-threads=1"])
            .env("CODEX_TEST_TRAIN_KIND", kind)
            .env("CODEX_TEST_TRAIN_OUT", &digest_file)
            .env_remove("RAYON_NUM_THREADS");
        if let Some(n) = threads {
            cmd.env("RAYON_NUM_THREADS", n.to_string());
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        std::fs::read_to_string(&digest_file).unwrap()
    };
    for kind in ["bpe", "wordlevel", "unigram", "wordpiece"] {
        let one_thread = run(kind, Some(1));
        assert_eq!(
            one_thread,
            run(kind, None),
            "{kind}: 1 thread vs all threads"
        );
        assert_eq!(
            one_thread,
            run(kind, Some(3)),
            "{kind}: 1 thread vs 3 threads"
        );
    }
    for kind in [
        TokenizerKind::Bpe,
        TokenizerKind::Wordlevel,
        TokenizerKind::Unigram,
        TokenizerKind::Wordpiece,
    ] {
        let t = train(&config(kind, 300), &[corpus()]).unwrap();
        assert!(t.manifest.reproducible, "{kind:?}");
    }
}

#[test]
fn manifest_version_matches_cargo_lock() {
    let lock =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.lock"))
            .unwrap();
    let expected = format!(
        "name = \"tokenizers\"\nversion = \"{}\"",
        codex_tokenize::train::TOKENIZERS_VERSION
    );
    assert!(lock.contains(&expected), "TOKENIZERS_VERSION is stale");
}

#[test]
fn directories_and_jsonl_are_read() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    let lines: Vec<String> = std::fs::read_to_string(corpus())
        .unwrap()
        .lines()
        .map(|l| serde_json::json!({"body": l, "id": 1}).to_string())
        .collect();
    std::fs::write(dir.path().join("sub/a.jsonl"), lines.join("\n")).unwrap();
    std::fs::write(dir.path().join("b.txt"), "plain text line\n").unwrap();
    std::fs::write(dir.path().join("ignored.bin"), [0u8, 1, 2]).unwrap();
    let mut cfg = config(TokenizerKind::Bpe, 400);
    cfg.text_field = "body".into();
    let trained = train(&cfg, &[dir.path().to_path_buf()]).unwrap();
    let names: Vec<_> = trained
        .manifest
        .inputs
        .iter()
        .map(|i| i.path.strip_prefix(dir.path()).unwrap().to_path_buf())
        .collect();
    assert_eq!(
        names,
        [PathBuf::from("b.txt"), PathBuf::from("sub/a.jsonl")]
    );
    assert_eq!(trained.manifest.documents, 1501);
}

fn bad_corpus(dir: &Path) -> PathBuf {
    let path = dir.join("mixed.txt");
    let mut bytes = std::fs::read(corpus()).unwrap();
    bytes.extend_from_slice(b"good line\ncaf\xe9 latin-1 line\nanother good line\n");
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn invalid_utf8_is_skipped_with_a_diagnostic_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = bad_corpus(dir.path());
    let trained = train(
        &config(TokenizerKind::Bpe, 400),
        std::slice::from_ref(&path),
    )
    .unwrap();
    assert_eq!(trained.diagnostics.len(), 1);
    let d = &trained.diagnostics[0];
    assert_eq!(d.code, "tokenize.invalid-utf8");
    assert_eq!(d.location.as_ref().unwrap().line, Some(1502));
    assert!(d.to_string().contains("mixed.txt:1502"), "{d}");
    assert_eq!(trained.manifest.inputs[0].skipped, 1);
    assert_eq!(trained.manifest.inputs[0].lines, 1503);
}

#[test]
fn invalid_utf8_fails_under_the_fail_policy() {
    let dir = tempfile::tempdir().unwrap();
    let path = bad_corpus(dir.path());
    let mut cfg = config(TokenizerKind::Bpe, 400);
    cfg.on_error = OnError::Fail;
    let err = train(&cfg, &[path]).unwrap_err();
    assert!(
        matches!(err, TokenizeError::InvalidUtf8 { line: 1502, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("mixed.txt"), "{err}");
}

#[test]
fn malformed_jsonl_is_reported_by_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.jsonl");
    std::fs::write(
        &path,
        "{\"text\": \"one two three\"}\n{not json\n{\"other\": 1}\n\n{\"text\": \"four five\"}\n",
    )
    .unwrap();
    let mut cfg = config(TokenizerKind::Wordlevel, 50);
    let trained = train(&cfg, std::slice::from_ref(&path)).unwrap();
    let codes: Vec<(String, Option<u64>)> = trained
        .diagnostics
        .iter()
        .map(|d| (d.code.clone(), d.location.as_ref().unwrap().line))
        .collect();
    assert_eq!(
        codes,
        [
            ("tokenize.malformed-json".to_owned(), Some(2)),
            ("tokenize.missing-field".to_owned(), Some(3))
        ]
    );
    cfg.on_error = OnError::Fail;
    let err = train(&cfg, &[path]).unwrap_err().to_string();
    assert!(err.contains("d.jsonl` line 2: not JSON"), "{err}");
}

#[test]
fn empty_corpus_and_missing_inputs_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.txt");
    std::fs::write(&empty, "\n\n   \n").unwrap();
    let err = train(&config(TokenizerKind::Bpe, 400), &[empty]).unwrap_err();
    assert!(matches!(err, TokenizeError::EmptyCorpus { .. }), "{err:?}");
    let empty_dir = dir.path().join("nothing");
    std::fs::create_dir(&empty_dir).unwrap();
    let err = train(&config(TokenizerKind::Bpe, 400), &[empty_dir]).unwrap_err();
    assert!(
        err.to_string().starts_with("the training corpus is empty"),
        "{err}"
    );
    let err = train(
        &config(TokenizerKind::Bpe, 400),
        &[dir.path().join("missing.txt")],
    )
    .unwrap_err();
    assert!(err.to_string().contains("missing.txt"), "{err}");
}

#[test]
fn vocabulary_smaller_than_the_alphabet_is_an_error() {
    let err = train(&config(TokenizerKind::Bpe, 200), &[corpus()]).unwrap_err();
    assert!(
        err.to_string().starts_with(
            "vocabulary size 200 is smaller than the alphabet it must hold (258 symbols"
        ),
        "{err}"
    );
    let err = train(&config(TokenizerKind::Wordpiece, 20), &[corpus()]).unwrap_err();
    assert!(
        matches!(err, TokenizeError::VocabTooSmall { vocab_size: 20, .. }),
        "{err:?}"
    );
}

#[test]
fn corrupt_tokenizer_files_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("broken.json");
    std::fs::write(&json, "{\"model\": {\"type\": \"BPE\"").unwrap();
    let err = AnyTokenizer::from_file(&json).unwrap_err();
    assert!(matches!(err, TokenizeError::Load { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with(&format!("cannot load tokenizer `{}`", json.display())),
        "{err}"
    );

    let model = dir.path().join("broken.model");
    std::fs::write(&model, b"\x0a\xff\xff\xff\xff\x0fjunk").unwrap();
    let err = AnyTokenizer::from_file(&model).unwrap_err().to_string();
    assert!(
        err.contains("broken.model") && err.contains("not a SentencePiece model"),
        "{err}"
    );

    let err = AnyTokenizer::from_file(dir.path().join("absent.model"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("absent.model"), "{err}");
}

#[test]
fn mutated_model_files_never_panic() {
    // A deterministic mutation sweep over a real model: truncations, byte flips
    // and splices must all load or fail cleanly, and loaded ones must encode.
    let bytes =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/spm-bpe-bf.model"))
            .unwrap();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..600 {
        let mut m = bytes.clone();
        match round % 3 {
            0 => m.truncate((next() as usize) % m.len()),
            1 => {
                for _ in 0..1 + next() % 8 {
                    let i = (next() as usize) % m.len();
                    m[i] = next() as u8;
                }
            }
            _ => {
                let i = (next() as usize) % m.len();
                let j = (next() as usize) % m.len();
                m.splice(i..i, bytes[j..(j + 16).min(bytes.len())].iter().copied());
            }
        }
        if let Ok(model) = codex_tokenize::SpmModel::from_bytes(&m) {
            let ids = model.encode("a river of 😀 text\twith tabs");
            let _ = model.decode(&ids);
        }
    }
}

/// Unigram score of a segmentation under the trained model's vocabulary.
fn unigram_score(json: &str, ids: &[u32]) -> f64 {
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    let vocab = v["model"]["vocab"].as_array().unwrap();
    ids.iter()
        .map(|&i| vocab[i as usize][1].as_f64().unwrap())
        .sum()
}

#[test]
fn unigram_exports_as_an_equivalent_sentencepiece_model() {
    let trained = train(&config(TokenizerKind::Unigram, 300), &[corpus()]).unwrap();
    let bytes = codex_tokenize::unigram_to_spm(&trained.tokenizer).unwrap();
    let spm = codex_tokenize::SpmModel::from_bytes(&bytes).unwrap();
    assert_eq!(spm.vocab_size(), trained.tokenizer.vocab_size());
    let text = std::fs::read_to_string(corpus()).unwrap();
    // The exported model has no NFKC table, so compare on text NFKC leaves alone.
    // Both sides find a best-scoring segmentation; where two tie they may pick
    // different ones, so the property is: same score, same text.
    let mut compared = 0;
    let spaced = "quiet  fields   and towns";
    for line in text.lines().filter(|l| l.is_ascii()).chain([spaced]) {
        let want = trained.tokenizer.encode(line, false).unwrap().ids;
        let got = spm.encode(line);
        let (a, b) = (
            unigram_score(&trained.json, &got),
            unigram_score(&trained.json, &want),
        );
        assert!(
            (a - b).abs() <= 1e-4 * a.abs().max(1.0),
            "{line:?}: {a} vs {b}"
        );
        assert_eq!(spm.decode(&got).unwrap(), line);
        compared += 1;
    }
    assert!(compared > 1000, "{compared}");

    let bpe = train(&config(TokenizerKind::Bpe, 300), &[corpus()]).unwrap();
    let err = codex_tokenize::unigram_to_spm(&bpe.tokenizer)
        .unwrap_err()
        .to_string();
    assert!(err.contains("only Unigram tokenizers"), "{err}");
}
