//! The `codex audit` job: audit a tree, write its reports, apply the checks.

use std::path::{Path, PathBuf};

use crate::error::AuditError;
use crate::{Audit, InventoryOptions, StepError};

/// A report `codex audit` can write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    /// `audit.json`.
    Json,
    /// `audit.md` and `repo_map.md`.
    Md,
}

impl std::str::FromStr for ReportFormat {
    type Err = AuditError;

    fn from_str(s: &str) -> Result<Self, AuditError> {
        match s {
            "json" => Ok(Self::Json),
            "md" => Ok(Self::Md),
            _ => Err(AuditError::Format { format: s.into() }),
        }
    }
}

/// A check that fails the job when the audit finds something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOn {
    /// Any placeholder.
    Placeholders,
    /// A function whose complexity is above N.
    Complexity(u32),
}

impl std::str::FromStr for FailOn {
    type Err = AuditError;

    fn from_str(s: &str) -> Result<Self, AuditError> {
        let bad = || AuditError::FailOn { rule: s.into() };
        match s {
            "placeholders" => Ok(Self::Placeholders),
            c => c
                .strip_prefix("complexity>")
                .and_then(|n| n.trim().parse().ok())
                .map(Self::Complexity)
                .ok_or_else(bad),
        }
    }
}

impl std::fmt::Display for FailOn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Placeholders => f.write_str("placeholders"),
            Self::Complexity(n) => write!(f, "complexity>{n}"),
        }
    }
}

/// The reports' one time field: `flag` (RFC 3339), else `source_date_epoch`
/// (seconds, as the `SOURCE_DATE_EPOCH` convention has it), else now.
pub fn generated_at(
    flag: Option<&str>,
    source_date_epoch: Option<&str>,
) -> Result<String, AuditError> {
    let bad = |what: &str, value: &str, why: &str| AuditError::Timestamp {
        what: what.to_owned(),
        value: value.to_owned(),
        why: why.to_owned(),
    };
    if let Some(t) = flag {
        chrono::DateTime::parse_from_rfc3339(t)
            .map_err(|_| bad("--timestamp", t, "is not RFC 3339"))?;
        return Ok(t.to_owned());
    }
    if let Some(epoch) = source_date_epoch {
        let secs: i64 = epoch
            .trim()
            .parse()
            .map_err(|_| bad("SOURCE_DATE_EPOCH", epoch, "is not a number of seconds"))?;
        let t = chrono::DateTime::from_timestamp(secs, 0)
            .ok_or_else(|| bad("SOURCE_DATE_EPOCH", epoch, "is out of range"))?;
        return Ok(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    }
    Ok(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// What one `codex audit` asks for.
#[derive(Debug, Clone)]
pub struct AuditRequest {
    /// The tree to audit.
    pub root: PathBuf,
    /// Where the reports go.
    pub out: PathBuf,
    /// Which reports.
    pub formats: Vec<ReportFormat>,
    /// Limits and hashes.
    pub options: InventoryOptions,
    /// The reports' one time field.
    pub generated_at: String,
    /// Checks that fail the job.
    pub fail_on: Vec<FailOn>,
}

/// A check that found something: the rule and what it found (`path:line name`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckFailure {
    /// The rule.
    pub rule: FailOn,
    /// One line per finding.
    pub found: Vec<String>,
}

/// What a job did.
#[derive(Debug)]
pub struct AuditOutcome {
    /// The audit.
    pub audit: Audit,
    /// Files written, in order.
    pub written: Vec<PathBuf>,
    /// Checks of `fail_on` that found something (empty: the job passed).
    pub failed_checks: Vec<CheckFailure>,
    /// What the incremental cache answered, when one was used.
    pub cache: Option<crate::CacheStats>,
}

impl AuditOutcome {
    /// What the audit found and wrote, and each failed check with its findings.
    pub fn to_text(&self, path: &Path) -> String {
        let a = &self.audit;
        let mut r = codex_core::TextReport::new(0);
        r.line(format_args!(
            "audited {}: {} files, {} languages, {} placeholders, {} not audited, {} failed steps",
            path.display(),
            a.files.len(),
            a.languages.len(),
            a.placeholders.len(),
            a.skipped.len(),
            a.errors.len()
        ));
        if let Some(c) = &self.cache {
            r.line(format_args!(
                "cache: {} files parsed, {} from the cache, {} unchanged files not read{}",
                c.misses,
                c.hits,
                c.unread,
                if c.rejected > 0 {
                    format!(", {} unusable entries replaced", c.rejected)
                } else {
                    String::new()
                }
            ));
        }
        for w in &self.written {
            r.line(format_args!("wrote {}", w.display()));
        }
        for failed in &self.failed_checks {
            r.line(format_args!(
                "--fail-on {}: {} found",
                failed.rule,
                failed.found.len()
            ));
            for f in &failed.found {
                r.line(format_args!("  {f}"));
            }
        }
        r.finish()
    }
}

/// `path` made absolute (against the current directory) and lexically normal.
fn absolute(path: &Path) -> PathBuf {
    use std::path::Component;
    let joined = if path.is_absolute() {
        path.to_owned()
    } else {
        std::env::current_dir().unwrap_or_default().join(path)
    };
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            c => out.push(c),
        }
    }
    out
}

