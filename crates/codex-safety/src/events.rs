//! The audit trail: every decision as one line of `safety/events.ndjson`.
//!
//! Invariant: an event names the rule, stage, action, byte span and a BLAKE3
//! hash of the match, never the matched text.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use codex_core::{Filtered, Stage, TextFilter, Verdict};
use serde::Serialize;

use crate::engine::{Match, Scanner};
use crate::error::SafetyError;

/// One decision about one finding.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event<'a> {
    /// RFC 3339 time.
    pub ts: String,
    /// `finding`; `allowlisted` for a match the policy let through (its
    /// `action` is what the rule would have done); `bypass` when filtering
    /// was switched off.
    pub event: &'a str,
    /// Rule id.
    pub rule_id: &'a str,
    /// Kind.
    pub kind: &'a str,
    /// Stage.
    pub stage: Option<Stage>,
    /// What was done.
    pub action: String,
    /// Byte span in the text.
    pub span: [usize; 2],
    /// BLAKE3 of the matched bytes.
    pub match_hash: String,
    /// Where the text came from (a file, a document index), when known.
    pub source: Option<&'a str>,
}

/// An append-only NDJSON log, flushed per decision.
#[derive(Debug)]
pub struct EventLog {
    path: PathBuf,
    file: Mutex<std::io::BufWriter<std::fs::File>>,
}

impl EventLog {
    /// Opens (appends to) `path`, creating its directory.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, SafetyError> {
        let path = path.into();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| SafetyError::Io {
                path: dir.to_owned(),
                source: e,
            })?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| SafetyError::Io {
                path: path.clone(),
                source: e,
            })?;
        Ok(Self {
            path,
            file: Mutex::new(std::io::BufWriter::new(file)),
        })
    }

    /// The log's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends the events of `matches` found in `text`.
    pub fn record(
        &self,
        text: &str,
        matches: &[Match],
        stage: Option<Stage>,
        source: Option<&str>,
    ) -> Result<(), SafetyError> {
        self.record_as(text, matches, "finding", stage, source)
    }

    /// Appends one `allowlisted` event for each match the policy let
    /// through, with the rule that matched and the action it would have taken.
    pub fn record_allowlisted(
        &self,
        text: &str,
        matches: &[Match],
        stage: Option<Stage>,
        source: Option<&str>,
    ) -> Result<(), SafetyError> {
        self.record_as(text, matches, "allowlisted", stage, source)
    }

    fn record_as(
        &self,
        text: &str,
        matches: &[Match],
        event: &str,
        stage: Option<Stage>,
        source: Option<&str>,
    ) -> Result<(), SafetyError> {
        if matches.is_empty() {
            return Ok(());
        }
        let ts = chrono::Utc::now().to_rfc3339();
        let mut out = Vec::new();
        for m in matches {
            let f = m.finding(text);
            let e = Event {
                ts: ts.clone(),
                event,
                rule_id: &m.rule_id,
                kind: &m.kind,
                stage,
                action: m.action.to_string(),
                span: [m.span.start, m.span.end],
                match_hash: f.match_hash,
                source,
            };
            serde_json::to_writer(&mut out, &e).expect("events serialize");
            out.push(b'\n');
        }
        self.write(&out)
    }

    /// Records that filtering was bypassed, and by what.
    pub fn record_bypass(&self, reason: &str) -> Result<(), SafetyError> {
        let line = serde_json::json!({
            "ts": chrono::Utc::now().to_rfc3339(),
            "event": "bypass",
            "reason": reason,
        });
        let mut out = serde_json::to_vec(&line).expect("serializes");
        out.push(b'\n');
        self.write(&out)
    }

    fn write(&self, bytes: &[u8]) -> Result<(), SafetyError> {
        let mut f = self
            .file
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f.write_all(bytes)
            .and_then(|()| f.flush())
            .map_err(|e| SafetyError::Io {
                path: self.path.clone(),
                source: e,
            })
    }
}

/// A scanner that logs every decision it makes.
#[derive(Debug)]
pub struct LoggedFilter {
    scanner: Scanner,
    log: EventLog,
}

impl LoggedFilter {
    /// Filters with `scanner`, logging to `log`.
    pub fn new(scanner: Scanner, log: EventLog) -> Self {
        Self { scanner, log }
    }

    /// The scanner.
    pub fn scanner(&self) -> &Scanner {
        &self.scanner
    }
}

impl TextFilter for LoggedFilter {
    fn name(&self) -> &str {
        "codex-safety"
    }

    fn filter(&self, text: &str, stage: Stage) -> Filtered {
        self.decide_and_log(text, stage, None)
    }

    fn filter_at(&self, text: &str, stage: Stage, origin: &str) -> Filtered {
        self.decide_and_log(text, stage, Some(origin))
    }

    fn fingerprint(&self) -> String {
        self.scanner.fingerprint()
    }
}

impl LoggedFilter {
    fn decide_and_log(&self, text: &str, stage: Stage, origin: Option<&str>) -> Filtered {
        let (filtered, scanned) = self.scanner.decide_all(text, stage);
        let logged = self
            .log
            .record(text, &scanned.findings, Some(stage), origin)
            .and_then(|()| {
                self.log
                    .record_allowlisted(text, &scanned.allowlisted, Some(stage), origin)
            });
        if let Err(e) = logged {
            // The decision stands; losing the trail is reported, not hidden.
            tracing_free_warning(&e);
        }
        debug_assert!(matches!(
            filtered.verdict,
            Verdict::Keep | Verdict::Redact(_) | Verdict::Drop
        ));
        filtered
    }
}

#[allow(
    clippy::print_stderr,
    reason = "a failed audit trail must be visible even without a logger"
)]
fn tracing_free_warning(e: &SafetyError) {
    eprintln!("warning: cannot write the safety audit trail: {e}");
}
