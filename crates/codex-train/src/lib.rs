//! `codex-train`: the training loop that makes codex runs exact and resumable.
//!
//! May depend on `codex-core`, `codex-model`, `codex-data`, `codex-track` and
//! `codex-eval`; never on `codex-safety` or `codex-audit`, and it never prints:
//! progress goes to the caller through [`StepReport`] and to sinks through
//! `codex_core::MetricSink`.
//!
//! The loop ([`train`]) is written on Burn's autodiff and its `ModuleOptimizer`
//! (AdamW, with a no-decay group for norms, biases and embeddings) rather than
//! burn-train's `Learner`, which checkpoints per epoch and restores neither the
//! data position nor the random state. A checkpoint ([`checkpoint`]) holds the
//! model, the optimizer state, the sampler cursor and the counters; the learning
//! rate is a pure function of the step ([`lr_at`]) and dropout is reseeded from
//! the step, so a resumed run continues on exactly the next batch.
//!
//! # Features
//!
//! `flex` (default), `ndarray`, `wgpu`, `cuda`: forwarded to `codex-model`.

pub mod checkpoint;
mod error;
mod schedule;
mod trainer;

pub use error::TrainError;
pub use schedule::lr_at;
pub use trainer::{
    EvalMetrics, StepReport, StopCause, TrainInputs, TrainOutcome, evaluate, optimizer, train,
};
