//! `codex sweep`: a grid of overrides run one after another, compared in one table.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::Ordering;

use anyhow::{Context, Result, bail};

use super::config::loader;
use super::train::{STOP, run_job};
use crate::cli::ConfigArgs;

/// One axis: `KEY=V1,V2,…`.
fn parse_axis(spec: &str) -> Result<(String, Vec<String>)> {
    let (key, values) = spec
        .split_once('=')
        .with_context(|| format!("--grid `{spec}` must look like KEY=V1,V2"))?;
    let values: Vec<String> = values
        .split(',')
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .collect();
    if key.trim().is_empty() || values.is_empty() {
        bail!("--grid `{spec}` must name a key and at least one value");
    }
    Ok((key.trim().to_owned(), values))
}

/// Every combination, the first axis varying slowest.
fn combinations(axes: &[(String, Vec<String>)]) -> Vec<Vec<String>> {
    let mut out = vec![Vec::new()];
    for (key, values) in axes {
        out = out
            .into_iter()
            .flat_map(|prefix| {
                values.iter().map(move |v| {
                    let mut c = prefix.clone();
                    c.push(format!("{key}={v}"));
                    c
                })
            })
            .collect();
    }
    out
}

/// A metric of a run's summary.json, and whether larger is better.
fn metric_of(summary: &serde_json::Value, metric: &str) -> Result<(Option<f64>, bool)> {
    Ok(match metric {
        "validation/loss" => (summary["validation"]["loss"].as_f64(), false),
        "validation/perplexity" => (summary["validation"]["perplexity"].as_f64(), false),
        "validation/token_accuracy" => (summary["validation"]["token_accuracy"].as_f64(), true),
        "train/loss" => (summary["train_loss"].as_f64(), false),
        "tokens_per_second" => (summary["tokens_per_second"].as_f64(), true),
        other => bail!(
            "unknown metric `{other}`; expected validation/loss, validation/perplexity, validation/token_accuracy, train/loss or tokens_per_second"
        ),
    })
}

struct Row {
    overrides: Vec<String>,
    run: Option<PathBuf>,
    value: Option<f64>,
    summary: serde_json::Value,
    error: Option<String>,
}

pub(super) fn run(config: &ConfigArgs, grid: &[String], metric: &str) -> Result<String> {
    if grid.is_empty() {
        bail!("give at least one --grid KEY=V1,V2");
    }
    let axes = grid
        .iter()
        .map(|g| parse_axis(g))
        .collect::<Result<Vec<_>>>()?;
    let (_, larger_is_better) = metric_of(&serde_json::Value::Null, metric)?;
    let base = loader(config).load()?.config;
    let combos = combinations(&axes);
    // Check every combination's configuration before spending time on any run.
    for c in &combos {
        let mut args = config.overrides.clone();
        args.extend(c.iter().cloned());
        loader(&ConfigArgs {
            config: config.config.clone(),
            overrides: args,
        })
        .load()
        .with_context(|| format!("sweep point {}", c.join(" ")))?;
    }
    let started = chrono::Local::now();
    let sweep_dir = base.run.runs_dir.join(format!(
        "sweep-{}-{}",
        started.format("%Y%m%d-%H%M%S"),
        base.run.name
    ));
    std::fs::create_dir_all(&sweep_dir)?;
    let mut rows = Vec::new();
    for (i, c) in combos.iter().enumerate() {
        if STOP.load(Ordering::SeqCst) {
            break;
        }
        let mut args = config.overrides.clone();
        args.extend(c.iter().cloned());
        args.push(format!("run.name={}-sweep{}", base.run.name, i + 1));
        tracing::info!("sweep {}/{}: {}", i + 1, combos.len(), c.join(" "));
        let result = run_job(
            &ConfigArgs {
                config: config.config.clone(),
                overrides: args,
            },
            None,
        );
        rows.push(match result {
            Ok((_, run)) => {
                let summary: serde_json::Value = std::fs::read_to_string(run.join("summary.json"))
                    .ok()
                    .and_then(|t| serde_json::from_str(&t).ok())
                    .unwrap_or(serde_json::Value::Null);
                let (value, _) = metric_of(&summary, metric)?;
                Row {
                    overrides: c.clone(),
                    run: Some(run),
                    value,
                    summary,
                    error: None,
                }
            }
            Err(e) => Row {
                overrides: c.clone(),
                run: None,
                value: None,
                summary: serde_json::Value::Null,
                error: Some(format!("{e:#}")),
            },
        });
    }
    // Best first; runs without the metric (failed) last, in grid order.
    rows.sort_by(|a, b| match (a.value, b.value) {
        (Some(x), Some(y)) if larger_is_better => y.total_cmp(&x),
        (Some(x), Some(y)) => x.total_cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    let keys: Vec<&str> = axes.iter().map(|(k, _)| k.as_str()).collect();
    let mut csv = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = vec!["rank".into()];
    header.extend(keys.iter().map(|k| (*k).to_owned()));
    header.extend([
        metric.to_owned(),
        "steps".into(),
        "tokens_per_second".into(),
        "run".into(),
        "error".into(),
    ]);
    csv.write_record(&header)?;
    let mut md = String::new();
    writeln!(md, "| {} |", header.join(" | "))?;
    writeln!(md, "|{}", "---|".repeat(header.len()))?;
    for (rank, r) in rows.iter().enumerate() {
        let mut cells = vec![(rank + 1).to_string()];
        cells.extend(
            r.overrides
                .iter()
                .map(|o| o.split_once('=').map_or("", |x| x.1).to_owned()),
        );
        cells.push(r.value.map_or_else(String::new, |v| format!("{v:.6}")));
        cells.push(
            r.summary["steps"]
                .as_u64()
                .map_or_else(String::new, |v| v.to_string()),
        );
        cells.push(
            r.summary["tokens_per_second"]
                .as_f64()
                .map_or_else(String::new, |v| format!("{v:.0}")),
        );
        cells.push(
            r.run
                .as_ref()
                .map_or_else(String::new, |p| p.display().to_string()),
        );
        cells.push(r.error.clone().unwrap_or_default());
        csv.write_record(&cells)?;
        writeln!(
            md,
            "| {} |",
            cells
                .iter()
                .map(|c| c.replace('|', "\\\\|"))
                .collect::<Vec<_>>()
                .join(" | ")
        )?;
    }
    let csv = csv.into_inner().context("cannot finish the CSV")?;
    codex_core::write_bytes_atomic(sweep_dir.join("comparison.csv"), &csv)?;
    codex_core::write_bytes_atomic(sweep_dir.join("comparison.md"), md.as_bytes())?;
    let mut out = md;
    writeln!(
        out,
        "\n{} of {} runs finished; table in {}/comparison.csv and comparison.md",
        rows.iter().filter(|r| r.error.is_none()).count(),
        combos.len(),
        sweep_dir.display()
    )?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_expands_first_axis_slowest() {
        let axes = vec![
            parse_axis("train.lr=1e-3,3e-4").unwrap(),
            parse_axis("model.n_layer=2,4").unwrap(),
        ];
        let c = combinations(&axes);
        assert_eq!(c.len(), 4);
        assert_eq!(c[0], ["train.lr=1e-3", "model.n_layer=2"]);
        assert_eq!(c[1], ["train.lr=1e-3", "model.n_layer=4"]);
        assert_eq!(c[3], ["train.lr=3e-4", "model.n_layer=4"]);
        assert!(parse_axis("train.lr").is_err());
        assert!(parse_axis("train.lr=").is_err());
    }
}
