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

/// Largest file `codex safety redact` reads.
const REDACT_LIMIT: u64 = 1 << 30;

/// `codex safety redact`: each input (a file, or stdin) through the
/// policy's redact and block rules, to stdout, with a count of what changed.
fn redact(
    stage: &str,
    policy: Option<&Path>,
    config: Option<PathBuf>,
    inputs: Vec<String>,
) -> Result<String> {
    // A word that names a file is a file; otherwise `key=value` is an override.
    let (overrides, files): (Vec<String>, Vec<String>) = inputs
        .into_iter()
        .partition(|a| a != "-" && a.contains('=') && !Path::new(a).exists());
    let args = crate::cli::ConfigArgs { config, overrides };
    let cfg = loader(&args).load()?.config;
    let stage: Stage = stage
        .parse()
        .map_err(|e: String| anyhow::anyhow!("--stage: {e}"))?;
    let scanner = Scanner::new(codex_safety::policy_for(
        policy,
        cfg.safety.policy.as_deref(),
    )?);
    let files = if files.is_empty() {
        vec!["-".to_owned()]
    } else {
        files
    };
    let mut out = String::new();
    for name in &files {
        let bytes = if name == "-" {
            let mut bytes = Vec::new();
            std::io::stdin()
                .read_to_end(&mut bytes)
                .context("cannot read stdin")?;
            bytes
        } else {
            let read = codex_core::untrusted::read_regular(Path::new(name), REDACT_LIMIT)
                .map_err(|e| TrainError::input(name, format!("cannot read: {e}")))?;
            if read.truncated {
                return Err(TrainError::input(
                    name,
                    format!("larger than {REDACT_LIMIT} bytes, not redacted"),
                )
                .into());
            }
            read.bytes
        };
        let text = String::from_utf8_lossy(&bytes);
        let scanned = scanner.scan_all(&text, Some(stage));
        let matches = scanned.findings;
        for m in &matches {
            tracing::debug!(
                "{name}: {} {} at bytes {}..{}",
                m.action,
                m.rule_id,
                m.span.start,
                m.span.end
            );
        }
        let shown = if name == "-" { "stdin" } else { name.as_str() };
        let redacted = matches
            .iter()
            .filter(|m| {
                matches!(
                    m.action,
                    codex_safety::Action::Redact | codex_safety::Action::Block
                )
            })
            .count();
        let allowed = scanned.allowlisted.len();
        tracing::info!(
            "{shown}: {redacted} span{} redacted{}",
            if redacted == 1 { "" } else { "s" },
            if allowed > 0 {
                format!(
                    "; {allowed} match{} allowlisted by the policy (documentation examples, @example.com addresses, allowlists, codex:allow) left as they are",
                    if allowed == 1 { "" } else { "es" }
                )
            } else {
                String::new()
            }
        );
        out.push_str(&Scanner::redact(&text, &matches));
    }
    Ok(out)
}

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
            stage,
            policy,
            config,
            inputs,
        } => redact(&stage, policy.as_deref(), config, inputs),
    }
}

fn scan(
    paths: &[PathBuf],
    format: ScanFormat,
    fail_on: Option<String>,
    flag: Option<&Path>,
    config: Option<PathBuf>,
) -> Result<String> {
    // A path the user named that is not there is bad input; what cannot be
    // read inside a tree is a finding of the scan.
    for p in paths {
        if let Err(e) = std::fs::symlink_metadata(p)
            && e.kind() == std::io::ErrorKind::NotFound
        {
            return Err(TrainError::input(p.display(), "no such file or directory").into());
        }
    }
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
