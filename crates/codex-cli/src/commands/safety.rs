//! `codex safety scan | redact`, and the text filter the jobs use.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use codex_core::Stage;
use codex_core::config::AppConfig;
use codex_safety::scan::{sarif, scan_paths, table};
use codex_safety::{Level, SafetyError, Scanner};
use codex_train::TrainError;

use super::FoundWithOutput;
use super::config::loader;
use crate::cli::{SafetyCommand, ScanFormat};

/// The safety filter of a job: codex-safety's policy for the job's
/// configuration, its decisions logged where the job says.
pub(crate) fn filter_maker()
-> impl Fn(&AppConfig, Option<&Path>) -> Result<Box<dyn codex_core::TextFilter>, TrainError> {
    |cfg, events| {
        if codex_safety::bypassed() {
            tracing::warn!(
                "CODEX_SAFETY_BYPASS=1: safety filtering is OFF for this command; recorded in the audit trail"
            );
        }
        codex_safety::filter_for(&cfg.safety, events).map_err(|e| TrainError::Filter {
            bad_input: matches!(e, SafetyError::Policy { .. } | SafetyError::Rule { .. }),
            message: e.to_string(),
        })
    }
}

pub(super) fn run(cmd: SafetyCommand) -> Result<String> {
    match cmd {
        SafetyCommand::Scan {
            paths,
            format,
            fail_on,
            policy: flag,
            config,
        } => scan(&paths, format, fail_on, flag.as_deref(), config),
        SafetyCommand::Redact {
            stage: s,
            policy: flag,
            config,
        } => {
            let cfg = loader(&config).load()?.config;
            let stage: Stage = s
                .parse()
                .map_err(|e: String| anyhow::anyhow!("--stage: {e}"))?;
            let scanner = Scanner::new(codex_safety::policy_for(
                flag.as_deref(),
                cfg.safety.policy.as_deref(),
            )?);
            let mut bytes = Vec::new();
            std::io::stdin()
                .read_to_end(&mut bytes)
                .context("cannot read stdin")?;
            let text = String::from_utf8_lossy(&bytes);
            let matches = scanner.scan(&text, Some(stage));
            for m in &matches {
                tracing::info!(
                    "{} {} at bytes {}..{}",
                    m.action,
                    m.rule_id,
                    m.span.start,
                    m.span.end
                );
            }
            Ok(Scanner::redact(&text, &matches))
        }
    }
}

fn scan(
    paths: &[PathBuf],
    format: ScanFormat,
    fail_on: Option<String>,
    flag: Option<&Path>,
    config: Option<PathBuf>,
) -> Result<String> {
    let cfg = loader(&crate::cli::ConfigArgs {
        config,
        overrides: Vec::new(),
    })
    .load()?
    .config;
    let threshold = fail_on
        .as_deref()
        .unwrap_or(&cfg.safety.fail_on)
        .parse::<Level>()
        .map_err(|e| anyhow::anyhow!("--fail-on: {e}"))?;
    let scanner = Scanner::new(codex_safety::policy_for(
        flag,
        cfg.safety.policy.as_deref(),
    )?);
    for p in paths {
        if std::fs::symlink_metadata(p).is_err() {
            bail!("{}: no such file or directory", p.display());
        }
    }
    let report = scan_paths(&scanner, paths);
    let mut out = match format {
        ScanFormat::Table => table(&report),
        ScanFormat::Json => serde_json::to_string_pretty(&report)?,
        ScanFormat::Sarif => serde_json::to_string_pretty(&sarif(&report, &scanner))?,
    };
    out.push('\n');
    match report.failure(threshold) {
        None => Ok(out),
        Some(message) => Err(FoundWithOutput {
            stdout: out,
            message,
        }
        .into()),
    }
}
