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
//! - [`Tracking`]: the sinks, sampler, report and artifacts of one run, built
//!   from the `track` section (what a training job writes through);
//! - [`report`]: `report.md` with SVG curves;
//! - [`runs`]: reading run directories back — list, details, comparison, and
//!   replay into MLflow (`codex runs`).
//!
//! May depend on `codex-core`; never on a tensor backend. `codex-train` writes
//! through the trait, so training never depends on how metrics are stored.
//! No cargo features.
//!
//! ```
//! use codex_core::{MetricRecord, MetricSink};
//!
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("metrics.ndjson");
//! let mut sink = codex_track::NdjsonSink::create(&path)?;
//! let row = |step, value| MetricRecord {
//!     step,
//!     epoch: 0,
//!     split: "train".into(),
//!     name: "loss".into(),
//!     value,
//!     wall_time: 0.0,
//! };
//! sink.log_metrics(&[row(1, 2.5), row(2, 2.0)])?;
//! sink.close("finished")?;
//! let back = codex_track::report::read_metrics(&path)?;
//! assert_eq!(back.len(), 2);
//! # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
//! ```
//!
//! The workspace's `plugins` example writes a sink of its own and plugs it
//! into a training job.

mod csv_sink;
mod fanout;
mod line_file;
pub mod mlflow;
mod ndjson;
pub mod report;
pub mod runs;
mod system;
pub mod tensorboard;
mod tracking;

use std::path::PathBuf;

pub use csv_sink::CsvSink;
pub use fanout::{FanOut, SinkHealth};
pub use mlflow::{MlflowReport, MlflowRun, MlflowSink, MlflowTarget};
pub use ndjson::NdjsonSink;
pub use system::SystemSampler;
pub use tensorboard::TensorBoardSink;
pub use tracking::{Tracking, best_checkpoint, config_params, flatten, mlflow_uri};

/// Errors of tracking and of reading run directories.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrackError {
    /// A directory that holds no `metrics.ndjson`.
    #[error("{}: not a run directory (no metrics.ndjson)", path.display())]
    NotARun {
        /// The directory.
        path: PathBuf,
    },
    /// A sink failed.
    #[error(transparent)]
    Sink(#[from] codex_core::SinkError),
    /// An MLflow request failed.
    #[error(transparent)]
    Mlflow(#[from] mlflow::MlflowError),
    /// Writing a file, or reading a run's configuration, failed.
    #[error(transparent)]
    Core(#[from] codex_core::Error),
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
    /// A run name that names no run, or several.
    #[error("{}", no_such_run(name, runs_dir, matches))]
    NoSuchRun {
        /// The name as given.
        name: String,
        /// Where runs were looked for.
        runs_dir: PathBuf,
        /// The runs whose names contain it (more than one), if any.
        matches: Vec<String>,
    },
}

fn no_such_run(name: &str, runs_dir: &std::path::Path, matches: &[String]) -> String {
    if matches.is_empty() {
        format!(
            "no run `{name}`: neither a directory nor a run in {} (`codex runs list`)",
            runs_dir.display()
        )
    } else {
        let shown: Vec<&str> = matches.iter().take(10).map(String::as_str).collect();
        let more = matches.len().saturating_sub(shown.len());
        let more = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        format!(
            "`{name}` matches {} runs in {}: {}{more}; give more of the name",
            matches.len(),
            runs_dir.display(),
            shown.join(", ")
        )
    }
}

impl TrackError {
    /// Whether the error is the input's fault (a path that is not a run, a
    /// run name that names none, a malformed run file): `codex` exits 2.
    pub fn is_bad_input(&self) -> bool {
        match self {
            Self::NotARun { .. } | Self::NoSuchRun { .. } | Self::Malformed { .. } => true,
            Self::Io { source, .. } => source.kind() == std::io::ErrorKind::NotFound,
            Self::Core(e) => e.is_bad_input(),
            _ => false,
        }
    }
}
