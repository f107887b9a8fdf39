//! `codex audit [PATH]` and `codex audit repo-map [PATH]`: `codex_audit::run_job`
//! with a progress bar and a summary.

use std::path::{Path, PathBuf};

use anyhow::Result;
use codex_audit::{AuditError, AuditOutcome, AuditRequest, InventoryOptions, run_job};

use super::FoundWithOutput;
use crate::cli::AuditCommand;

/// Trees with at least this many files get a progress bar.
const PROGRESS_MIN_FILES: usize = 2_000;

fn repo_map(path: &Path) -> Result<String> {
    if !path.is_dir() {
        return Err(AuditError::NotADirectory {
            path: path.to_owned(),
        }
        .into());
    }
    let walked = codex_audit::inventory::walk(path);
    let options = InventoryOptions {
        max_hash_bytes: 0,
        ..InventoryOptions::default()
    };
    let (files, _) = codex_audit::inventory::inventory(path, &walked.files, &options);
    let (map, _) = codex_audit::repomap::repo_map(path, &files);
    Ok(codex_audit::repo_map_markdown(&map))
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
    (max_hash_bytes, max_parse_bytes): (u64, u64),
    blake3: bool,
    stamp: Option<String>,
    fail_on: &[String],
    cache: Option<PathBuf>,
) -> Result<String> {
    if let Some(AuditCommand::RepoMap { path }) = command {
        return repo_map(&path);
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
            max_parse_bytes,
            cache,
            ..InventoryOptions::default()
        },
        generated_at: codex_audit::generated_at(
            stamp.as_deref(),
            std::env::var("SOURCE_DATE_EPOCH").ok().as_deref(),
        )?,
        fail_on: fail_on
            .iter()
            .map(|f| f.parse())
            .collect::<Result<_, _>>()?,
    };
    // A bar on stderr for large trees (indicatif draws only on a terminal).
    let bar = indicatif::ProgressBar::hidden();
    let on_file = |done: usize, total: usize| {
        if total < PROGRESS_MIN_FILES {
            return;
        }
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
    };
    let outcome = run_job(&request, &on_file);
    bar.finish_and_clear();
    render(path, &outcome?)
}

fn render(path: &Path, outcome: &AuditOutcome) -> Result<String> {
    let text = outcome.to_text(path);
    if outcome.failed_checks.is_empty() {
        return Ok(text);
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
