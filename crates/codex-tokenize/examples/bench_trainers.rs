//! Benchmark driver for `cargo xtask bench tokenize`: codex's own Unigram and
//! WordPiece trainers against the upstream `tokenizers` trainers they replace,
//! with the same normalizer, pre-tokenizer and settings, on the same training
//! text: training time, vocabulary size and tokens per byte on held-out text.
//! Prints one JSON object.
//!
//! Usage: bench_trainers CORPUS OUT_DIR

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a benchmark driver reports its result on stdout and its progress on stderr"
)]

use std::path::{Path, PathBuf};
use std::time::Instant;

use codex_core::config::{OnError, TokenizerKind};
use codex_tokenize::train::{TrainConfig, train};
use tokenizers::decoders::metaspace::PrependScheme;
use tokenizers::models::unigram::{Unigram, UnigramTrainerBuilder};
use tokenizers::models::wordpiece::{WordPiece, WordPieceTrainerBuilder};
use tokenizers::models::{ModelWrapper, TrainerWrapper};
use tokenizers::normalizers::{BertNormalizer, NFKC, NormalizerWrapper};
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::pre_tokenizers::bert::BertPreTokenizer;
use tokenizers::pre_tokenizers::metaspace::Metaspace;
use tokenizers::{AddedToken, Tokenizer};

const SPECIAL: &str = "<|endoftext|>";
const MIN_FREQUENCY: u32 = 2;

/// The upstream trainer of `kind` in the pipeline codex trains it in.
fn upstream(kind: TokenizerKind, vocab: u32) -> (Tokenizer, TrainerWrapper) {
    match kind {
        TokenizerKind::Unigram => {
            let mut t = Tokenizer::new(ModelWrapper::Unigram(Unigram::default()));
            t.with_normalizer(Some(NormalizerWrapper::NFKC(NFKC)))
                .expect("normalizer");
            let meta = Metaspace::new('\u{2581}', PrependScheme::Always, true);
            t.with_pre_tokenizer(Some(PreTokenizerWrapper::Metaspace(meta)));
            let trainer = UnigramTrainerBuilder::default()
                .vocab_size(vocab)
                .special_tokens(vec![
                    AddedToken::from(SPECIAL, true),
                    AddedToken::from("<unk>", true),
                ])
                .unk_token(Some("<unk>".into()))
                .show_progress(false)
                .build()
                .expect("trainer");
            (t, trainer.into())
        }
        TokenizerKind::Wordpiece => {
            let mut t = Tokenizer::new(ModelWrapper::WordPiece(WordPiece::default()));
            t.with_normalizer(Some(NormalizerWrapper::BertNormalizer(
                BertNormalizer::new(true, true, None, false),
            )))
            .expect("normalizer");
            t.with_pre_tokenizer(Some(PreTokenizerWrapper::BertPreTokenizer(
                BertPreTokenizer,
            )));
            let trainer = WordPieceTrainerBuilder::new()
                .vocab_size(vocab as usize)
                .min_frequency(u64::from(MIN_FREQUENCY))
                .special_tokens(vec![
                    AddedToken::from(SPECIAL, true),
                    AddedToken::from("[UNK]", true),
                ])
                .show_progress(false)
                .build();
            (t, trainer.into())
        }
        _ => unreachable!("only Unigram and WordPiece are compared"),
    }
}

/// Tokens per byte of `lines` (no special tokens added).
fn tokens_per_byte(tok: &Tokenizer, lines: &[&str]) -> f64 {
    let bytes: usize = lines.iter().map(|l| l.len()).sum();
    let tokens: usize = tok
        .encode_batch(lines.to_vec(), false)
        .expect("encode")
        .iter()
        .map(|e| e.get_ids().len())
        .sum();
    tokens as f64 / bytes as f64
}

fn write_lines(path: &Path, lines: &[&str]) {
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(path, text).expect("write");
}

fn main() {
    let args: Vec<PathBuf> = std::env::args().skip(1).map(PathBuf::from).collect();
    let [corpus, out] = &args[..] else {
        panic!("usage: bench_trainers CORPUS OUT_DIR");
    };
    std::fs::create_dir_all(out).expect("out dir");
    let text = std::fs::read_to_string(corpus).expect("corpus");
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    // Every tenth line is held out.
    let held: Vec<&str> = lines.iter().skip(9).step_by(10).copied().collect();
    let kept: Vec<&str> = lines
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 10 != 9)
        .map(|(_, l)| *l)
        .collect();
    let train_file = out.join("train.txt");
    write_lines(&train_file, &kept);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());

    let mut results = serde_json::Map::new();
    results.insert(
        "train_mb".into(),
        (kept.iter().map(|l| l.len() + 1).sum::<usize>() as f64 / 1e6).into(),
    );
    results.insert(
        "heldout_mb".into(),
        (held.iter().map(|l| l.len() + 1).sum::<usize>() as f64 / 1e6).into(),
    );
    results.insert("threads".into(), threads.into());
    results.insert(
        "tokenizers".into(),
        codex_tokenize::train::TOKENIZERS_VERSION.into(),
    );
    for (kind, label) in [
        (TokenizerKind::Unigram, "unigram"),
        (TokenizerKind::Wordpiece, "wordpiece"),
    ] {
        for vocab in [8_000u32, 32_000] {
            let (mut theirs, mut trainer) = upstream(kind, vocab);
            let start = Instant::now();
            // The lines codex reads from the file (without their newlines).
            theirs
                .train(&mut trainer, kept.iter())
                .expect("upstream training");
            let upstream_secs = start.elapsed().as_secs_f64();

            let config = TrainConfig {
                kind,
                vocab_size: vocab,
                min_frequency: MIN_FREQUENCY,
                special_tokens: vec![SPECIAL.into()],
                seed: 0,
                text_field: "text".into(),
                on_error: OnError::Skip,
                show_progress: false,
                command_line: vec![],
            };
            let start = Instant::now();
            let trained = train(&config, std::slice::from_ref(&train_file)).expect("train");
            let codex_secs = start.elapsed().as_secs_f64();
            let ours: Tokenizer = trained.json.parse().expect("codex tokenizer.json");
            std::fs::write(
                out.join(format!("codex-{label}-{vocab}.json")),
                &trained.json,
            )
            .expect("write");
            theirs
                .save(out.join(format!("upstream-{label}-{vocab}.json")), false)
                .expect("write");

            results.insert(
                format!("{label}_{vocab}"),
                serde_json::json!({
                    "codex_seconds": codex_secs,
                    "upstream_seconds": upstream_secs,
                    "codex_vocab": ours.get_vocab_size(true),
                    "upstream_vocab": theirs.get_vocab_size(true),
                    "codex_tokens_per_byte": tokens_per_byte(&ours, &held),
                    "upstream_tokens_per_byte": tokens_per_byte(&theirs, &held),
                }),
            );
            eprintln!("{label} {vocab}: codex {codex_secs:.1} s, upstream {upstream_secs:.1} s");
        }
    }
    println!("{}", serde_json::Value::Object(results));
}
