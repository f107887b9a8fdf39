//! Errors of codex-safety: each names the file, policy key or rule id.

use std::path::PathBuf;

/// What went wrong loading a policy or scanning.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SafetyError {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A policy file is malformed.
    #[error("{origin}: {}{message}", if key.is_empty() { String::new() } else { format!("`{key}`: ") })]
    Policy {
        /// The policy file.
        origin: String,
        /// Path of the offending key, e.g. `rules[3].action`.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// A rule cannot be compiled.
    #[error("{origin}: rule `{id}`: {message}")]
    Rule {
        /// The policy file.
        origin: String,
        /// The rule's id.
        id: String,
        /// What is wrong.
        message: String,
    },
}
