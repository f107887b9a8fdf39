//! `codex safety scan | redact`, and the text filter the other commands use.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use codex_core::config::AppConfig;
use codex_core::{PassThrough, Stage, TextFilter};
use codex_safety::scan::{sarif, scan_paths, table};
use codex_safety::{EventLog, Level, LoggedFilter, Policy, Scanner};

use super::FoundWithOutput;
use super::config::loader;
use crate::cli::{SafetyCommand, ScanFormat};

/// The policy for a command: `--policy`, else `CODEX_SAFETY_POLICY`, else
/// `safety.policy`, else the built-in one.
fn policy(flag: Option<&Path>, cfg: &AppConfig) -> Result<Policy> {
    Ok(match flag {
        Some(p) => Policy::load(p)?,
        None => codex_safety::resolve_policy(cfg.safety.policy.as_deref())?,
    })
}

/// The filter for data, prompts and outputs of a run: the policy's scanner,
/// logging every decision to `events` when given; pass-through when
/// `safety.enabled` is false or `CODEX_SAFETY_BYPASS=1` (which is logged loudly).
pub(crate) fn filter_for(cfg: &AppConfig, events: Option<&Path>) -> Result<Box<dyn TextFilter>> {
    if codex_safety::bypassed() {
        tracing::warn!(
            "CODEX_SAFETY_BYPASS=1: safety filtering is OFF for this command; recorded in the audit trail"
        );
        if let Some(path) = events {
            EventLog::open(path)?.record_bypass("CODEX_SAFETY_BYPASS=1")?;
        }
        return Ok(Box::new(PassThrough));
    }
    if !cfg.safety.enabled {
        return Ok(Box::new(PassThrough));
    }
    let scanner = Scanner::new(codex_safety::resolve_policy(cfg.safety.policy.as_deref())?);
    Ok(match events {
        Some(path) => Box::new(LoggedFilter::new(scanner, EventLog::open(path)?)),
        None => Box::new(scanner),
    })
}

/// `text` after `filter` at `stage`: redacted, kept, or an error naming the
/// rules that blocked `what`.
pub(crate) fn apply(
    filter: &dyn TextFilter,
    text: String,
    stage: Stage,
    what: &str,
) -> Result<String> {
    let filtered = filter.filter(&text, stage);
    Ok(match filtered.verdict {
        codex_core::Verdict::Keep => text,
        codex_core::Verdict::Redact(t) => t,
        codex_core::Verdict::Drop => {
            let rules: Vec<&str> = filtered
                .findings
                .iter()
                .map(|f| f.rule_id.as_str())
                .collect();
            bail!(
                "{what} was blocked by the safety policy (rules: {})",
                rules.join(", ")
            )
        }
    })
}

fn level(s: &str) -> Result<Level> {
    s.parse::<Level>()
        .map_err(|e| anyhow::anyhow!("--fail-on: {e}"))
}

fn stage(s: &str) -> Result<Stage> {
    Ok(match s {
        "data" => Stage::Data,
        "prompt" => Stage::Prompt,
        "output" => Stage::Output,
        _ => bail!("--stage must be data, prompt or output, got `{s}`"),
    })
}

pub(super) fn run(cmd: SafetyCommand) -> Result<String> {
    match cmd {
        SafetyCommand::Scan {
            paths,
            format,
            fail_on,
            policy: flag,
            config,
        } => {
            let cfg = loader(&crate::cli::ConfigArgs {
                config,
                overrides: Vec::new(),
            })
            .load()?
            .config;
            let threshold = level(fail_on.as_deref().unwrap_or(&cfg.safety.fail_on))?;
            let scanner = Scanner::new(policy(flag.as_deref(), &cfg)?);
            for p in &paths {
                if !p.exists() {
                    bail!("{}: no such file or directory", p.display());
                }
            }
            let report = scan_paths(&scanner, &paths);
            let mut out = match format {
                ScanFormat::Table => table(&report),
                ScanFormat::Json => serde_json::to_string_pretty(&report)?,
                ScanFormat::Sarif => serde_json::to_string_pretty(&sarif(&report, &scanner))?,
            };
            out.push('\n');
            let reached = report
                .findings
                .iter()
                .filter(|f| f.severity >= threshold)
                .count();
            // An input that could not be read may hold anything: it fails the
            // check as a finding would.
            let unreadable = report.errors.len();
            if reached > 0 || unreadable > 0 {
                let mut parts = Vec::new();
                if reached > 0 {
                    parts.push(format!(
                        "{reached} findings at severity {threshold} or above"
                    ));
                }
                if unreadable > 0 {
                    parts.push(format!("{unreadable} inputs could not be read"));
                }
                return Err(FoundWithOutput {
                    stdout: out,
                    message: parts.join("; "),
                }
                .into());
            }
            Ok(out)
        }
        SafetyCommand::Redact {
            stage: s,
            policy: flag,
            config,
        } => {
            let cfg = loader(&config).load()?.config;
            let stage = stage(&s)?;
            let scanner = Scanner::new(policy(flag.as_deref(), &cfg)?);
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

/// Where a run's safety events go.
pub(crate) fn events_path(run: &Path) -> PathBuf {
    run.join("safety").join("events.ndjson")
}
