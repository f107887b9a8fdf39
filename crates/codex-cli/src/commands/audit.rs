//! `codex audit [PATH]` and `codex audit repo-map [PATH]`.

use std::path::Path;

use anyhow::{Context, Result};
use codex_audit::{AuditError, AuditRequest, InventoryOptions, run_job};

use super::FoundWithOutput;
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
            return Err(AuditError::NotADirectory { path }.into());
        }
        let walked = codex_audit::inventory::walk(&path);
        let (files, _) = codex_audit::inventory::inventory(
            &path,
            &walked.files,
            &InventoryOptions {
                max_hash_bytes: 0,
                ..InventoryOptions::default()
            },
        );
        return Ok(codex_audit::repo_map_markdown(
            &codex_audit::repomap::repo_map(&path, &files).0,
        ));
    }
    let request = AuditRequest {
        root: path.to_owned(),
        out: out.to_owned(),
        formats: formats
            .iter()
            .map(|f| f.parse())
            .collect::<Result<_, _>>()?,
        options: InventoryOptions {
            max_hash_bytes,
            blake3,
            ..InventoryOptions::default()
        },
        generated_at: timestamp(stamp)?,
        fail_on: fail_on
            .iter()
            .map(|f| f.parse())
            .collect::<Result<_, _>>()?,
    };
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
    let outcome = run_job(&request, &on_file);
    bar.finish_and_clear();
    let outcome = outcome?;
    let audit = &outcome.audit;
    let mut text = format!(
        "audited {}: {} files, {} languages, {} placeholders, {} not audited, {} failed steps\n",
        path.display(),
        audit.files.len(),
        audit.languages.len(),
        audit.placeholders.len(),
        audit.skipped.len(),
        audit.errors.len()
    );
    for w in &outcome.written {
        text.push_str(&format!("wrote {}\n", w.display()));
    }
    if outcome.failed_checks.is_empty() {
        return Ok(text);
    }
    for failed in &outcome.failed_checks {
        text.push_str(&format!(
            "--fail-on {}: {} found\n",
            failed.rule,
            failed.found.len()
        ));
        for f in &failed.found {
            text.push_str(&format!("  {f}\n"));
        }
    }
    let rules: Vec<String> = outcome
        .failed_checks
        .iter()
        .map(|f| f.rule.to_string())
        .collect();
    Err(FoundWithOutput {
        stdout: text,
        message: format!("the audit failed --fail-on {}", rules.join(", ")),
    }
    .into())
}
