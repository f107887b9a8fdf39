//! `codex audit [PATH]` and `codex audit repo-map [PATH]`.

use std::path::Path;

use anyhow::{Context, Result, bail};
use codex_audit::{InventoryOptions, run_audit_with_progress, write_reports};

use super::CheckFailed;
use crate::cli::AuditCommand;

/// Trees with at least this many files get a progress bar.
const PROGRESS_MIN_FILES: usize = 2_000;

/// The report's time field: the flag, else `SOURCE_DATE_EPOCH`, else now.
fn timestamp(flag: Option<String>) -> Result<String> {
    if let Some(t) = flag {
        chrono::DateTime::parse_from_rfc3339(&t)
            .with_context(|| format!("--timestamp `{t}` is not RFC 3339"))?;
        return Ok(t);
    }
    if let Ok(epoch) = std::env::var("SOURCE_DATE_EPOCH") {
        let secs: i64 = epoch
            .trim()
            .parse()
            .with_context(|| format!("SOURCE_DATE_EPOCH `{epoch}` is not a number of seconds"))?;
        let t = chrono::DateTime::from_timestamp(secs, 0)
            .with_context(|| format!("SOURCE_DATE_EPOCH `{epoch}` is out of range"))?;
        return Ok(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    }
    Ok(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

#[allow(
    clippy::too_many_arguments,
    reason = "one argument per command-line option"
)]
pub(super) fn run(
    command: Option<AuditCommand>,
    path: &Path,
    out: &Path,
    formats: &[String],
    max_hash_bytes: u64,
    blake3: bool,
    stamp: Option<String>,
    fail_on: &[String],
) -> Result<String> {
    if let Some(AuditCommand::RepoMap { path }) = command {
        if !path.is_dir() {
            bail!("{}: not a directory", path.display());
        }
        let (paths, _) = codex_audit::inventory::walk(&path);
        let (files, _) = codex_audit::inventory::inventory(
            &path,
            &paths,
            &InventoryOptions {
                max_hash_bytes: 0,
                ..InventoryOptions::default()
            },
        );
        return Ok(codex_audit::repo_map_markdown(
            &codex_audit::repomap::repo_map(&path, &files),
        ));
    }
    for f in formats {
        if !["json", "md"].contains(&f.as_str()) {
            bail!("--format `{f}`: expected json or md");
        }
    }
    let mut fail_placeholders = false;
    let mut fail_complexity: Option<u32> = None;
    for f in fail_on {
        match f.as_str() {
            "placeholders" => fail_placeholders = true,
            c if c.starts_with("complexity>") => {
                let n = c["complexity>".len()..]
                    .parse()
                    .with_context(|| format!("--fail-on `{c}`: N must be a whole number"))?;
                fail_complexity = Some(n);
            }
            other => bail!("--fail-on `{other}`: expected `placeholders` or `complexity>N`"),
        }
    }
    if !path.is_dir() {
        bail!("{}: not a directory", path.display());
    }
    let generated_at = timestamp(stamp)?;
    // A bar on stderr for large trees (indicatif draws only on a terminal).
    let bar = indicatif::ProgressBar::hidden();
    let on_file = |done: usize, total: usize| {
        if total >= PROGRESS_MIN_FILES {
            if bar.is_hidden() && done == 1 {
                bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
                bar.set_style(
                    indicatif::ProgressStyle::with_template(
                        "{spinner} audit {pos}/{len} files {wide_bar} {per_sec} eta {eta}",
                    )
                    .expect("valid template"),
                );
                bar.set_length(total as u64);
            }
            bar.set_position(done as u64);
        }
    };
    let audit = run_audit_with_progress(
        path,
        &InventoryOptions {
            max_hash_bytes,
            blake3,
            ..InventoryOptions::default()
        },
        generated_at,
        &on_file,
    );
    bar.finish_and_clear();
    let written = write_reports(&audit, out, formats)?;
    codex_audit::append_errors(&audit.errors, &path.join(".codex/errors.ndjson"))
        .context("cannot write .codex/errors.ndjson")?;
    let mut text = format!(
        "audited {}: {} files, {} languages, {} placeholders, {} failed steps\n",
        path.display(),
        audit.files.len(),
        audit.languages.len(),
        audit.placeholders.len(),
        audit.errors.len()
    );
    for w in written {
        text.push_str(&format!("wrote {}\n", w.display()));
    }
    if fail_placeholders && !audit.placeholders.is_empty() {
        return Err(CheckFailed(format!(
            "{text}{} placeholders found (--fail-on placeholders)",
            audit.placeholders.len()
        ))
        .into());
    }
    if let Some(n) = fail_complexity {
        let over: Vec<String> = audit
            .functions
            .iter()
            .filter(|f| f.complexity > n)
            .map(|f| format!("{}:{} {} ({})", f.path, f.line_start, f.name, f.complexity))
            .collect();
        if !over.is_empty() {
            return Err(CheckFailed(format!(
                "{text}{} functions above complexity {n}: {}",
                over.len(),
                over.join(", ")
            ))
            .into());
        }
    }
    Ok(text)
}
