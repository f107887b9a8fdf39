//! Everything a run writes metrics through, built from the `track` section:
//! the sinks, the system sampler, and at the end the report and artifacts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use codex_core::config::AppConfig;
use codex_core::{MetricRecord, MetricSink, SinkError};

use crate::report::write_report;
use crate::{
    CsvSink, FanOut, MlflowReport, MlflowSink, MlflowTarget, NdjsonSink, SinkHealth, SystemSampler,
    TensorBoardSink, TrackError,
};

/// The MLflow tracking URI: `track.mlflow.uri`, else `MLFLOW_TRACKING_URI`.
pub fn mlflow_uri(cfg: &AppConfig) -> Option<String> {
    cfg.track
        .mlflow
        .uri
        .clone()
        .or_else(|| std::env::var("MLFLOW_TRACKING_URI").ok())
        .filter(|u| !u.trim().is_empty())
}

/// Dotted keys to values of a JSON document (a configuration as parameters).
pub fn flatten(v: &serde_json::Value) -> BTreeMap<String, String> {
    fn walk(prefix: &str, v: &serde_json::Value, out: &mut BTreeMap<String, String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&key, v, out);
                }
            }
            serde_json::Value::String(s) => {
                out.insert(prefix.to_owned(), s.clone());
            }
            other => {
                out.insert(prefix.to_owned(), other.to_string());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk("", v, &mut out);
    out
}

/// A configuration as tracking parameters, with every secret redacted.
pub fn config_params(cfg: &AppConfig) -> BTreeMap<String, String> {
    let mut v = serde_json::to_value(cfg).expect("a configuration serializes");
    codex_core::redact::redact_json(&mut v);
    flatten(&v)
}

fn sink_err(e: SinkError) -> TrackError {
    TrackError::Sink(e)
}

/// The sinks of one run (NDJSON first, then CSV, TensorBoard, MLflow and any
/// the caller adds), the system sampler feeding them, and the step the run is
/// at. Implements [`MetricSink`], so the training loop writes through it.
pub struct Tracking {
    fan: FanOut,
    sampler: Option<SystemSampler>,
    step: Arc<AtomicU64>,
    system: mpsc::Receiver<Vec<MetricRecord>>,
    gpu_note: Option<String>,
}

impl std::fmt::Debug for Tracking {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracking")
            .field("fan", &self.fan)
            .finish_non_exhaustive()
    }
}

impl Tracking {
    /// Opens the sinks of `cfg.track` for the run in `dir` (resuming from
    /// `resume_step` when given: rows past it are dropped), adds `extra`
    /// sinks as secondary ones, logs the configuration as parameters
    /// (redacted) and starts the system sampler.
    pub fn start(
        cfg: &AppConfig,
        dir: &Path,
        resume_step: Option<u64>,
        extra: Vec<Box<dyn MetricSink>>,
    ) -> Result<Self, TrackError> {
        let ndjson = dir.join("metrics.ndjson");
        let primary: Box<dyn MetricSink> = match resume_step {
            Some(step) => Box::new(NdjsonSink::open_resuming(&ndjson, step).map_err(sink_err)?),
            None => Box::new(NdjsonSink::create(&ndjson).map_err(sink_err)?),
        };
        let mut others: Vec<Box<dyn MetricSink>> = Vec::new();
        if cfg.track.csv {
            let csv = dir.join("metrics.csv");
            others.push(match resume_step {
                Some(step) => Box::new(CsvSink::open_resuming(&csv, step).map_err(sink_err)?),
                None => Box::new(CsvSink::create(&csv).map_err(sink_err)?),
            });
        }
        if cfg.track.tensorboard {
            others.push(Box::new(TensorBoardSink::create(dir).map_err(sink_err)?));
        }
        others.extend(extra);
        let mut fan = FanOut::new(primary, others);
        if let Some(uri) = mlflow_uri(cfg) {
            let run_name = dir.file_name().map_or_else(
                || cfg.run.name.clone(),
                |n| n.to_string_lossy().into_owned(),
            );
            // A resumed run continues the MLflow run it started, when it
            // recorded one on the same server.
            let state = dir.join("mlflow.json");
            let resume = resume_step
                .and_then(|_| std::fs::read_to_string(&state).ok())
                .and_then(|t| serde_json::from_str::<crate::mlflow::MlflowRun>(&t).ok())
                .filter(|r| r.uri == codex_core::redact::redact_uri(&uri));
            fan = fan.with_mlflow(MlflowSink::start(MlflowTarget {
                uri,
                experiment: cfg.track.mlflow.experiment.clone(),
                run_name,
                tags: vec![
                    ("codex.run_dir".into(), dir.display().to_string()),
                    ("codex.version".into(), env!("CARGO_PKG_VERSION").into()),
                    ("mlflow.source.name".into(), "codex".into()),
                ],
                close_timeout: Duration::from_secs_f64(cfg.track.mlflow.close_timeout_secs),
                state: Some(state),
                resume,
            }));
        }
        fan.log_params(&config_params(cfg)).map_err(sink_err)?;
        let step = Arc::new(AtomicU64::new(resume_step.unwrap_or(0)));
        let (tx, system) = mpsc::channel();
        let path = dir.join("system.ndjson");
        let sampler = SystemSampler::start(
            &path,
            Duration::from_secs_f64(cfg.track.system_interval_secs),
            Arc::clone(&step),
            move |r| {
                let _ = tx.send(r.to_vec());
            },
        )
        .map_err(|source| TrackError::Io { path, source })?;
        let gpu_note = sampler.gpu_note.clone();
        Ok(Self {
            fan,
            sampler: Some(sampler),
            step,
            system,
            gpu_note,
        })
    }

