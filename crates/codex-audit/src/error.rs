//! The error type of codex-audit.

use std::path::PathBuf;

/// What can stop an audit job (failures on single files are not errors: they
/// are recorded in the report's `errors` and the audit goes on).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// The tree to audit is not a directory.
    #[error("`{}`: not a directory", path.display())]
    NotADirectory {
        /// The path given.
        path: PathBuf,
    },
    /// Writing the reports would go through a symbolic link inside the audited tree.
    #[error(
        "the output directory `{}` goes through the symbolic link `{}` inside the audited tree; refusing to write through it",
        out.display(),
        link.display()
    )]
    OutputThroughLink {
        /// The output directory asked for.
        out: PathBuf,
        /// The link on its way.
        link: PathBuf,
    },
    /// A report format other than `json` and `md`.
    #[error("report format `{format}`: expected json or md")]
    Format {
        /// The format given.
        format: String,
    },
    /// A report time that does not parse.
    #[error("{what} `{value}` {why}")]
    Timestamp {
        /// `--timestamp` or `SOURCE_DATE_EPOCH`.
        what: String,
        /// The value given.
        value: String,
        /// What is wrong with it.
        why: String,
    },
    /// A `--fail-on` rule that does not parse.
    #[error("fail-on rule `{rule}`: expected `placeholders` or `complexity>N` (N a whole number)")]
    FailOn {
        /// The rule given.
        rule: String,
    },
    /// Writing a report failed.
    #[error(transparent)]
    Core(#[from] codex_core::Error),
}

impl AuditError {
    /// Whether the error is the caller's input (a path, format or rule),
    /// not a failure of the machine.
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, Self::Core(_))
    }
}
