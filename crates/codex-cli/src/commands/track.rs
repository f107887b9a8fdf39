//! The sinks, system sampler and report of a training run, and `codex runs`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use codex_core::config::AppConfig;
use codex_core::{MetricRecord, MetricSink, SinkError};
use codex_track::report::{
    Series, last_values, read_metrics, series_by_key, svg_chart, write_report,
};
use codex_track::{
    CsvSink, FanOut, MlflowReport, MlflowSink, MlflowTarget, NdjsonSink, SinkHealth, SystemSampler,
    TensorBoardSink,
};

use crate::cli::RunsCommand;

/// The MLflow tracking URI: `track.mlflow.uri`, else `MLFLOW_TRACKING_URI`.
pub(crate) fn mlflow_uri(cfg: &AppConfig) -> Option<String> {
    cfg.track
        .mlflow
        .uri
        .clone()
        .or_else(|| std::env::var("MLFLOW_TRACKING_URI").ok())
        .filter(|u| !u.trim().is_empty())
}

/// Dotted keys to values of a JSON document (the flattened configuration).
pub(crate) fn flatten(v: &serde_json::Value) -> BTreeMap<String, String> {
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

/// Everything a training run writes metrics through.
pub(crate) struct Tracking {
    fan: FanOut,
    sampler: Option<SystemSampler>,
    step: Arc<AtomicU64>,
    system: mpsc::Receiver<Vec<MetricRecord>>,
    gpu_note: Option<String>,
}

impl Tracking {
    /// Opens the sinks of `cfg.track` for the run in `dir` (resuming from
    /// `resume_step` when given), logs the configuration as params and starts
    /// the system sampler.
    pub(crate) fn start(cfg: &AppConfig, dir: &Path, resume_step: Option<u64>) -> Result<Self> {
        let e = |e: SinkError| anyhow::anyhow!("{e}");
        let ndjson = dir.join("metrics.ndjson");
        let primary: Box<dyn MetricSink> = match resume_step {
            Some(step) => Box::new(NdjsonSink::open_resuming(&ndjson, step).map_err(e)?),
            None => Box::new(NdjsonSink::create(&ndjson).map_err(e)?),
        };
        let mut others: Vec<Box<dyn MetricSink>> = Vec::new();
        if cfg.track.csv {
            let csv = dir.join("metrics.csv");
            others.push(match resume_step {
                Some(step) => Box::new(CsvSink::open_resuming(&csv, step).map_err(e)?),
                None => Box::new(CsvSink::create(&csv).map_err(e)?),
            });
        }
        if cfg.track.tensorboard {
            others.push(Box::new(TensorBoardSink::create(dir).map_err(e)?));
        }
        let mut fan = FanOut::new(primary, others);
        if let Some(uri) = mlflow_uri(cfg) {
            let run_name = dir.file_name().map_or_else(
                || cfg.run.name.clone(),
                |n| n.to_string_lossy().into_owned(),
            );
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
            }));
        }
        fan.log_params(&flatten(&serde_json::to_value(cfg)?))
            .map_err(e)?;
        let step = Arc::new(AtomicU64::new(resume_step.unwrap_or(0)));
        let (tx, system) = mpsc::channel();
        let sampler = SystemSampler::start(
            &dir.join("system.ndjson"),
            Duration::from_secs_f64(cfg.track.system_interval_secs),
            Arc::clone(&step),
            move |r| {
                let _ = tx.send(r.to_vec());
            },
        )
        .with_context(|| format!("cannot start the system sampler in {}", dir.display()))?;
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

    /// Why there are no GPU samples, if there are none (the sampler has logged it).
    pub(crate) fn gpu_note(&self) -> Option<&str> {
        self.gpu_note.as_deref()
    }

    /// Stops the sampler, writes `report.md`, sends artifacts to MLflow and
    /// closes every sink; returns the secondary sinks' health and MLflow's report.
    pub(crate) fn finish(
        mut self,
        dir: &Path,
        status: &str,
    ) -> Result<(Vec<SinkHealth>, Option<MlflowReport>)> {
        if let Some(s) = self.sampler.take() {
            s.stop();
        }
        self.drain_system();
        self.fan.flush().map_err(|e| anyhow::anyhow!("{e}"))?;
        let report = write_report(dir)
            .with_context(|| format!("cannot write the report of {}", dir.display()))?;
        for name in ["config.yaml", "summary.json", "report.md"] {
            if let Ok(bytes) = std::fs::read(dir.join(name)) {
                self.fan.log_artifact(name, bytes);
            }
        }
        if let Ok(entries) = std::fs::read_dir(dir.join("report")) {
            for e in entries.flatten() {
                if let Ok(bytes) = std::fs::read(e.path()) {
                    self.fan.log_artifact(
                        &format!("report/{}", e.file_name().to_string_lossy()),
                        bytes,
                    );
                }
            }
        }
        if let Some(best) = best_checkpoint(dir)
            && let Ok(entries) = std::fs::read_dir(&best)
        {
            let name = best
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            for e in entries.flatten() {
                if let Ok(bytes) = std::fs::read(e.path()) {
                    self.fan.log_artifact(
                        &format!("checkpoints/{name}/{}", e.file_name().to_string_lossy()),
                        bytes,
                    );
                }
            }
        }
        tracing::info!("report {}", report.display());
        self.fan.close(status).map_err(|e| anyhow::anyhow!("{e}"))?;
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
fn best_checkpoint(dir: &Path) -> Option<PathBuf> {
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("checkpoints/index.json")).ok()?)
            .ok()?;
    let name = index["best"]
        .as_array()
        .and_then(|b| b.first())
        .and_then(|b| b["name"].as_str().or(b["dir"].as_str()).or(b.as_str()))
        .or(index["latest"].as_str())?;
    let p = dir.join("checkpoints").join(name);
    p.is_dir().then_some(p)
}