/// Refuses an output directory whose path goes through a symbolic link that
/// lies inside the audited tree: the tree is untrusted, and a link it holds
/// (`reports -> ~/.ssh`) must not decide where the reports land. Links
/// outside the tree are the user's own and are followed as usual.
fn check_output_dir(root: &Path, out: &Path) -> Result<(), AuditError> {
    let Ok(real_root) = root.canonicalize() else {
        return Ok(());
    };
    let mut at = PathBuf::new();
    for c in absolute(out).components() {
        at.push(c);
        let Ok(meta) = std::fs::symlink_metadata(&at) else {
            break;
        };
        if !meta.file_type().is_symlink() {
            continue;
        }
        // Where the link itself lies: its parent, resolved.
        let parent = at
            .parent()
            .and_then(|p| p.canonicalize().ok())
            .unwrap_or_default();
        if parent.starts_with(&real_root) {
            return Err(AuditError::OutputThroughLink {
                out: out.to_owned(),
                link: at,
            });
        }
    }
    Ok(())
}

/// `errors.ndjson`: one record per failed step, stamped with the report's time.
fn errors_ndjson(errors: &[StepError], ts: &str) -> String {
    errors
        .iter()
        .map(|e| {
            serde_json::json!({ "ts": ts, "step": e.step, "error": e.error, "context": e.context })
                .to_string()
                + "\n"
        })
        .collect()
}

/// Runs `codex audit`: audits `request.root` (calling `on_file(done, total)`
/// as files are described), writes the reports and, when steps failed,
/// `errors.ndjson` into `request.out`, and applies the `fail_on` checks.
///
/// Nothing is written inside the audited tree unless `out` is there, and
/// never through a link the tree holds.
pub fn run_job(
    request: &AuditRequest,
    on_file: &(dyn Fn(usize, usize) + Sync),
) -> Result<AuditOutcome, AuditError> {
    if !std::fs::metadata(&request.root).is_ok_and(|m| m.is_dir()) {
        return Err(AuditError::NotADirectory {
            path: request.root.clone(),
        });
    }
    check_output_dir(&request.root, &request.out)?;
    let (audit, cache) = crate::run_audit_counted(
        &request.root,
        &request.options,
        request.generated_at.clone(),
        on_file,
    );
    let mut written = crate::write_reports(&audit, &request.out, &request.formats)?;
    let errors_file = request.out.join("errors.ndjson");
    if audit.errors.is_empty() {
        // A record of an earlier audit would describe a tree that is gone.
        match std::fs::remove_file(&errors_file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(codex_core::Error::io("cannot remove", &errors_file, e).into()),
        }
    } else {
        codex_core::write_bytes_atomic(
            &errors_file,
            errors_ndjson(&audit.errors, &audit.generated_at).as_bytes(),
        )?;
        written.push(errors_file);
    }
    let failed_checks = request
        .fail_on
        .iter()
        .filter_map(|&rule| {
            let found: Vec<String> = match rule {
                FailOn::Placeholders => audit
                    .placeholders
                    .iter()
                    .map(|p| format!("{}:{} {}", p.path, p.line, p.kind))
                    .collect(),
                FailOn::Complexity(n) => audit
                    .functions
                    .iter()
                    .filter(|f| f.complexity > n)
                    .map(|f| format!("{}:{} {} ({})", f.path, f.line_start, f.name, f.complexity))
                    .collect(),
            };
            (!found.is_empty()).then_some(CheckFailure { rule, found })
        })
        .collect();
    Ok(AuditOutcome {
        audit,
        written,
        failed_checks,
        cache,
    })
}
