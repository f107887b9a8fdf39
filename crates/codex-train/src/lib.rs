//! `codex-train`: the training loop that makes codex runs exact and resumable.
//!
//! May depend on `codex-core`, `codex-model`, `codex-data`, `codex-track` and
//! `codex-eval`; never on `codex-safety` or `codex-audit`, and it never prints:
//! progress goes to the caller through values and to sinks through
//! `codex_core::MetricSink`.
//!
//! Status: the training issue builds this crate (the loop, checkpoints with exact
//! resume, sweeps, generation); it has no API yet, and `codex train` says so
//! instead of pretending.
//!
//! # Features
//!
//! `flex` (default), `ndarray`, `wgpu`, `cuda`: forwarded to `codex-model`.