/// A run directory's key facts, read without trusting it.
struct RunInfo {
    dir: PathBuf,
    summary: serde_json::Value,
    last: BTreeMap<String, f64>,
    best_val: Option<f64>,
    records: Vec<MetricRecord>,
}

fn read_run(dir: &Path) -> Result<RunInfo> {
    if !dir.is_dir() {
        bail!("{}: not a directory", dir.display());
    }
    let metrics = dir.join("metrics.ndjson");
    if !metrics.is_file() {
        bail!("{}: not a run directory (no metrics.ndjson)", dir.display());
    }
    let records = read_metrics(&metrics)?;
    let summary = match std::fs::read_to_string(dir.join("summary.json")) {
        Ok(t) => serde_json::from_str(&t)
            .with_context(|| format!("{}: not valid JSON", dir.join("summary.json").display()))?,
        Err(_) => serde_json::Value::Null,
    };
    let best_val = records
        .iter()
        .filter(|r| r.split == "validation" && r.name == "loss" && r.value.is_finite())
        .map(|r| r.value)
        .reduce(f64::min);
    Ok(RunInfo {
        dir: dir.to_owned(),
        summary,
        last: last_values(&records),
        best_val,
        records,
    })
}

fn num(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "-".into(), |x| format!("{x:.digits$}"))
}

fn list(dir: &Path) -> Result<String> {
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    let mut runs: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("metrics.ndjson").is_file())
        .collect();
    runs.sort();
    let mut out = format!(
        "{:<40} {:>8} {:>12} {:>11} {:>10} {:<12}\n",
        "run", "steps", "train loss", "best val", "tok/s", "stopped by"
    );
    for r in &runs {
        match read_run(r) {
            Ok(info) => {
                let _ = writeln!(
                    out,
                    "{:<40} {:>8} {:>12} {:>11} {:>10} {:<12}",
                    r.file_name().unwrap_or_default().to_string_lossy(),
                    info.summary["steps"]
                        .as_u64()
                        .map_or_else(|| "-".into(), |s| s.to_string()),
                    num(
                        info.summary["train_loss"]
                            .as_f64()
                            .or(info.last.get("train/loss").copied()),
                        4
                    ),
                    num(info.best_val, 4),
                    num(info.summary["tokens_per_second"].as_f64(), 0),
                    info.summary["stop"]
                        .as_str()
                        .unwrap_or("(running or killed)")
                );
            }
            Err(e) => {
                let _ = writeln!(
                    out,
                    "{:<40} unreadable: {e:#}",
                    r.file_name().unwrap_or_default().to_string_lossy()
                );
            }
        }
    }
    let _ = write!(out, "{} runs in {}", runs.len(), dir.display());
    Ok(out + "\n")
}

fn show(dir: &Path) -> Result<String> {
    let info = read_run(dir)?;
    let mut out = format!("run {}\n", info.dir.display());
    if let Ok(p) = std::fs::read_to_string(dir.join("provenance.json")) {
        let p: serde_json::Value = serde_json::from_str(&p).with_context(|| {
            format!("{}: not valid JSON", dir.join("provenance.json").display())
        })?;
        for k in ["started_at", "command_line", "host", "git_commit"] {
            if let Some(v) = p.get(k).filter(|v| !v.is_null()) {
                let _ = writeln!(out, "{k:<12} {}", v.to_string().trim_matches('"'));
            }
        }
    }
    if !info.summary.is_null() {
        for k in [
            "steps",
            "tokens",
            "train_loss",
            "tokens_per_second",
            "stop",
            "checkpoint",
        ] {
            if let Some(v) = info.summary.get(k).filter(|v| !v.is_null()) {
                let _ = writeln!(out, "{k:<12} {}", v.to_string().trim_matches('"'));
            }
        }
    }
    out.push_str("\nlast values\n");
    for (k, v) in &info.last {
        if !k.starts_with("system/") {
            let _ = writeln!(out, "  {k:<32} {v:.6}");
        }
    }
    if let Some(b) = info.best_val {
        let _ = writeln!(out, "  {:<32} {b:.6}", "best validation/loss");
    }
    if let Ok(index) = std::fs::read_to_string(dir.join("checkpoints/index.json")) {
        let _ = writeln!(out, "\ncheckpoints/index.json\n{}", index.trim_end());
    }
    if let Ok(cfg) = std::fs::read_to_string(dir.join("config.yaml")) {
        let _ = writeln!(out, "\nconfig.yaml\n{}", cfg.trim_end());
    }
    Ok(out)
}

