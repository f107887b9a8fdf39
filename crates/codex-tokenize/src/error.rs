//! Errors of `codex-tokenize`.

use std::path::PathBuf;

/// Everything that can go wrong in `codex-tokenize`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenizeError {
    /// A file could not be read or written.
    #[error("cannot access `{}`", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// A tokenizer file is corrupt or unsupported.
    #[error("cannot load tokenizer `{}`: {message}", path.display())]
    Load {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },

    /// The tokenizer library failed to encode or decode.
    #[error("{op} failed: {message}")]
    Library {
        /// "encode", "decode", "train", "save" or "configure".
        op: &'static str,
        /// The library's message.
        message: String,
    },

    /// An id outside the vocabulary.
    #[error("token id {id} is out of range for a vocabulary of {vocab_size}")]
    IdOutOfRange {
        /// The id.
        id: u32,
        /// The vocabulary size.
        vocab_size: usize,
    },

    /// Invalid UTF-8 in a corpus under the `fail` policy.
    #[error("invalid UTF-8 in `{}` at line {line}", path.display())]
    InvalidUtf8 {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
    },

    /// A chat template that does not compile or fails to render.
    #[error("chat template {origin}: {message}")]
    Template {
        /// Where the template came from (a file, or `builtin chatml`).
        origin: String,
        /// What went wrong.
        message: String,
    },

    /// A malformed JSONL record under the `fail` policy.
    #[error("`{}` line {line}: {message}", path.display())]
    BadRecord {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// What is wrong with the record.
        message: String,
    },

    /// Training inputs that hold no text at all.
    #[error("the training corpus is empty: no text in {inputs}")]
    EmptyCorpus {
        /// The inputs, comma-separated.
        inputs: String,
    },

    /// A vocabulary too small for the characters it must cover.
    #[error(
        "vocabulary size {vocab_size} is smaller than the alphabet it must hold \
         ({alphabet} symbols: {detail}); raise tokenizer.vocab_size"
    )]
    VocabTooSmall {
        /// The requested size.
        vocab_size: u32,
        /// Symbols that must be in the vocabulary.
        alphabet: usize,
        /// Where they come from.
        detail: String,
    },

    /// Invalid encoding options (e.g. a stride not smaller than the maximum length).
    #[error("invalid {what}: {message}")]
    Options {
        /// Which option.
        what: &'static str,
        /// Why.
        message: String,
    },
}

impl TokenizeError {
    pub(crate) fn library(op: &'static str, e: impl std::fmt::Display) -> Self {
        Self::Library {
            op,
            message: e.to_string(),
        }
    }
}

impl TokenizeError {
    /// Whether the error is the input's fault (a tokenizer file that cannot
    /// be loaded, invalid UTF-8, a malformed record, an empty corpus, a
    /// vocabulary too small for the special tokens, a missing file): `codex`
    /// exits 2 for these.
    pub fn is_bad_input(&self) -> bool {
        match self {
            Self::Load { .. }
            | Self::InvalidUtf8 { .. }
            | Self::BadRecord { .. }
            | Self::Template { .. }
            | Self::EmptyCorpus { .. }
            | Self::VocabTooSmall { .. } => true,
            Self::Io { source, .. } => source.kind() == std::io::ErrorKind::NotFound,
            _ => false,
        }
    }
}
