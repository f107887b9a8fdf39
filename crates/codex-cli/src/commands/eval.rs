//! `codex eval text` and `codex eval ppl`: text metrics and corpus perplexity
//! with bootstrap intervals, written to an evaluation directory.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use codex_core::config::{AppConfig, EvalSection};
use codex_core::{Digest, RunDir, Seeds};
use codex_eval::bleu::BleuConfig;
use codex_eval::bootstrap::paired_bootstrap;
use codex_eval::chrf::ChrfConfig;
use codex_eval::input::{InputSpec, read_corpus, read_nll};
use codex_eval::metric::{Metric, MetricSettings};
use codex_eval::rouge::{RougeConfig, RougeType};
use codex_eval::runner::{self, EvalOptions, EvalReport};
use codex_eval::{Corpus, EvalError};

use super::config::loader;
use crate::cli::{ConfigArgs, EvalTextArgs};

fn parse_key<T: std::str::FromStr<Err = String>>(key: &str, value: &str) -> Result<T> {
    value
        .parse()
        .map_err(|e: String| anyhow::anyhow!("{key}: {e}"))
}

/// The metric settings of the `eval` section (already validated by the loader).
fn settings(e: &EvalSection) -> Result<MetricSettings> {
    Ok(MetricSettings {
        bleu: BleuConfig {
            tokenize: parse_key("eval.bleu.tokenize", &e.bleu.tokenize)?,
            smooth: parse_key("eval.bleu.smooth", &e.bleu.smooth)?,
            smooth_value: e.bleu.smooth_value,
            lowercase: e.bleu.lowercase,
            effective_order: e.bleu.effective_order,
            max_order: 4,
        },
        chrf: ChrfConfig {
            char_order: e.chrf.char_order as usize,
            word_order: e.chrf.word_order as usize,
            beta: e.chrf.beta,
            lowercase: e.chrf.lowercase,
            whitespace: e.chrf.whitespace,
            eps_smoothing: e.chrf.eps_smoothing,
        },
        rouge: RougeConfig {
            types: e
                .rouge
                .types
                .iter()
                .map(|t| parse_key::<RougeType>("eval.rouge.types", t))
                .collect::<Result<_>>()?,
            stemmer: e.rouge.stemmer,
        },
        distinct_orders: e.distinct_orders.iter().map(|&n| n as usize).collect(),
    })
}

/// The metrics named, looked up in the registry (an unknown name suggests the nearest).
fn metrics(names: &[String], settings: &MetricSettings) -> Result<Vec<Box<dyn Metric>>> {
    let registry = codex_eval::registry();
    let mut out = Vec::new();
    for name in names {
        let name = name.trim();
        if name.is_empty() {
            continue;
        }
        let entry = registry.get(name)?;
        out.push((entry.value)(settings));
    }
    if out.is_empty() {
        bail!("no metrics to compute: name at least one with --metrics or eval.metrics");
    }
    Ok(out)
}

fn file_digest(path: &Path) -> Result<Digest> {
    Ok(codex_core::hash_file(path)?.0)
}

/// The output directory: `--out`, or `eval/` of a new run directory with the
/// resolved config and provenance.
fn output_dir(out: Option<PathBuf>, cfg: &AppConfig) -> Result<PathBuf> {
    if let Some(dir) = out {
        return Ok(dir);
    }
    let run = RunDir::create(&cfg.run.runs_dir, "eval", chrono::Local::now())?;
    codex_core::write_bytes_atomic(run.config(), cfg.to_yaml().as_bytes())?;
    codex_core::Provenance::capture_current(super::build_info(), Seeds::new(cfg.run.seed))
        .write(run.provenance())?;
    Ok(run.subdir("eval")?)
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map_or_else(|| "data".to_owned(), |s| s.to_string_lossy().into_owned())
}