fn compare(runs: &[PathBuf], out_dir: Option<&Path>) -> Result<String> {
    let infos: Vec<RunInfo> = runs.iter().map(|r| read_run(r)).collect::<Result<_>>()?;
    let keys = [
        "train/loss",
        "validation/loss",
        "validation/perplexity",
        "validation/token_accuracy",
        "system/tokens_per_second",
    ];
    let name = |i: &RunInfo| {
        i.dir
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned()
    };
    let width = infos
        .iter()
        .map(|i| name(i).len())
        .max()
        .unwrap_or(3)
        .max(3);
    let mut out = format!("{:<width$}", "run");
    for k in keys {
        let _ = write!(out, " {k:>26}");
    }
    let _ = writeln!(out, " {:>26}", "best validation/loss");
    for i in &infos {
        let _ = write!(out, "{:<width$}", name(i));
        for k in keys {
            let _ = write!(out, " {:>26}", num(i.last.get(k).copied(), 4));
        }
        let _ = writeln!(out, " {:>26}", num(i.best_val, 4));
    }
    let dir = out_dir.map_or_else(|| PathBuf::from("."), Path::to_owned);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for (file, key, title) in [
        ("compare-loss.svg", "train/loss", "Training loss"),
        (
            "compare-validation.svg",
            "validation/loss",
            "Validation loss",
        ),
    ] {
        let series: Vec<Series> = infos
            .iter()
            .filter_map(|i| {
                series_by_key(&i.records).remove(key).map(|points| Series {
                    label: name(i),
                    points,
                })
            })
            .collect();
        let path = dir.join(file);
        codex_core::write_bytes_atomic(&path, svg_chart(title, "step", key, &series).as_bytes())?;
        let _ = writeln!(out, "curves: {}", path.display());
    }
    Ok(out)
}

/// Replays a run directory into MLflow as a new run.
fn sync_mlflow(dir: &Path, uri: Option<String>, experiment: &str) -> Result<String> {
    let info = read_run(dir)?;
    let uri = uri
        .or_else(|| std::env::var("MLFLOW_TRACKING_URI").ok())
        .context("no MLflow server: set MLFLOW_TRACKING_URI or pass --uri")?;
    let client = codex_track::mlflow::Client::new(&uri);
    let cfg = codex_core::config::ConfigLoader::new()
        .file(dir.join("config.yaml"))
        .load()?
        .config;
    let params: Vec<(String, String)> = flatten(&serde_json::to_value(&cfg)?).into_iter().collect();
    let exp = client.experiment_id(experiment)?;
    let name = dir
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let (run_id, artifact_uri) = client.create_run(
        &exp,
        &name,
        &[
            ("codex.run_dir".into(), dir.display().to_string()),
            ("codex.synced".into(), "true".into()),
            ("mlflow.source.name".into(), "codex".into()),
        ],
    )?;
    client.log_batch(&run_id, &params, &info.records)?;
    let mut artifacts = 0;
    for file in ["config.yaml", "summary.json", "report.md"] {
        if let Ok(bytes) = std::fs::read(dir.join(file)) {
            client.put_artifact(&artifact_uri, file, &bytes)?;
            artifacts += 1;
        }
    }
    let status = match info.summary["stop"].as_str() {
        Some("Interrupted") | None => "killed",
        Some(_) => "finished",
    };
    client.finish_run(&run_id, codex_track::mlflow::run_status(status))?;
    codex_core::write_bytes_atomic(
        dir.join("mlflow.json"),
        serde_json::to_vec_pretty(&serde_json::json!({ "uri": uri, "experiment_id": exp, "run_id": run_id, "synced": true }))?.as_slice(),
    )?;
    Ok(format!(
        "synced {} into MLflow {uri}: experiment {exp}, run {run_id}: {} params, {} metrics, {artifacts} artifacts\n",
        dir.display(),
        params.len(),
        info.records.len()
    ))
}

pub(super) fn run(cmd: RunsCommand) -> Result<String> {
    match cmd {
        RunsCommand::List { dir } => list(&dir),
        RunsCommand::Show { run } => show(&run),
        RunsCommand::Compare { runs, out } => compare(&runs, out.as_deref()),
        RunsCommand::SyncMlflow {
            run,
            uri,
            experiment,
        } => sync_mlflow(&run, uri, &experiment),
    }
}
