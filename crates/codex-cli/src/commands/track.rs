//! `codex runs list | show | compare | sync-mlflow`: tables over
//! `codex_track::runs`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use codex_track::runs::{COMPARED, compare, list_runs, run_details, sync_mlflow};

use crate::cli::RunsCommand;

fn num(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "-".into(), |x| format!("{x:.digits$}"))
}

fn list(dir: &Path) -> Result<String> {
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
                    i.summary["stop"].as_str().unwrap_or("(running or killed)")
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

fn show(dir: &Path) -> Result<String> {
    let d = run_details(dir)?;
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
            serde_json::to_string_pretty(index)?
        );
    }
    if let Some(cfg) = &d.config {
        let _ = writeln!(out, "\nconfig.yaml\n{}", cfg.trim_end());
    }
    Ok(out)
}

fn compare_runs(runs: &[PathBuf], out_dir: Option<&Path>) -> Result<String> {
    let c = compare(runs, out_dir.unwrap_or(Path::new(".")))?;
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
    Ok(out)
}

pub(super) fn run(cmd: RunsCommand) -> Result<String> {
    match cmd {
        RunsCommand::List { dir } => list(&dir),
        RunsCommand::Show { run } => show(&run),
        RunsCommand::Compare { runs, out } => compare_runs(&runs, out.as_deref()),
        RunsCommand::SyncMlflow {
            run,
            uri,
            experiment,
        } => {
            let uri = uri
                .or_else(|| std::env::var("MLFLOW_TRACKING_URI").ok())
                .context("no MLflow server: set MLFLOW_TRACKING_URI or pass --uri")?;
            let s = sync_mlflow(&run, &uri, &experiment)?;
            Ok(format!(
                "synced {} into MLflow {}: experiment {}, run {}: {} params, {} metrics, {} artifacts\n",
                run.display(),
                s.uri,
                s.experiment_id,
                s.run_id,
                s.params,
                s.metrics,
                s.artifacts
            ))
        }
    }
}
