//! Errors of `codex-data`.

use std::path::PathBuf;

/// Everything that can go wrong in `codex-data`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// A file could not be read or written.
    #[error("cannot access `{}`", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// A source that cannot be used at all (bad glob, missing CSV column).
    #[error("source `{}`: {problem}", path.display())]
    BadSource {
        /// The source.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },

    /// A malformed record under the `fail` policy.
    #[error("`{}` line {line}: {message}", path.display())]
    BadRecord {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// What is wrong.
        message: String,
    },

    /// No documents survived reading, filtering and deduplication.
    #[error("the corpus is empty: no documents in {sources}")]
    EmptyCorpus {
        /// The sources, comma-separated.
        sources: String,
    },

    /// A shard that does not match its manifest.
    #[error("shard `{}` is corrupt: {problem}", path.display())]
    CorruptShard {
        /// The shard.
        path: PathBuf,
        /// How it differs.
        problem: String,
    },

    /// A dataset directory without a usable manifest.
    #[error("`{}` is not a prepared dataset: {problem}", path.display())]
    BadManifest {
        /// The manifest file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },

    /// A split too short for one window.
    #[error("the split has {tokens} tokens, fewer than the {needed} one window needs")]
    TooShort {
        /// Tokens in the split.
        tokens: u64,
        /// Tokens one window needs.
        needed: u64,
    },

    /// The tokenizer failed.
    #[error("tokenizing failed: {0}")]
    Tokenize(String),

    /// The chat template is missing, does not compile, or cannot render.
    #[error("{0}")]
    Chat(String),

    /// A shared utility failed (atomic writes, hashing).
    #[error(transparent)]
    Core(Box<codex_core::Error>),
}

impl From<codex_core::Error> for DataError {
    fn from(e: codex_core::Error) -> Self {
        Self::Core(Box::new(e))
    }
}

impl DataError {
    /// Whether the error is the input's fault (a missing or unusable source,
    /// a malformed record, nothing to train on, a directory that is not a
    /// prepared dataset): `codex` exits 2 for these.
    pub fn is_bad_input(&self) -> bool {
        match self {
            Self::BadSource { .. }
            | Self::BadRecord { .. }
            | Self::EmptyCorpus { .. }
            | Self::BadManifest { .. }
            | Self::Chat(_) => true,
            Self::Io { source, .. } => source.kind() == std::io::ErrorKind::NotFound,
            Self::Core(e) => e.is_bad_input(),
            _ => false,
        }
    }
}
