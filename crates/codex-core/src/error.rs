//! The error vocabulary shared by every codex crate.

use std::path::PathBuf;

use crate::config::ConfigIssue;

/// Result alias for fallible `codex-core` operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in `codex-core`.
///
/// Variants carry the file, key or name involved so that the message alone tells
/// a user where to look.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An operating-system I/O failure on a named path.
    #[error("{op} `{}`", path.display())]
    Io {
        /// What was being attempted, e.g. "cannot read".
        op: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// A configuration could not be loaded or failed validation; every issue is listed.
    #[error("{}", ConfigIssue::render_all(issues))]
    Config {
        /// One entry per problem found, in key order.
        issues: Vec<ConfigIssue>,
    },

    /// A configuration file could not be parsed at all.
    #[error("cannot parse {format} file `{}`: {message}", path.display())]
    ConfigParse {
        /// The file that failed to parse.
        path: PathBuf,
        /// "YAML" or "TOML".
        format: &'static str,
        /// The parser's message, including line and column where it gives them.
        message: String,
    },

    /// A configuration file whose extension says neither YAML nor TOML.
    #[error("cannot tell the format of config file `{}`: use a .yaml, .yml or .toml extension", path.display())]
    ConfigFormat {
        /// The offending file.
        path: PathBuf,
    },

    /// A command-line override that is not `key.path=value`.
    #[error("override `{text}` is not of the form key.path=value")]
    OverrideSyntax {
        /// The override as given.
        text: String,
    },

    /// Two registry entries of the same kind share a name (names are case-insensitive).
    #[error("duplicate {kind} name `{name}`: a {kind} with this name is already registered")]
    DuplicateName {
        /// The registry kind, e.g. "metric".
        kind: String,
        /// The clashing name.
        name: String,
    },

    /// A registry lookup for a name that is not registered.
    #[error("unknown {kind} `{name}`{}", suggestion_suffix(suggestion))]
    UnknownName {
        /// The registry kind, e.g. "metric".
        kind: String,
        /// The name asked for.
        name: String,
        /// The nearest registered name, if one is close.
        suggestion: Option<String>,
    },

    /// A run directory name that would escape or be empty once sanitised.
    #[error("invalid run name `{name}`: use letters, digits, `-`, `_` or `.`")]
    InvalidRunName {
        /// The name as given.
        name: String,
    },

    /// Data that failed to serialize, e.g. a provenance record.
    #[error("cannot serialize {what}: {message}")]
    Serialize {
        /// What was being serialized.
        what: &'static str,
        /// The serializer's message.
        message: String,
    },
}

pub(crate) fn suggestion_suffix(suggestion: &Option<String>) -> String {
    match suggestion {
        Some(s) => format!(" (did you mean `{s}`?)"),
        None => String::new(),
    }
}

impl Error {
    /// Wraps an I/O error with the operation and path it concerns.
    pub fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            op,
            path: path.into(),
            source,
        }
    }
}

impl Error {
    /// Whether the error is about the caller's input (a configuration, an
    /// override, a name) rather than a failure of the machine.
    pub fn is_bad_input(&self) -> bool {
        match self {
            Self::Config { .. }
            | Self::ConfigParse { .. }
            | Self::ConfigFormat { .. }
            | Self::OverrideSyntax { .. }
            | Self::UnknownName { .. } => true,
            // Reading something that is not there: a path the user gave.
            Self::Io { op, source, .. } => {
                op.starts_with("cannot read") && source.kind() == std::io::ErrorKind::NotFound
            }
            _ => false,
        }
    }
}
