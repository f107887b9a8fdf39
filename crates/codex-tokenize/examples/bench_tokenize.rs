//! Benchmark driver for `cargo xtask bench tokenize`: training time and encoding
//! throughput of codex-tokenize on a corpus, printed as one JSON object.
//!
//! Usage: bench_tokenize CORPUS TOKENIZER_JSON SPM_MODEL OUT_DIR [encode-only]

#![allow(clippy::print_stdout, reason = "a benchmark driver reports on stdout")]

use std::path::PathBuf;
use std::time::Instant;

use codex_core::config::{OnError, TokenizerKind};
use codex_tokenize::AnyTokenizer;
use codex_tokenize::train::{TrainConfig, train};

const BATCH: usize = 10_000;

fn encode_all(tok: &AnyTokenizer, lines: &[String]) -> (f64, u64) {
    let start = Instant::now();
    let mut tokens = 0u64;
    for chunk in lines.chunks(BATCH) {
        let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
        tokens += tok
            .encode_batch(&refs, false)
            .expect("encode")
            .iter()
            .map(|ids| ids.len() as u64)
            .sum::<u64>();
    }
    (start.elapsed().as_secs_f64(), tokens)
}

fn main() {
    let mut args: Vec<PathBuf> = std::env::args().skip(1).map(PathBuf::from).collect();
    let encode_only = args.last().is_some_and(|a| a.as_os_str() == "encode-only");
    if encode_only {
        args.pop();
    }
    let [corpus, tokenizer_json, spm_model, out] = &args[..] else {
        panic!("usage: bench_tokenize CORPUS TOKENIZER_JSON SPM_MODEL OUT_DIR");
    };
    let text = std::fs::read_to_string(corpus).expect("corpus");
    let mb = text.len() as f64 / 1e6;
    let lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let single = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("pool");

    let mut results = serde_json::Map::new();
    results.insert("corpus_mb".into(), mb.into());
    results.insert("threads".into(), threads.into());
    for (name, path) in [("hf_bpe", tokenizer_json), ("spm", spm_model)] {
        let tok = AnyTokenizer::from_file(path).expect("tokenizer");
        let (t1, tokens) = single.install(|| encode_all(&tok, &lines));
        let (tn, tokens_n) = encode_all(&tok, &lines);
        assert_eq!(tokens, tokens_n);
        results.insert(
            format!("encode_{name}"),
            serde_json::json!({"tokens": tokens, "mb_s_1_thread": mb / t1, "mb_s_all_threads": mb / tn}),
        );
    }
    let kinds: &[(TokenizerKind, &str)] = if encode_only {
        &[]
    } else {
        &[
            (TokenizerKind::Bpe, "bpe"),
            (TokenizerKind::Unigram, "unigram"),
        ]
    };
    for &(kind, label) in kinds {
        for vocab in [8_000u32, 32_000] {
            let config = TrainConfig {
                kind,
                vocab_size: vocab,
                min_frequency: 2,
                special_tokens: vec!["<|endoftext|>".into()],
                seed: 0,
                text_field: "text".into(),
                on_error: OnError::Skip,
                show_progress: false,
                command_line: vec![],
            };
            let start = Instant::now();
            let trained = train(&config, std::slice::from_ref(corpus)).expect("train");
            let secs = start.elapsed().as_secs_f64();
            trained
                .write(&out.join(format!("codex-{label}-{vocab}")))
                .expect("write");
            results.insert(
                format!("train_{label}_{vocab}"),
                serde_json::json!({"seconds": secs, "vocab_size": trained.manifest.vocab_size}),
            );
        }
    }
    println!("{}", serde_json::Value::Object(results));
}
