//! `codex-track`: metric sinks behind the `codex_core::MetricSink` trait, system
//! monitoring and run reports.
//!
//! - [`NdjsonSink`] (`metrics.ndjson`, the source of truth), [`CsvSink`]
//!   (`metrics.csv`), [`TensorBoardSink`] (event files written natively, with
//!   a reader in [`tensorboard`]) and [`MlflowSink`] (REST, from a background
//!   thread with buffering and retries), combined by [`FanOut`], which keeps
//!   going when a secondary sink fails;
//! - [`SystemSampler`]: CPU, memory, disk and (through NVML) GPU samples into
//!   `system.ndjson` and the sinks;
//! - [`report`]: `report.md` with SVG curves, and the readers `codex runs` uses.
//!
//! May depend on `codex-core`; never on a tensor backend. `codex-train` writes
//! through the trait, so training never depends on how metrics are stored.
//! No cargo features.

mod csv_sink;
mod fanout;
mod line_file;
pub mod mlflow;
mod ndjson;
pub mod report;
mod system;
pub mod tensorboard;

use std::path::PathBuf;

pub use csv_sink::CsvSink;
pub use fanout::{FanOut, SinkHealth};
pub use mlflow::{MlflowReport, MlflowSink, MlflowTarget};
pub use ndjson::NdjsonSink;
pub use system::SystemSampler;
pub use tensorboard::TensorBoardSink;

/// Errors reading run directories.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrackError {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A line of a run file is malformed.
    #[error("{}:{line}: {message}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
}
