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
        names(&codex_model::families())?,
        names(&codex_model::architectures())?,
        names(&codex_eval::registry())?,
    ])
}

pub(super) fn run(cmd: RegistryCommand) -> Result<String> {
    let RegistryCommand::List { json } = cmd;
    let catalog = catalog()?;
    if json {
        return Ok(serde_json::to_string_pretty(&codex_core::catalog_json(&catalog))? + "\n");
    }
    let mut out = codex_core::catalog_text(&catalog);
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
