//! Times codex-eval's corpus BLEU, chrF and ROUGE-L on parallel files and
//! prints one JSON line: scores, seconds per metric and peak RSS.
//!
//! `cargo run --release -p codex-eval --example bench_eval -- HYP REF [--threads N]`
//! (driven by `cargo xtask bench eval`, which also runs sacreBLEU and rouge-score).
#![allow(clippy::print_stdout, reason = "a benchmark prints its result")]

use std::path::PathBuf;
use std::time::Instant;

use codex_eval::input::read_lines;
use codex_eval::metric::{Corpus, Metric, MetricSettings};

/// Peak resident set size of this process in bytes (Linux `VmHWM`).
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (hyp, reference) = (PathBuf::from(&args[0]), PathBuf::from(&args[1]));
    if let Some(i) = args.iter().position(|a| a == "--threads") {
        let n: usize = args[i + 1].parse()?;
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()?;
    }
    let t = Instant::now();
    let hyps = read_lines(&hyp)?;
    let refs: Vec<Vec<String>> = read_lines(&reference)?
        .into_iter()
        .map(|r| vec![r])
        .collect();
    let read_s = t.elapsed().as_secs_f64();
    let corpus = Corpus { hyps, refs };
    let registry = codex_eval::registry();
    let settings = MetricSettings::default();
    let mut out = serde_json::Map::new();
    out.insert("impl".into(), "codex".into());
    out.insert("pairs".into(), corpus.len().into());
    out.insert("threads".into(), rayon::current_num_threads().into());
    out.insert("read_seconds".into(), read_s.into());
    let mut total = 0.0;
    for name in ["bleu", "chrf", "rougeL"] {
        let metric: Box<dyn Metric> = (registry.get(name)?.value)(&settings);
        let t = Instant::now();
        let scored = metric.score(&corpus)?;
        let value = scored.corpus(&vec![1; scored.len()])[0];
        let secs = t.elapsed().as_secs_f64();
        total += secs;
        out.insert(
            name.into(),
            serde_json::json!({ "score": value, "seconds": secs }),
        );
    }
    out.insert("total_seconds".into(), total.into());
    out.insert("peak_rss_bytes".into(), peak_rss().into());
    println!("{}", serde_json::Value::Object(out));
    Ok(())
}
