//! `codex registry list`: every registered component, by kind.

use std::fmt::Write;

use anyhow::Result;
use codex_core::{PassThrough, Registry, TextFilter};
use codex_model::Backend;

use crate::cli::RegistryCommand;

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
    Ok(vec![backends, filters])
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
