//! The complexity part of `codex audit` alone: walk a tree, read every file
//! the audit analyzes (Python, Rust, JavaScript, TypeScript, Go, at most
//! 1 MiB, the audit's default) and find its functions and their complexity
//! with `codex_audit::complexity::analyze`, nothing else. This is the work
//! lizard does, so `cargo xtask bench audit` times it against lizard, both on
//! one thread (`RAYON_NUM_THREADS=1`). Prints one JSON line.
//!
//! `cargo run --release -p codex-audit --example complexity_part -- PATH`
#![allow(clippy::print_stdout, reason = "a benchmark prints its result")]

use std::path::Path;
use std::time::Instant;

use codex_audit::complexity::{Parsed, analyze};
use rayon::prelude::*;

fn language(path: &Path) -> Option<&'static str> {
    Some(match path.extension()?.to_str()? {
        "py" | "pyi" => "Python",
        "rs" => "Rust",
        "js" | "mjs" | "cjs" | "jsx" => "JavaScript",
        "ts" | "mts" | "cts" | "tsx" => "TypeScript",
        "go" => "Go",
        _ => return None,
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = std::env::args()
        .nth(1)
        .ok_or("usage: complexity_part PATH")?;
    let start = Instant::now();
    let paths = codex_audit::inventory::walk(Path::new(&root)).files;
    let (files, bytes, functions, failed) = paths
        .par_iter()
        .filter_map(|p| {
            let lang = language(p)?;
            let text = std::fs::read_to_string(p).ok()?;
            if text.len() > 1 << 20 {
                return None;
            }
            let (functions, failed) = match analyze(&p.to_string_lossy(), Some(lang), &text) {
                Parsed::Functions(f) => (f.len(), 0),
                Parsed::Failed(_) => (0, 1),
                Parsed::Unsupported => (0, 0),
            };
            Some((1usize, text.len(), functions, failed))
        })
        .reduce(
            || (0, 0, 0, 0),
            |a, b| (a.0 + b.0, a.1 + b.1, a.2 + b.2, a.3 + b.3),
        );
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({
            "seconds": seconds,
            "files": files,
            "bytes": bytes,
            "functions": functions,
            "failed": failed,
        })
    );
    Ok(())
}
