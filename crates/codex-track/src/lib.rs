//! `codex-track`: metric sinks behind the `codex_core::MetricSink` trait, system
//! monitoring and run reports.
//!
//! May depend on `codex-core`; never on a tensor backend. `codex-train` writes
//! through the trait, so training never depends on how metrics are stored.
//!
//! Status: the tracking issue builds this crate (NDJSON, CSV, TensorBoard,
//! MLflow over REST, system metrics, reports); it has no API yet, and `codex runs`
//! says so instead of pretending. No cargo features yet.
