//! Errors of codex-eval: every one names the file and, where there is one, the line.

use std::path::PathBuf;

/// What went wrong while reading inputs or writing results.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvalError {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A line is not valid UTF-8.
    #[error("{}:{line}: invalid UTF-8 ({source})", path.display())]
    Utf8 {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The cause.
        source: std::str::Utf8Error,
    },
    /// Hypotheses and references have different numbers of segments.
    #[error(
        "{} has {hyp_count} lines but {} has {ref_count}: hypotheses and references must be parallel",
        hyp_path.display(),
        ref_path.display()
    )]
    LengthMismatch {
        /// The hypothesis file.
        hyp_path: PathBuf,
        /// Its segment count.
        hyp_count: usize,
        /// The reference file.
        ref_path: PathBuf,
        /// Its segment count.
        ref_count: usize,
    },
    /// A line of a structured input is malformed.
    #[error("{}:{line}: {message}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The input has no segments.
    #[error("{}: no segments to evaluate", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// Invalid settings.
    #[error("{0}")]
    Settings(String),
    /// A benchmark task definition, its data or a document is unusable.
    #[error(transparent)]
    Task(#[from] crate::tasks::TaskError),
    /// An unknown metric name, or writing an output directory, failed.
    #[error(transparent)]
    Core(#[from] codex_core::Error),
}

impl EvalError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn malformed(
        path: impl Into<PathBuf>,
        line: usize,
        message: impl Into<String>,
    ) -> Self {
        Self::Malformed {
            path: path.into(),
            line,
            message: message.into(),
        }
    }
}
