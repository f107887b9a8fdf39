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

    /// A file operation failed.
    #[error(transparent)]
    Core(#[from] codex_core::Error),

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
