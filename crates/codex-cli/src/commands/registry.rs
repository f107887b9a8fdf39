//! `codex registry list`: every registered component, by kind.

use std::fmt::Write;

use anyhow::Result;
use codex_core::{PassThrough, Registry, TextFilter};
use codex_model::Backend;

use crate::cli::RegistryCommand;

/// Every registry of this build: each library crate lists its own kinds;
/// the binary adds the text filters it plugs in.
pub(crate) fn catalog() -> Result<Vec<Registry<()>>> {
    fn names<T>(r: &Registry<T>) -> Result<Registry<()>> {
        let mut out = Registry::new(r.kind());
        for e in r.iter() {
            out.register(e.name.clone(), e.description.clone(), ())?;
        }
        Ok(out)
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
    Ok(vec![
        names(&codex_model::backend_registry())?,
        filters,
        codex_tokenize::registry(),
        names(&codex_data::formats())?,
        names(&codex_model::architectures())?,
        names(&codex_eval::registry())?,
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
