//! `codex eval text` and `codex eval ppl`: `codex_eval::job` with a table or JSON.

use std::path::{Path, PathBuf};

use anyhow::Result;
use codex_eval::job::{Output, PplRequest, TextEvalRequest, evaluate_ppl, evaluate_text};
use codex_eval::runner::EvalReport;

use super::config::loader;
use crate::cli::{ConfigArgs, EvalTextArgs};

fn output(out: Option<PathBuf>) -> Output {
    match out {
        Some(d) => Output::Dir(d),
        None => Output::NewRun {
            build: super::build_info(),
            command_line: std::env::args().collect(),
        },
    }
}

pub(super) fn text(args: &EvalTextArgs) -> Result<String> {
    let cfg = loader(&args.config).load()?.config;
    let request = TextEvalRequest {
        hyp: args.hyp.clone(),
        refs: args.refs.clone(),
        metrics: args.metrics.clone(),
        bootstrap: args.bootstrap,
        baseline: args.baseline.clone(),
        dataset: args.dataset.clone(),
        split: args.split.clone(),
        output: output(args.out.clone()),
    };
    let e = evaluate_text(&request, &cfg)?;
    render(&e.report, e.paired.as_ref(), &e.dir, args.json)
}

fn render(
    report: &EvalReport,
    paired: Option<&serde_json::Value>,
    dir: &Path,
    json: bool,
) -> Result<String> {
    if json {
        let mut v = serde_json::to_value(report)?;
        if let Some(p) = paired {
            v["paired"] = p.clone();
        }
        v["output_dir"] = serde_json::Value::String(dir.display().to_string());
        return Ok(serde_json::to_string_pretty(&v)? + "\n");
    }
    let mut out = report.table();
    if let Some(p) = paired {
        out.push_str("\n\npaired bootstrap against the baseline (p: chance of a difference this large if the systems were equal)\n");
        for r in p["results"].as_array().into_iter().flatten() {
            out.push_str(&format!(
                "{:<14} baseline {:>10.4}  system {:>10.4}  p = {:.4}\n",
                r["name"].as_str().unwrap_or(""),
                r["baseline"].as_f64().unwrap_or(f64::NAN),
                r["system"].as_f64().unwrap_or(f64::NAN),
                r["p_value"].as_f64().unwrap_or(f64::NAN)
            ));
        }
    }
    out.push_str(&format!("\nwritten to {}\n", dir.display()));
    Ok(out)
}

pub(super) fn ppl(
    nll: &Path,
    bootstrap: Option<u32>,
    out: Option<PathBuf>,
    dataset: Option<String>,
    split: String,
    config: &ConfigArgs,
) -> Result<String> {
    let cfg = loader(config).load()?.config;
    let request = PplRequest {
        nll: nll.to_owned(),
        bootstrap,
        dataset,
        split,
        output: output(out),
    };
    let (report, dir) = evaluate_ppl(&request, &cfg)?;
    Ok(format!(
        "{}\n\nwritten to {}\n",
        report.table(),
        dir.display()
    ))
}
