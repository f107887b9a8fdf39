//! Findings that are not failures: a value type that libraries return instead of logging.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// How serious a [`Diagnostic`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; nothing was changed or skipped.
    Info,
    /// Something was skipped, repaired or looks wrong, and work went on.
    Warning,
    /// Something failed; under a strict policy this stops the work.
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// Where a finding was made: a file, and optionally a 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Location {
    /// The file the finding concerns.
    pub path: PathBuf,
    /// 1-based line number, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// 1-based column (in characters), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<u64>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(col) = self.column {
                write!(f, ":{col}")?;
            }
        }
        Ok(())
    }
}

/// One finding: a malformed corpus line, a redacted secret, a placeholder in a repository.
///
/// `code` is a stable, machine-readable identifier (`data.malformed-json`), `message`
/// a lowercase sentence for people.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Diagnostic {
    /// How serious the finding is.
    pub severity: Severity,
    /// Stable identifier of the kind of finding.
    pub code: String,
    /// Human-readable description.
    pub message: String,
    /// Where the finding was made, when it concerns a file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

impl Diagnostic {
    /// A diagnostic with no location.
    pub fn new(severity: Severity, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            severity,
            code: code.into(),
            message: message.into(),
            location: None,
        }
    }

    /// Attaches a file and optional line.
    #[must_use]
    pub fn at(mut self, path: impl Into<PathBuf>, line: Option<u64>) -> Self {
        self.location = Some(Location {
            path: path.into(),
            line,
            column: None,
        });
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(loc) = &self.location {
            write!(f, "{loc}: ")?;
        }
        write!(f, "{} [{}]: {}", self.severity, self.code, self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_file_line_and_code() {
        let d = Diagnostic::new(Severity::Warning, "data.malformed-json", "expected `}`")
            .at("corpus/a.jsonl", Some(12));
        assert_eq!(
            d.to_string(),
            "corpus/a.jsonl:12: warning [data.malformed-json]: expected `}`"
        );
    }

    #[test]
    fn severity_orders_by_seriousness() {
        assert!(Severity::Info < Severity::Warning && Severity::Warning < Severity::Error);
    }
}
