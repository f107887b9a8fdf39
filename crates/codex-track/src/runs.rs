//! Reading run directories back: list, inspect, compare, and replay into MLflow
//! (`codex runs`). Nothing here trusts a run directory: every file is optional
//! and a malformed one is an error naming it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use codex_core::MetricRecord;

use crate::TrackError;
use crate::report::{Series, last_values, read_metrics, series_by_key, svg_chart};

/// A run directory's key facts.
#[derive(Debug, Clone)]
pub struct RunInfo {
    /// The directory.
    pub dir: PathBuf,
    /// `summary.json`, or `null` for a run that has not finished.
    pub summary: serde_json::Value,
    /// The last value of every `split/name` series.
    pub last: BTreeMap<String, f64>,
    /// The lowest finite validation loss.
    pub best_val: Option<f64>,
    /// Every row of `metrics.ndjson`.
    pub records: Vec<MetricRecord>,
}

impl RunInfo {
    /// The directory's name.
    pub fn name(&self) -> String {
        self.dir
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned()
    }
}

fn json_file(path: &Path) -> Result<Option<serde_json::Value>, TrackError> {
    match std::fs::read_to_string(path) {
        Ok(t) => serde_json::from_str(&t)
            .map(Some)
            .map_err(|e| TrackError::Malformed {
                path: path.to_owned(),
                line: e.line(),
                message: format!("not valid JSON: {e}"),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(TrackError::Io {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Reads the run in `dir`.
pub fn read_run(dir: &Path) -> Result<RunInfo, TrackError> {
    let metrics = dir.join("metrics.ndjson");
    if !metrics.is_file() {
        return Err(TrackError::NotARun {
            path: dir.to_owned(),
        });
    }
    let records = read_metrics(&metrics)?;
    let summary = json_file(&dir.join("summary.json"))?.unwrap_or(serde_json::Value::Null);
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

/// A run directory of a listing, read or with the error that stopped it.
pub type Listed = (PathBuf, Result<RunInfo, TrackError>);

/// Every run directory under `dir` (those with `metrics.ndjson`), sorted,
/// each read or with the error that stopped it.
pub fn list_runs(dir: &Path) -> Result<Vec<Listed>, TrackError> {
    let entries = std::fs::read_dir(dir).map_err(|source| TrackError::Io {
        path: dir.to_owned(),
        source,
    })?;
    let mut runs: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("metrics.ndjson").is_file())
        .collect();
    runs.sort();
    Ok(runs
        .into_iter()
        .map(|r| {
            let info = read_run(&r);
            (r, info)
        })
        .collect())
}

/// What `codex runs show` displays of one run.
#[derive(Debug, Clone)]
pub struct RunDetails {
    /// Metrics and summary.
    pub info: RunInfo,
    /// `provenance.json`, if present.
    pub provenance: Option<serde_json::Value>,
    /// `checkpoints/index.json`, if present.
    pub checkpoints: Option<serde_json::Value>,
    /// `config.yaml` as written.
    pub config: Option<String>,
}

/// Reads everything [`RunDetails`] holds.
pub fn run_details(dir: &Path) -> Result<RunDetails, TrackError> {
    Ok(RunDetails {
        info: read_run(dir)?,
        provenance: json_file(&dir.join("provenance.json"))?,
        checkpoints: json_file(&dir.join("checkpoints/index.json"))?,
        config: std::fs::read_to_string(dir.join("config.yaml")).ok(),
    })
}

/// The series `codex runs compare` lines up.
pub const COMPARED: [&str; 5] = [
    "train/loss",
    "validation/loss",
    "validation/perplexity",
    "validation/token_accuracy",
    "system/tokens_per_second",
];

/// Several runs read side by side, with overlaid curves written as SVG.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// The runs, in the order given.
    pub runs: Vec<RunInfo>,
    /// The charts written.
    pub charts: Vec<PathBuf>,
}

/// Reads `runs` and writes their overlaid training and validation loss
/// curves into `out`.
pub fn compare(runs: &[PathBuf], out: &Path) -> Result<Comparison, TrackError> {
    let infos: Vec<RunInfo> = runs.iter().map(|r| read_run(r)).collect::<Result<_, _>>()?;
    std::fs::create_dir_all(out).map_err(|source| TrackError::Io {
        path: out.to_owned(),
        source,
    })?;
    let mut charts = Vec::new();
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
                    label: i.name(),
                    points,
                })
            })
            .collect();
        let path = out.join(file);
        codex_core::write_bytes_atomic(&path, svg_chart(title, "step", key, &series).as_bytes())?;
        charts.push(path);
    }
    Ok(Comparison {
        runs: infos,
        charts,
    })
}

fn num(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "-".into(), |x| format!("{x:.digits$}"))
}

/// Whether a run recorded a failure in `errors.ndjson`.
fn failed(run: &Path) -> bool {
    std::fs::read_to_string(run.join("errors.ndjson"))
        .is_ok_and(|t| t.lines().any(|l| l.contains("\"kind\":\"failed\"")))
}

