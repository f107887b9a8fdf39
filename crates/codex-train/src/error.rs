//! Errors of `codex-train`.

use std::path::PathBuf;

/// Everything that can stop training.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrainError {
    /// The model failed (shape, dtype, device).
    #[error(transparent)]
    Model(#[from] codex_model::ModelError),

    /// The data failed (shards, sampler).
    #[error(transparent)]
    Data(#[from] codex_data::DataError),

    /// A benchmark task or its data is unusable.
    #[error(transparent)]
    Eval(#[from] codex_eval::EvalError),

    /// A file operation or the configuration failed.
    #[error(transparent)]
    Core(#[from] codex_core::Error),

    /// The tokenizer failed (loading, training, encoding).
    #[error(transparent)]
    Tokenize(#[from] codex_tokenize::TokenizeError),

    /// Tracking failed (a sink, the report, a run directory).
    #[error(transparent)]
    Track(#[from] codex_track::TrackError),

    /// The safety filter blocked a prompt or an output.
    #[error(transparent)]
    Blocked(#[from] codex_core::Blocked),

    /// The text filter could not be built.
    #[error("the safety filter: {message}")]
    Filter {
        /// Why.
        message: String,
        /// Whether the cause is the caller's input (a policy file).
        bad_input: bool,
    },

    /// An input the job cannot use: a path that names no model, a run
    /// without a checkpoint, a tokenizer without the document separator.
    #[error("{what}: {message}")]
    Input {
        /// The path, key or value involved.
        what: String,
        /// What is wrong with it.
        message: String,
    },

    /// A compute precision the loop or the device cannot use.
    #[error("train.precision={precision}: {message}")]
    Precision {
        /// The requested precision.
        precision: String,
        /// Why it cannot be used.
        message: String,
    },

    /// A metric sink failed.
    #[error("metric sink `{sink}` failed: {message}")]
    Sink {
        /// The sink's name.
        sink: String,
        /// What went wrong.
        message: String,
    },

    /// A checkpoint that cannot be used.
    #[error("checkpoint {}: {message}", path.display())]
    Checkpoint {
        /// The checkpoint directory or file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },

    /// Resuming with a configuration that changes the model.
    #[error("cannot resume from {}: the model configuration differs in {keys}", path.display())]
    ShapeChanged {
        /// The checkpoint.
        path: PathBuf,
        /// The differing keys with both values.
        keys: String,
    },

    /// The loss became NaN or infinite.
    #[error(
        "training stopped at step {step}: the loss is {value}; the last good checkpoint is kept"
    )]
    NonFinite {
        /// The step whose loss was not finite.
        step: u64,
        /// The value.
        value: f64,
    },

    /// A setting the loop cannot work with.
    #[error("invalid setting `{key}`: {message}")]
    Invalid {
        /// The configuration key.
        key: String,
        /// Why.
        message: String,
    },
}

impl TrainError {
    /// An [`Input`](Self::Input) error about `what`.
    pub fn input(what: impl std::fmt::Display, message: impl Into<String>) -> Self {
        Self::Input {
            what: what.to_string(),
            message: message.into(),
        }
    }

    /// Whether the error is the caller's input (configuration, paths, model
    /// or tokenizer files) rather than a failure while running.
    pub fn is_bad_input(&self) -> bool {
        match self {
            Self::Invalid { .. }
            | Self::Input { .. }
            | Self::ShapeChanged { .. }
            | Self::Precision { .. }
            | Self::Checkpoint { .. } => true,
            Self::Core(e) => e.is_bad_input(),
            Self::Eval(codex_eval::EvalError::Core(e)) => e.is_bad_input(),
            Self::Eval(_) => true,
            Self::Model(e) => e.is_bad_input(),
            Self::Filter { bad_input, .. } => *bad_input,
            Self::Data(e) => e.is_bad_input(),
            Self::Tokenize(e) => e.is_bad_input(),
            _ => false,
        }
    }
}
