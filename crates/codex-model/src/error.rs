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
}