pub(super) fn text(args: &EvalTextArgs) -> Result<String> {
    let cfg = loader(&args.config).load()?.config;
    let e = &cfg.eval;
    let settings = settings(e)?;
    let names = args.metrics.clone().unwrap_or_else(|| e.metrics.clone());
    let metrics = metrics(&names, &settings)?;
    let spec = InputSpec {
        format: parse_key("eval.input.format", &e.input.format)?,
        hyp_field: e.input.hyp_field.clone(),
        ref_field: e.input.ref_field.clone(),
    };
    let corpus = read_corpus(&args.hyp, &args.refs, &spec)?;
    let options = EvalOptions {
        dataset: args.dataset.clone().unwrap_or_else(|| stem(&args.hyp)),
        split: args.split.clone(),
        bootstrap: args.bootstrap.unwrap_or(e.bootstrap) as usize,
        confidence: e.confidence,
        seed: e.seed,
    };

    // The id covers every input's content and every setting that changes a number.
    let mut parts: Vec<Vec<u8>> = vec![file_digest(&args.hyp)?.as_bytes().to_vec()];
    for r in &args.refs {
        parts.push(file_digest(r)?.as_bytes().to_vec());
    }
    if let Some(b) = &args.baseline {
        parts.push(file_digest(b)?.as_bytes().to_vec());
    }
    parts.push(names.join(",").into_bytes());
    parts.push(serde_json::to_vec(&options)?);
    parts.push(serde_json::to_vec(e)?);
    let id = runner::run_id(&parts.iter().map(Vec::as_slice).collect::<Vec<_>>());

    let (report, scored) = runner::evaluate(&corpus, &metrics, &options, id)?;
    let paired = match &args.baseline {
        None => None,
        Some(path) => Some(paired(
            path, &args.refs, &spec, &corpus, &metrics, &scored, &options,
        )?),
    };
    let dir = output_dir(args.out.clone(), &cfg)?;
    runner::write_outputs(&dir, &report, &scored, Some(&corpus))?;
    if let Some(p) = &paired {
        codex_core::write_bytes_atomic(dir.join("paired.json"), &serde_json::to_vec_pretty(p)?)?;
    }
    render(&report, paired.as_ref(), &dir, args.json)
}

/// sacreBLEU's paired bootstrap of the system against a baseline, per value.
fn paired(
    path: &Path,
    refs: &[PathBuf],
    spec: &InputSpec,
    corpus: &Corpus,
    metrics: &[Box<dyn Metric>],
    scored: &[Box<dyn codex_eval::Scored>],
    options: &EvalOptions,
) -> Result<serde_json::Value> {
    let base = read_corpus(path, refs, spec)?;
    if base.len() != corpus.len() {
        return Err(EvalError::Malformed {
            path: path.to_owned(),
            line: base.len(),
            message: format!(
                "the baseline has {} segments but the system has {}",
                base.len(),
                corpus.len()
            ),
        }
        .into());
    }
    let base = Corpus {
        hyps: base.hyps,
        refs: corpus.refs.clone(),
    };
    let resamples = if options.bootstrap > 0 {
        options.bootstrap
    } else {
        1000
    };
    let mut out = Vec::new();
    for (m, s) in metrics.iter().zip(scored) {
        let b = m.score(&base)?;
        for r in paired_bootstrap(&*b, &**s, resamples, options.confidence, options.seed) {
            out.push(serde_json::to_value(&r)?);
        }
    }
    Ok(
        serde_json::json!({ "baseline": path, "resamples": resamples, "seed": options.seed, "results": out }),
    )
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
    let records = read_nll(nll)?;
    let options = EvalOptions {
        dataset: dataset.unwrap_or_else(|| stem(nll)),
        split,
        bootstrap: bootstrap.unwrap_or(cfg.eval.bootstrap) as usize,
        confidence: cfg.eval.confidence,
        seed: cfg.eval.seed,
    };
    let id = runner::run_id(&[file_digest(nll)?.as_bytes(), &serde_json::to_vec(&options)?]);
    let scored = runner::perplexity(&records)?;
    let result = runner::summarize("perplexity", &scored, &options);
    let report = EvalReport {
        run_id: id,
        options,
        n: records.len(),
        results: vec![result],
        timestamp: chrono::Utc::now().to_rfc3339(),
    };
    let dir = output_dir(out, &cfg)?;
    runner::write_outputs(&dir, &report, &[], None)?;
    Ok(format!(
        "{}\n\nwritten to {}\n",
        report.table(),
        dir.display()
    ))
}
