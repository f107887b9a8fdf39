//! The floor of `codex audit`'s design: walk a tree, read every file the audit
//! would parse (Python, Rust, JavaScript, TypeScript, Go, at most 1 MiB) and
//! parse it with tree-sitter, nothing else. Prints one JSON line; `cargo
//! xtask bench audit` sets it beside the full audit, tokei and scc.
//!
//! `cargo run --release -p codex-audit --example parse_floor -- PATH`
#![allow(clippy::print_stdout, reason = "a benchmark prints its result")]

use std::cell::RefCell;
use std::path::Path;
use std::time::Instant;

use rayon::prelude::*;

fn grammar(path: &Path) -> Option<(usize, tree_sitter::Language)> {
    let ext = path.extension()?.to_str()?;
    Some(match ext {
        "py" | "pyi" => (0, tree_sitter_python::LANGUAGE.into()),
        "rs" => (1, tree_sitter_rust::LANGUAGE.into()),
        "js" | "mjs" | "cjs" | "jsx" => (2, tree_sitter_javascript::LANGUAGE.into()),
        "ts" | "mts" | "cts" => (3, tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into()),
        "tsx" => (4, tree_sitter_typescript::LANGUAGE_TSX.into()),
        "go" => (5, tree_sitter_go::LANGUAGE.into()),
        _ => return None,
    })
}

thread_local! {
    static PARSERS: RefCell<Vec<Option<tree_sitter::Parser>>> = RefCell::new((0..6).map(|_| None).collect());
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = std::env::args().nth(1).ok_or("usage: parse_floor PATH")?;
    let start = Instant::now();
    let paths = codex_audit::inventory::walk(Path::new(&root)).files;
    let (files, bytes, nodes) = paths
        .par_iter()
        .filter_map(|p| {
            let (key, language) = grammar(p)?;
            let text = std::fs::read(p).ok()?;
            if text.len() > 1 << 20 {
                return None;
            }
            let nodes = PARSERS.with(|cell| {
                let mut parsers = cell.borrow_mut();
                let parser = parsers[key].get_or_insert_with(|| {
                    let mut parser = tree_sitter::Parser::new();
                    parser.set_language(&language).expect("grammar loads");
                    parser
                });
                parser
                    .parse(&text, None)
                    .map_or(0, |t| t.root_node().descendant_count())
            });
            Some((1usize, text.len(), nodes))
        })
        .reduce(|| (0, 0, 0), |a, b| (a.0 + b.0, a.1 + b.1, a.2 + b.2));
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({ "seconds": seconds, "files": files, "bytes": bytes, "nodes": nodes })
    );
    Ok(())
}