/// `codex runs list`: one line per run under `dir` with its key numbers.
pub fn list_text(dir: &Path) -> Result<String, TrackError> {
    let runs = list_runs(dir)?;
    let mut out = format!(
        "{:<40} {:>8} {:>12} {:>11} {:>10} {:<12}\n",
        "run", "steps", "train loss", "best val", "tok/s", "stopped by"
    );
    for (path, info) in &runs {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        match info {
            Ok(i) => {
                let steps = i.summary["steps"]
                    .as_u64()
                    .map_or_else(|| "-".into(), |s| s.to_string());
                let loss = i.summary["train_loss"]
                    .as_f64()
                    .or(i.last.get("train/loss").copied());
                let _ = writeln!(
                    out,
                    "{name:<40} {steps:>8} {:>12} {:>11} {:>10} {:<12}",
                    num(loss, 4),
                    num(i.best_val, 4),
                    num(i.summary["tokens_per_second"].as_f64(), 0),
                    i.summary["stop"].as_str().unwrap_or(if failed(path) {
                        "failed"
                    } else {
                        "(running or killed)"
                    })
                );
            }
            Err(e) => {
                let _ = writeln!(out, "{name:<40} unreadable: {e}");
            }
        }
    }
    let _ = writeln!(out, "{} runs in {}", runs.len(), dir.display());
    Ok(out)
}

impl RunDetails {
    /// `codex runs show`: provenance, summary, last values, checkpoints and config.
    pub fn to_text(&self) -> String {
        let d = self;
        let mut out = format!("run {}\n", d.info.dir.display());
        if let Some(p) = &d.provenance {
            for k in ["started_at", "command_line", "host", "git_commit"] {
                if let Some(v) = p.get(k).filter(|v| !v.is_null()) {
                    let _ = writeln!(out, "{k:<12} {}", v.to_string().trim_matches('"'));
                }
            }
        }
        for k in [
            "steps",
            "tokens",
            "train_loss",
            "tokens_per_second",
            "stop",
            "checkpoint",
        ] {
            if let Some(v) = d.info.summary.get(k).filter(|v| !v.is_null()) {
                let _ = writeln!(out, "{k:<12} {}", v.to_string().trim_matches('"'));
            }
        }
        out.push_str("\nlast values\n");
        for (k, v) in d
            .info
            .last
            .iter()
            .filter(|(k, _)| !k.starts_with("system/"))
        {
            let _ = writeln!(out, "  {k:<32} {v:.6}");
        }
        if let Some(b) = d.info.best_val {
            let _ = writeln!(out, "  {:<32} {b:.6}", "best validation/loss");
        }
        if let Some(index) = &d.checkpoints {
            let _ = writeln!(
                out,
                "\ncheckpoints/index.json\n{}",
                serde_json::to_string_pretty(index).expect("JSON serializes")
            );
        }
        if let Some(cfg) = &d.config {
            let _ = writeln!(out, "\nconfig.yaml\n{}", cfg.trim_end());
        }
        out
    }
}

impl Comparison {
    /// `codex runs compare`: the compared series side by side, and the charts.
    pub fn to_text(&self) -> String {
        let c = self;
        let width = c
            .runs
            .iter()
            .map(|i| i.name().len())
            .max()
            .unwrap_or(3)
            .max(3);
        let mut out = format!("{:<width$}", "run");
        for k in COMPARED {
            let _ = write!(out, " {k:>26}");
        }
        let _ = writeln!(out, " {:>26}", "best validation/loss");
        for i in &c.runs {
            let _ = write!(out, "{:<width$}", i.name());
            for k in COMPARED {
                let _ = write!(out, " {:>26}", num(i.last.get(k).copied(), 4));
            }
            let _ = writeln!(out, " {:>26}", num(i.best_val, 4));
        }
        for p in &c.charts {
            let _ = writeln!(out, "curves: {}", p.display());
        }
        out
    }
}

/// What replaying a run into MLflow did.
#[derive(Debug, Clone)]
pub struct Synced {
    /// The tracking URI, redacted.
    pub uri: String,
    /// The experiment.
    pub experiment_id: String,
    /// The new run.
    pub run_id: String,
    /// Parameters sent.
    pub params: usize,
    /// Metric rows sent.
    pub metrics: usize,
    /// Artifacts uploaded.
    pub artifacts: usize,
}

/// Replays the run in `dir` into the MLflow server at `uri` as a new run of
/// `experiment`, and records the MLflow run in `dir/mlflow.json`.
pub fn sync_mlflow(dir: &Path, uri: &str, experiment: &str) -> Result<Synced, TrackError> {
    let info = read_run(dir)?;
    let client = crate::mlflow::Client::new(uri);
    let cfg = codex_core::config::ConfigLoader::new()
        .file(dir.join("config.yaml"))
        .load()?
        .config;
    let params: Vec<(String, String)> = crate::tracking::config_params(&cfg).into_iter().collect();
    let exp = client.experiment_id(experiment)?;
    let (run_id, artifact_uri) = client.create_run(
        &exp,
        &info.name(),
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
    client.finish_run(&run_id, crate::mlflow::run_status(status))?;
    let shown = client.uri().to_owned();
    codex_core::write_bytes_atomic(
        dir.join("mlflow.json"),
        (serde_json::to_string_pretty(&serde_json::json!({
            "uri": shown, "experiment_id": exp, "run_id": run_id, "synced": true
        }))
        .expect("JSON serializes")
            + "\n")
            .as_bytes(),
    )?;
    Ok(Synced {
        uri: shown,
        experiment_id: exp,
        run_id,
        params: params.len(),
        metrics: info.records.len(),
        artifacts,
    })
}
