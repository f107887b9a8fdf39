//! `codex data synth | prepare | inspect | verify`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use codex_tokenize::AnyTokenizer;

use super::config::loader;
use crate::cli::{ConfigArgs, DataCommand};

pub(super) fn run(cmd: DataCommand) -> Result<String> {
    match cmd {
        DataCommand::Synth {
            kind,
            size,
            examples,
            heldout,
            seed,
            out,
        } => {
            if kind == "chat" {
                let n = examples.ok_or_else(|| {
                    codex_train::TrainError::input("--examples", "is required with --kind chat")
                })?;
                let mut written = 0;
                codex_core::write_atomic(&out, |f| {
                    written = codex_data::synth::write_chat(f, n, seed, heldout)
                        .with_context(|| format!("cannot write `{}`", out.display()))?;
                    anyhow::Ok(())
                })?;
                let which = if heldout { "held-out" } else { "training" };
                return Ok(format!(
                    "wrote {n} chat examples ({which} questions, seed {seed}, {written} bytes) to {}\n",
                    out.display()
                ));
            }
            let size = size.ok_or_else(|| {
                codex_train::TrainError::input(
                    "--size",
                    "is required with --kind text (e.g. --size 10MB)",
                )
            })?;
            let bytes = codex_data::synth::parse_size(&size).with_context(|| {
                format!("cannot read size `{size}`: use e.g. 10MB, 1.5GB or 512KiB")
            })?;
            let mut written = 0;
            codex_core::write_atomic(&out, |f| {
                written = codex_data::synth::write_corpus(f, bytes, seed)
                    .with_context(|| format!("cannot write `{}`", out.display()))?;
                anyhow::Ok(())
            })?;
            Ok(format!(
                "wrote {written} bytes of synthetic corpus (seed {seed}) to {}\n",
                out.display()
            ))
        }
        DataCommand::Prepare {
            config,
            out,
            tokenizer,
        } => prepare(&config, &out, tokenizer),
        DataCommand::Inspect {
            dir,
            tokenizer,
            samples,
            json,
        } => {
            let ins = codex_data::inspect(&dir, samples)?;
            if json {
                return Ok(serde_json::to_string_pretty(&ins)? + "\n");
            }
            let tok = tokenizer.map(AnyTokenizer::from_file).transpose()?;
            let tok = tok.as_ref().map(|t| t as &dyn codex_core::Tokenizer);
            ins.to_text(tok).map_err(|e| anyhow::anyhow!(e))
        }
        DataCommand::Verify { dir } => {
            let m = codex_data::verify(&dir)?;
            let shards: usize = m.splits.values().map(|s| s.shards.len()).sum();
            if shards == 0 {
                bail!("`{}` has no shards", dir.display());
            }
            Ok(format!(
                "{shards} shards in {} match the manifest\n",
                dir.display()
            ))
        }
    }
}

fn prepare(config: &ConfigArgs, out: &Path, tokenizer: Option<PathBuf>) -> Result<String> {
    // An argument that names a file or directory, or has no `=`, is a
    // source; the rest are overrides.
    let (sources, overrides): (Vec<String>, Vec<String>) = config
        .overrides
        .iter()
        .cloned()
        .partition(|a| !a.contains('=') || Path::new(a).exists());
    let args = ConfigArgs {
        config: config.config.clone(),
        overrides,
    };
    let mut cfg = loader(&args).load()?.config;
    if !sources.is_empty() {
        cfg.data.sources = sources.into_iter().map(PathBuf::from).collect();
    }
    let tok_path = tokenizer.or(cfg.tokenizer.path.clone()).context(
        "no tokenizer: pass --tokenizer or set tokenizer.path (train one with `codex tokenizer train`)",
    )?;
    let tok = AnyTokenizer::from_file(&tok_path)?;
    let filter =
        codex_safety::filter_for(&cfg.safety, Some(&out.join("safety").join("events.ndjson")))?;
    let bar = if std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new_spinner()
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {pos} documents {per_sec}")
            .expect("valid template"),
    );
    let prepared =
        codex_data::prepare_with_tokenizer(&cfg, &tok, &tok_path, &*filter, out, &|n| {
            bar.set_position(n)
        })?;
    bar.finish_and_clear();
    for d in &prepared.diagnostics {
        tracing::warn!("{d}");
    }
    Ok(prepared.to_text(out))
}
