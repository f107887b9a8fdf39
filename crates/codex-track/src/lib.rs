//! `codex-track`: metric sinks behind the `codex_core::MetricSink` trait, system
//! monitoring and run reports.
//!
//! May depend on `codex-core`; never on a tensor backend. `codex-train` writes
//! through the trait, so training never depends on how metrics are stored.
//!
//! Status: [`NdjsonSink`] (`metrics.ndjson`) is here, used by training; the
//! tracking issue adds CSV, TensorBoard, MLflow over REST, system metrics and
//! reports, and `codex runs` says it is not built until then. No cargo features yet.

mod ndjson;

pub use ndjson::NdjsonSink;
