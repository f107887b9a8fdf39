//! Benchmark driver for `cargo xtask bench data`: prepares a corpus with a
//! tokenizer and prints throughput and peak memory as one JSON object.
//!
//! Usage: bench_prepare CORPUS TOKENIZER_JSON OUT_DIR

#![allow(clippy::print_stdout, reason = "a benchmark driver reports on stdout")]

use std::path::PathBuf;
use std::time::Instant;

use codex_core::config::ConfigLoader;
use codex_core::{PassThrough, Seeds};
use codex_data::{PrepareInputs, prepare};
use codex_tokenize::AnyTokenizer;

/// Peak resident set size of this process in bytes (Linux `VmHWM`).
fn peak_rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

fn main() {
    let args: Vec<PathBuf> = std::env::args().skip(1).map(PathBuf::from).collect();
    let [corpus, tokenizer, out] = &args[..] else {
        panic!("usage: bench_prepare CORPUS TOKENIZER_JSON OUT_DIR");
    };
    let data = ConfigLoader::new()
        .overrides([
            format!("data.sources=[{}]", corpus.display()),
            "data.dedup=false".to_owned(),
        ])
        .load()
        .expect("config")
        .config
        .data;
    let tok = AnyTokenizer::from_file(tokenizer).expect("tokenizer");
    let (digest, _) = codex_core::hash_file(tokenizer).expect("hash");
    let eos_id = tok
        .token_to_id("<|endoftext|>")
        .expect("<|endoftext|> in the tokenizer");
    let _ = std::fs::remove_dir_all(out);
    let start = Instant::now();
    let prepared = prepare(&PrepareInputs {
        data: &data,
        seeds: Seeds::new(0),
        tokenizer: &tok,
        tokenizer_blake3: digest,
        eos_id,
        filter: &PassThrough,
        out,
        on_documents: &|_| {},
        chat: None,
    })
    .expect("prepare");
    let secs = start.elapsed().as_secs_f64();
    let bytes: u64 = prepared.manifest.sources.iter().map(|s| s.bytes).sum();
    let tokens: u64 = prepared.manifest.splits.values().map(|s| s.tokens).sum();
    println!(
        "{}",
        serde_json::json!({
            "seconds": secs,
            "mb_s": bytes as f64 / 1e6 / secs,
            "tokens": tokens,
            "peak_rss_bytes": peak_rss(),
        })
    );
}
