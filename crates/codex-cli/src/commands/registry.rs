//! `codex registry list`: every registered component, by kind.

use std::fmt::Write;

use anyhow::{Context, Result};
use codex_core::config::{DataFormat, TokenizerKind};
use codex_core::{PassThrough, Registry, TextFilter};
use codex_model::Backend;

use crate::cli::RegistryCommand;

/// The name a configuration uses for an enum value (its serde form).
fn enum_name(value: &impl serde::Serialize) -> Result<String> {
    Ok(serde_json::to_value(value)?
        .as_str()
        .context("a config enum serializes to a string")?
        .to_owned())
}

/// The registries of this build. Each library crate adds its own kinds as it
/// grows (metrics, architectures, tokenizers, sinks); the binary assembles them.
pub(crate) fn catalog() -> Result<Vec<Registry<()>>> {
    let mut backends = Registry::new("backend");
    for b in codex_model::compiled_backends() {
        backends.register(b.feature(), b.description(), ())?;
    }
    let mut filters = Registry::new("text-filter");
    filters.register(
        PassThrough.name(),
        "keeps every text unchanged; used when safety.enabled is false",
        (),
    )?;
    filters.register(
        "codex-safety",
        "secrets, personal data and prompt injection by policy (configs/safety/default.yaml)",
        (),
    )?;
    let mut tokenizers = Registry::new("tokenizer");
    for (kind, description) in [
        (
            TokenizerKind::Bpe,
            "byte-level BPE (GPT-2 style), reproducible training",
        ),
        (
            TokenizerKind::Unigram,
            "Unigram language model (SentencePiece style), exportable as .model",
        ),
        (TokenizerKind::Wordpiece, "WordPiece (BERT style)"),
        (TokenizerKind::Wordlevel, "whole-word vocabulary"),
    ] {
        tokenizers.register(enum_name(&kind)?, description, ())?;
    }
    tokenizers.register(
        "sentencepiece",
        "load Google SentencePiece .model files (Unigram, BPE) in pure Rust",
        (),
    )?;
    let mut formats = Registry::new("data-format");
    for (format, description) in [
        (DataFormat::Lines, "one document per line"),
        (DataFormat::Blocks, "whole files split by data.separator"),
        (
            DataFormat::Jsonl,
            "JSON lines: text fields or chat messages",
        ),
        (DataFormat::Csv, "a CSV column or several"),
        (
            DataFormat::Auto,
            "by extension; .gz and .zst are decompressed",
        ),
    ] {
        formats.register(enum_name(&format)?, description, ())?;
    }
    let mut architectures = Registry::new("architecture");
    for entry in codex_model::architectures().iter() {
        architectures.register(entry.name.clone(), entry.description.clone(), ())?;
    }
    let mut metrics = Registry::new("metric");
    for entry in codex_eval::registry().iter() {
        metrics.register(entry.name.clone(), entry.description.clone(), ())?;
    }
    Ok(vec![
        backends,
        filters,
        tokenizers,
        formats,
        architectures,
        metrics,
    ])
}

pub(super) fn run(cmd: RegistryCommand) -> Result<String> {
    let RegistryCommand::List { json } = cmd;
    let catalog = catalog()?;
    if json {
        let rows: Vec<_> = catalog
            .iter()
            .flat_map(|r| {
                r.iter().map(|e| {
                    serde_json::json!({"kind": r.kind(), "name": e.name, "description": e.description})
                })
            })
            .collect();
        let mut s = serde_json::to_string_pretty(&rows)?;
        s.push('\n');
        return Ok(s);
    }
    let kind_w = catalog.iter().map(|r| r.kind().len()).max().unwrap_or(0);
    let name_w = catalog
        .iter()
        .flat_map(|r| r.iter().map(|e| e.name.len()))
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    writeln!(out, "{:kind_w$}  {:name_w$}  DESCRIPTION", "KIND", "NAME")?;
    for r in &catalog {
        for e in r.iter() {
            writeln!(
                out,
                "{:kind_w$}  {:name_w$}  {}",
                r.kind(),
                e.name,
                e.description
            )?;
        }
    }
    let missing: Vec<_> = Backend::ALL
        .iter()
        .filter(|b| !b.is_compiled())
        .map(|b| b.feature())
        .collect();
    if !missing.is_empty() {
        writeln!(
            out,
            "\nbackends not compiled in: {} (cargo features)",
            missing.join(", ")
        )?;
    }
    Ok(out)
}
