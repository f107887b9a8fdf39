//! `codex data synth | prepare | inspect | verify`.

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use codex_data::{Inspection, Prepared, SPLITS};
use codex_tokenize::AnyTokenizer;

use super::config::loader;
use crate::cli::{ConfigArgs, DataCommand};

pub(super) fn run(cmd: DataCommand) -> Result<String> {
    match cmd {
        DataCommand::Synth { size, seed, out } => {
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
            inspection_table(&ins, tok.as_ref())
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
    let cfg = loader(config).load()?.config;
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
    Ok(prepared_table(out, &prepared))
}

fn prepared_table(out: &Path, prepared: &Prepared) -> String {
    let m = &prepared.manifest;
    let mut text = if prepared.cached {
        format!(
            "{} is up to date (same sources, tokenizer and settings); nothing to do\n",
            out.display()
        )
    } else {
        format!("prepared {} in {:.1}s\n", out.display(), m.duration_secs)
    };
    for name in SPLITS {
        let s = m.split(name);
        let _ = writeln!(
            text,
            "  {name:<10} {:>9} documents {:>11} tokens {:>3} shards",
            s.documents,
            s.tokens,
            s.shards.len()
        );
    }
    if m.duplicates_removed > 0 || m.records_skipped > 0 {
        let _ = writeln!(
            text,
            "  {} duplicates removed, {} malformed records skipped",
            m.duplicates_removed, m.records_skipped
        );
    }
    text
}

fn inspection_table(ins: &Inspection, tok: Option<&AnyTokenizer>) -> Result<String> {
    let mut out = String::new();
    for (name, (docs, tokens, shards)) in &ins.splits {
        writeln!(
            out,
            "{name:<10} {docs:>9} documents {tokens:>11} tokens {shards:>3} shards"
        )?;
    }
    writeln!(out, "training documents by length in tokens:")?;
    let max = ins.length_histogram.iter().map(|b| b.1).max().unwrap_or(1);
    let mut lower = 1;
    for (upper, count) in &ins.length_histogram {
        let bar = "#".repeat(((count * 40).div_ceil(max)) as usize);
        writeln!(out, "  {lower:>6}-{upper:<6} {count:>9}  {bar}")?;
        lower = upper + 1;
    }
    for (i, ids) in ins.samples.iter().enumerate() {
        match tok {
            Some(t) => writeln!(out, "sample {i}: {}", t.decode(ids, false)?)?,
            None => writeln!(
                out,
                "sample {i}: {} tokens {:?}",
                ids.len(),
                &ids[..ids.len().min(24)]
            )?,
        }
    }
    Ok(out)
}