    fn drain_system(&mut self) {
        while let Ok(records) = self.system.try_recv() {
            self.fan.log_secondary(&records);
        }
    }

    /// Why there are no GPU samples, if there are none.
    pub fn gpu_note(&self) -> Option<&str> {
        self.gpu_note.as_deref()
    }

    /// Stops the sampler, writes `report.md`, sends the config, summary,
    /// report and best checkpoint to MLflow as artifacts and closes every
    /// sink with `status`; returns the secondary sinks' health and MLflow's
    /// report.
    pub fn finish(
        mut self,
        dir: &Path,
        status: &str,
    ) -> Result<(Vec<SinkHealth>, Option<MlflowReport>), TrackError> {
        if let Some(s) = self.sampler.take() {
            s.stop();
        }
        self.drain_system();
        self.fan.flush().map_err(sink_err)?;
        write_report(dir)?;
        for name in ["config.yaml", "summary.json", "report.md"] {
            if let Ok(bytes) = std::fs::read(dir.join(name)) {
                self.fan.log_artifact(name, bytes);
            }
        }
        for (sub, from) in [
            ("report".to_owned(), Some(dir.join("report"))),
            (
                best_checkpoint(dir)
                    .and_then(|b| b.file_name().map(|n| n.to_string_lossy().into_owned()))
                    .map_or_else(String::new, |n| format!("checkpoints/{n}")),
                best_checkpoint(dir),
            ),
        ] {
            let Some(entries) = from.and_then(|d| std::fs::read_dir(d).ok()) else {
                continue;
            };
            for e in entries.flatten() {
                if let Ok(bytes) = std::fs::read(e.path()) {
                    self.fan
                        .log_artifact(&format!("{sub}/{}", e.file_name().to_string_lossy()), bytes);
                }
            }
        }
        self.fan.close(status).map_err(sink_err)?;
        Ok((self.fan.health(), self.fan.mlflow_report().cloned()))
    }
}

impl MetricSink for Tracking {
    fn name(&self) -> &str {
        "tracking"
    }

    fn log_params(&mut self, params: &BTreeMap<String, String>) -> Result<(), SinkError> {
        self.fan.log_params(params)
    }

    fn log_metrics(&mut self, records: &[MetricRecord]) -> Result<(), SinkError> {
        if let Some(max) = records.iter().map(|r| r.step).max() {
            self.step.fetch_max(max, Ordering::Relaxed);
        }
        self.fan.log_metrics(records)?;
        self.drain_system();
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        self.drain_system();
        self.fan.flush()
    }

    fn close(&mut self, status: &str) -> Result<(), SinkError> {
        self.fan.close(status)
    }
}

/// The best checkpoint named by `checkpoints/index.json`, else the latest.
pub fn best_checkpoint(dir: &Path) -> Option<PathBuf> {
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("checkpoints/index.json")).ok()?)
            .ok()?;
    let name = index["best"].as_str().or(index["latest"].as_str())?;
    let p = dir.join("checkpoints").join(name);
    p.is_dir().then_some(p)
}
