//! Errors of `codex-model`.

/// Everything that can go wrong in `codex-model`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// A device string that is not `auto`, `cpu`, `wgpu[:N]` or `cuda[:N]`.
    #[error("invalid device `{given}`: expected auto, cpu, wgpu, wgpu:N, cuda or cuda:N")]
    DeviceSyntax {
        /// The string as given.
        given: String,
    },

    /// The device asks for a backend this build does not include.
    #[error(
        "device `{device}` needs the `{feature}` backend, which this build does not include \
         (compiled: {compiled}); rebuild with `--features {feature}`"
    )]
    BackendNotCompiled {
        /// The device as asked for.
        device: String,
        /// The cargo feature that would provide it.
        feature: &'static str,
        /// The backends that are compiled in, comma-separated.
        compiled: String,
    },

    /// No tensor backend at all is compiled in.
    #[error(
        "no tensor backend is compiled in; build with one of the features flex, ndarray, wgpu, cuda"
    )]
    NoBackend,

    /// A model or LoRA setting out of range.
    #[error("invalid model setting `{key}`: {message}")]
    InvalidConfig {
        /// The setting, e.g. `n_head` or `lora.rank`.
        key: String,
        /// What is wrong with it.
        message: String,
    },

    /// A sequence longer than the model's positions.
    #[error("sequence of {len} positions is longer than the model's context_length ({max})")]
    SequenceTooLong {
        /// Positions asked for (cached plus new).
        len: usize,
        /// The model's maximum.
        max: usize,
    },

    /// A weights file lacks a tensor the model needs.
    #[error("{}: missing tensor `{name}`", path.display())]
    MissingTensor {
        /// The file (or index) searched.
        path: std::path::PathBuf,
        /// The tensor's name in that file.
        name: String,
    },

    /// A tensor whose shape is not the model's.
    #[error("{}: tensor `{name}` has shape {found:?}, the model expects {expected:?}", path.display())]
    ShapeMismatch {
        /// The file.
        path: std::path::PathBuf,
        /// The tensor's name in that file.
        name: String,
        /// The shape the configuration implies.
        expected: Vec<usize>,
        /// The shape in the file.
        found: Vec<usize>,
    },

    /// A Hugging Face `model_type` codex cannot map.
    #[error("{}: unsupported model_type `{found}`; supported: {supported}", path.display())]
    UnsupportedModelType {
        /// The config.json.
        path: std::path::PathBuf,
        /// The type it names.
        found: String,
        /// Comma-separated list of supported types.
        supported: String,
    },

    /// A weights or config file that cannot be used.
    #[error("{}: {message}", path.display())]
    Weights {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong.
        message: String,
    },

    /// The device cannot store or compute in the asked dtype.
    #[error("dtype {dtype} is not supported on device {device}")]
    DTypeUnsupported {
        /// The dtype asked for.
        dtype: String,
        /// The device, as Burn describes it.
        device: String,
    },

    /// A file operation failed.
    #[error(transparent)]
    Io(codex_core::Error),
}

impl ModelError {
    /// Whether the error is the input's fault (a model directory, weights
    /// file or setting that cannot be used, a path that does not exist)
    /// rather than the machine's: `codex` exits 2 for these.
    pub fn is_bad_input(&self) -> bool {
        match self {
            Self::DeviceSyntax { .. }
            | Self::InvalidConfig { .. }
            | Self::MissingTensor { .. }
            | Self::ShapeMismatch { .. }
            | Self::UnsupportedModelType { .. }
            | Self::Weights { .. } => true,
            Self::Io(e) => {
                e.is_bad_input()
                    || matches!(e, codex_core::Error::Io { source, .. }
                        if source.kind() == std::io::ErrorKind::NotFound)
            }
            _ => false,
        }
    }
}
