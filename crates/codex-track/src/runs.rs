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

/// The run directory `name` names: itself when it is a directory, else the
/// run of that name in `runs_dir`, else the one run there whose name
/// contains it (`codex runs show default` for `runs/20261206-054800-default`).
pub fn resolve(name: &Path, runs_dir: &Path) -> Result<PathBuf, TrackError> {
    if name.is_dir() {
        return Ok(name.to_owned());
    }
    let inside = runs_dir.join(name);
    if inside.is_dir() {
        return Ok(inside);
    }
    let text = name.to_string_lossy();
    let mut matches: Vec<String> = if name.components().count() == 1 && !text.is_empty() {
        std::fs::read_dir(runs_dir)
            .map(|entries| {
                entries
                    .flatten()
                    .filter(|e| e.path().join("metrics.ndjson").is_file())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.contains(text.as_ref()))
                    .collect()
            })
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    matches.sort();
    if matches.len() == 1 {
        return Ok(runs_dir.join(&matches[0]));
    }
    Err(TrackError::NoSuchRun {
        name: text.into_owned(),
        runs_dir: runs_dir.to_owned(),
        matches,
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

/// The series `codex runs compare` lines up, with their column headers.
pub const COMPARED: [(&str, &str); 4] = [
    ("train/loss", "train loss"),
    ("validation/loss", "val loss"),
    ("validation/perplexity", "val ppl"),
    ("validation/token_accuracy", "val acc"),
];

/// Several runs read side by side, with overlaid curves written as SVG.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// The runs, in the order given.
    pub runs: Vec<RunInfo>,
    /// The configuration keys whose values differ between the runs (`run.name`
    /// aside), each with one value per run (`None` where a run's
    /// `config.yaml` is missing or unreadable).
    pub differences: Vec<(String, Vec<Option<String>>)>,
    /// The charts written.
    pub charts: Vec<PathBuf>,
}

/// Every leaf of a run's `config.yaml` as `key → value`, or `None` when it
/// cannot be read.
fn config_leaves(run: &Path) -> Option<BTreeMap<String, String>> {
    let path = run.join("config.yaml");
    if !path.is_file() {
        return None;
    }
    let loaded = codex_core::config::ConfigLoader::new()
        .file(path)
        .load()
        .ok()?;
    Some(
        loaded
            .leaves()
            .into_iter()
            .map(|(k, v, _)| {
                let text = match v {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
                (k, text)
            })
            .collect(),
    )
}

/// Reads `runs` and writes their overlaid training and validation loss
/// curves into `out`, or into the first run's directory when `out` is `None`.
pub fn compare(runs: &[PathBuf], out: Option<&Path>) -> Result<Comparison, TrackError> {
    let infos: Vec<RunInfo> = runs.iter().map(|r| read_run(r)).collect::<Result<_, _>>()?;
    let out = out.map_or_else(|| runs[0].clone(), Path::to_owned);
    std::fs::create_dir_all(&out).map_err(|source| TrackError::Io {
        path: out.clone(),
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
        let svg = svg_chart(
            title,
            crate::report::STEP_AXIS,
            crate::report::LOSS_AXIS,
            &series,
        );
        codex_core::write_bytes_atomic(&path, svg.as_bytes())?;
        charts.push(path);
    }
    let configs: Vec<Option<BTreeMap<String, String>>> =
        runs.iter().map(|r| config_leaves(r)).collect();
    let keys: std::collections::BTreeSet<&String> =
        configs.iter().flatten().flat_map(BTreeMap::keys).collect();
    let differences = keys
        .into_iter()
        .filter(|k| k.as_str() != "run.name")
        .filter_map(|k| {
            let values: Vec<Option<String>> = configs
                .iter()
                .map(|c| c.as_ref().and_then(|c| c.get(k).cloned()))
                .collect();
            let first = &values[0];
            values
                .iter()
                .any(|v| v != first)
                .then(|| (k.clone(), values))
        })
        .collect();
    Ok(Comparison {
        runs: infos,
        differences,
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
                    tokens_per_second(&i.summary),
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

/// The host a run's provenance names, in one line.
fn host_line(host: &serde_json::Value) -> String {
    let text = |k: &str| host[k].as_str().unwrap_or("?").to_owned();
    let memory = host["memory_bytes"].as_u64().map_or_else(String::new, |b| {
        format!(", {:.1} GiB", b as f64 / (1u64 << 30) as f64)
    });
    let gpus: Vec<String> = host["gpus"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|g| g["name"].as_str().unwrap_or("GPU").to_owned())
                .collect()
        })
        .unwrap_or_default();
    let gpus = if gpus.is_empty() {
        "no GPU".to_owned()
    } else {
        gpus.join(", ")
    };
    format!(
        "{}: {}, {}, {} ({} threads){memory}, {gpus}",
        text("hostname"),
        text("os"),
        text("arch"),
        text("cpu_model"),
        host["cpu_logical"].as_u64().unwrap_or(0)
    )
}

/// The build that ran a run, in one line.
fn codex_line(codex: &serde_json::Value) -> String {
    let commit = codex["git_commit"].as_str().map_or_else(String::new, |c| {
        let dirty = if codex["git_dirty"] == true {
            ", modified"
        } else {
            ""
        };
        format!(" (commit {}{dirty})", &c[..c.len().min(12)])
    });
    let backends: Vec<&str> = codex["backends"]
        .as_array()
        .map(|a| a.iter().filter_map(|b| b.as_str()).collect())
        .unwrap_or_default();
    format!(
        "{}{commit}, {} build, backends {}",
        codex["version"].as_str().unwrap_or("?"),
        codex["profile"].as_str().unwrap_or("?"),
        backends.join(", ")
    )
}

impl RunDetails {
    /// `codex runs show`: where and how the run was made, its summary, last
    /// values, checkpoints and configuration, each under a heading.
    pub fn to_text(&self) -> String {
        let d = self;
        let mut r = codex_core::TextReport::new(12);
        r.kv("run", d.info.dir.display());
        if let Some(p) = &d.provenance {
            if let Some(t) = p["started_at"].as_str() {
                r.kv("started", t);
            }
            if let Some(args) = p["command_line"].as_array() {
                let words: Vec<&str> = args.iter().filter_map(|a| a.as_str()).collect();
                let program = words.first().map(|w| {
                    Path::new(w)
                        .file_name()
                        .map_or_else(|| (*w).to_owned(), |n| n.to_string_lossy().into_owned())
                });
                let rest = words.get(1..).unwrap_or_default().join(" ");
                r.kv(
                    "command",
                    format_args!("{} {rest}", program.unwrap_or_default()),
                );
            }
            if p["host"].is_object() {
                r.kv("host", host_line(&p["host"]));
            }
            if p["codex"].is_object() {
                r.kv("codex", codex_line(&p["codex"]));
            }
        }
        let mut out = r.finish();
        out.push_str("\nsummary\n");
        let rows = crate::report::summary_rows(&d.info.summary);
        if rows.is_empty() {
            out.push_str("  (no summary.json: the run is still going, or was killed)\n");
        }
        for (label, value) in rows {
            let _ = writeln!(out, "  {label:<30} {value}");
        }
        out.push_str("\nlast values\n");
        for (k, v) in d
            .info
            .last
            .iter()
            .filter(|(k, _)| !k.starts_with("system/"))
        {
            let _ = writeln!(out, "  {k:<30} {}", crate::report::metric_text(k, *v));
        }
        if let Some(b) = d.info.best_val {
            let _ = writeln!(out, "  {:<30} {b:.4}", "best validation/loss");
        }
        if let Some(list) = d
            .checkpoints
            .as_ref()
            .and_then(|i| i["checkpoints"].as_array())
        {
            out.push_str("\ncheckpoints\n");
            let best = d.checkpoints.as_ref().and_then(|i| i["best"].as_str());
            for ck in list {
                let name = ck["name"].as_str().unwrap_or("?");
                let val = ck["val_loss"]
                    .as_f64()
                    .map_or_else(String::new, |v| format!("  validation loss {v:.4}"));
                let mark = if Some(name) == best { "  (best)" } else { "" };
                let _ = writeln!(out, "  {name}{val}{mark}");
            }
        }
        if let Some(cfg) = &d.config {
            let _ = writeln!(out, "\nconfig.yaml\n{}", cfg.trim_end());
        }
        out
    }
}

impl Comparison {
    /// `codex runs compare`: the runs' numbers side by side, the
    /// configuration keys that differ, and the charts.
    pub fn to_text(&self) -> String {
        let c = self;
        let width = c
            .runs
            .iter()
            .map(|i| i.name().len())
            .max()
            .unwrap_or(3)
            .max(3);
        let mut out = format!("{:<width$} {:>8}", "run", "steps");
        for (_, header) in COMPARED {
            let _ = write!(out, " {header:>10}");
        }
        let _ = writeln!(out, " {:>13} {:>10}", "best val loss", "tok/s");
        for i in &c.runs {
            let steps = i.summary["steps"]
                .as_u64()
                .map_or_else(|| "-".into(), codex_core::group_digits);
            let _ = write!(out, "{:<width$} {steps:>8}", i.name());
            for (key, _) in COMPARED {
                let v = i
                    .last
                    .get(key)
                    .map_or_else(|| "-".to_owned(), |&v| crate::report::metric_text(key, v));
                let _ = write!(out, " {v:>10}");
            }
            let _ = writeln!(
                out,
                " {:>13} {:>10}",
                num(i.best_val, 4),
                tokens_per_second(&i.summary)
            );
        }
        if c.differences.is_empty() {
            out.push_str("\nconfiguration: the same in every run (run.name aside)\n");
        } else {
            out.push_str("\nconfiguration that differs\n");
            let key_width = c
                .differences
                .iter()
                .map(|(k, _)| k.len())
                .max()
                .unwrap_or(3);
            for (key, values) in &c.differences {
                let shown: Vec<&str> = values
                    .iter()
                    .map(|v| v.as_deref().unwrap_or("(unreadable)"))
                    .collect();
                let _ = writeln!(out, "  {key:<key_width$}  {}", shown.join("  |  "));
            }
        }
        out.push('\n');
        for p in &c.charts {
            let _ = writeln!(out, "curves: {}", p.display());
        }
        out
    }
}

/// A run's training speed as every table shows it: the summary's
/// `tokens_per_second` (the last invocation's), whole; `-` before it finishes.
pub fn tokens_per_second(summary: &serde_json::Value) -> String {
    summary["tokens_per_second"].as_f64().map_or_else(
        || "-".into(),
        |v| crate::report::metric_text("tokens_per_second", v),
    )
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
        Some("interrupted" | "Interrupted") | None => "killed",
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
