//! The `codex eval text` and `codex eval ppl` jobs: read inputs, score them
//! with the configured metrics (and a paired test against a baseline), and
//! write the outputs into a directory or a new run directory.

use std::path::{Path, PathBuf};

use codex_core::config::{AppConfig, EvalSection};
use codex_core::{BuildInfo, RunDir, Seeds};

use crate::bleu::BleuConfig;
use crate::bootstrap::paired_bootstrap;
use crate::chrf::ChrfConfig;
use crate::error::EvalError;
use crate::input::{InputSpec, read_corpus, read_nll};
use crate::metric::{Corpus, Metric, MetricSettings, Scored};
use crate::rouge::{RougeConfig, RougeType};
use crate::runner::{self, EvalOptions, EvalReport};

fn parse_key<T: std::str::FromStr<Err = String>>(key: &str, value: &str) -> Result<T, EvalError> {
    value
        .parse()
        .map_err(|e: String| EvalError::Settings(format!("{key}: {e}")))
}

/// The metric settings of an `eval` section.
pub fn settings(e: &EvalSection) -> Result<MetricSettings, EvalError> {
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
                .collect::<Result<_, _>>()?,
            stemmer: e.rouge.stemmer,
        },
        distinct_orders: e.distinct_orders.iter().map(|&n| n as usize).collect(),
    })
}

/// The metrics named, from the [registry](crate::registry) (an unknown name
/// suggests the nearest).
pub fn metrics(
    names: &[String],
    settings: &MetricSettings,
) -> Result<Vec<Box<dyn Metric>>, EvalError> {
    let registry = crate::registry();
    let mut out = Vec::new();
    for name in names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
        let entry = registry.get(name)?;
        out.push((entry.value)(settings));
    }
    if out.is_empty() {
        return Err(EvalError::Settings(
            "no metrics to compute: name at least one with --metrics or eval.metrics".into(),
        ));
    }
    Ok(out)
}

/// Where outputs go: a directory given, or `eval/` of a new run directory
/// (with the resolved configuration and provenance).
#[derive(Debug, Clone)]
pub enum Output {
    /// This directory.
    Dir(PathBuf),
    /// A new run directory under `run.runs_dir`, named `eval`.
    NewRun {
        /// Build facts for `provenance.json`.
        build: BuildInfo,
        /// The command line, for provenance (redacted there).
        command_line: Vec<String>,
    },
}

impl Output {
    fn resolve(&self, cfg: &AppConfig) -> Result<PathBuf, EvalError> {
        match self {
            Self::Dir(d) => Ok(d.clone()),
            Self::NewRun {
                build,
                command_line,
            } => {
                let run = RunDir::create(&cfg.run.runs_dir, "eval", chrono::Local::now())?;
                codex_core::write_bytes_atomic(run.config(), cfg.to_yaml().as_bytes())?;
                codex_core::Provenance::capture(
                    build.clone(),
                    Seeds::new(cfg.run.seed),
                    command_line.clone(),
                    std::env::vars(),
                    &std::env::current_dir().unwrap_or_default(),
                )
                .write(run.provenance())?;
                Ok(run.subdir("eval")?)
            }
        }
    }
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map_or_else(|| "data".to_owned(), |s| s.to_string_lossy().into_owned())
}

fn digest(path: &Path) -> Result<codex_core::Digest, EvalError> {
    Ok(codex_core::hash_file(path)?.0)
}

/// What `codex eval text` asks for.
#[derive(Debug, Clone)]
pub struct TextEvalRequest {
    /// Hypotheses: plain text, JSONL or TSV (`eval.input`).
    pub hyp: PathBuf,
    /// Reference files for plain text, line-parallel.
    pub refs: Vec<PathBuf>,
    /// Metric names (default: `eval.metrics`).
    pub metrics: Option<Vec<String>>,
    /// Bootstrap resamples (default: `eval.bootstrap`).
    pub bootstrap: Option<u32>,
    /// A baseline system for sacreBLEU's paired test.
    pub baseline: Option<PathBuf>,
    /// Dataset name in the rows (default: the hypothesis file's stem).
    pub dataset: Option<String>,
    /// Split name in the rows.
    pub split: String,
    /// Where the outputs go.
    pub output: Output,
}

/// What an evaluation wrote.
#[derive(Debug, Clone)]
pub struct TextEvaluation {
    /// The scores with their intervals.
    pub report: EvalReport,
    /// The paired test against the baseline, when one was given.
    pub paired: Option<serde_json::Value>,
    /// Where the outputs are.
    pub dir: PathBuf,
}

/// Runs `codex eval text` with the configuration `cfg`.
pub fn evaluate_text(req: &TextEvalRequest, cfg: &AppConfig) -> Result<TextEvaluation, EvalError> {
    let e = &cfg.eval;
    let settings = settings(e)?;
    let names = req.metrics.clone().unwrap_or_else(|| e.metrics.clone());
    let metrics = metrics(&names, &settings)?;
    let spec = InputSpec {
        format: parse_key("eval.input.format", &e.input.format)?,
        hyp_field: e.input.hyp_field.clone(),
        ref_field: e.input.ref_field.clone(),
    };
    let corpus = read_corpus(&req.hyp, &req.refs, &spec)?;
    let options = EvalOptions {
        dataset: req.dataset.clone().unwrap_or_else(|| stem(&req.hyp)),
        split: req.split.clone(),
        bootstrap: req.bootstrap.unwrap_or(e.bootstrap) as usize,
        confidence: e.confidence,
        seed: e.seed,
    };
    // The id covers every input's content and every setting that changes a number.
    let mut parts: Vec<Vec<u8>> = vec![digest(&req.hyp)?.as_bytes().to_vec()];
    for r in &req.refs {
        parts.push(digest(r)?.as_bytes().to_vec());
    }
    if let Some(b) = &req.baseline {
        parts.push(digest(b)?.as_bytes().to_vec());
    }
    parts.push(names.join(",").into_bytes());
    parts.push(serde_json::to_vec(&options).expect("options serialize"));
    parts.push(serde_json::to_vec(e).expect("the eval section serializes"));
    let id = runner::run_id(&parts.iter().map(Vec::as_slice).collect::<Vec<_>>());

    let (report, scored) = runner::evaluate(&corpus, &metrics, &options, id)?;
    let paired = match &req.baseline {
        None => None,
        Some(path) => Some(paired(
            path, &req.refs, &spec, &corpus, &metrics, &scored, &options,
        )?),
    };
    let dir = req.output.resolve(cfg)?;
    runner::write_outputs(&dir, &report, &scored, Some(&corpus))?;
    if let Some(p) = &paired {
        codex_core::write_bytes_atomic(
            dir.join("paired.json"),
            &serde_json::to_vec_pretty(p).expect("JSON serializes"),
        )?;
    }
    Ok(TextEvaluation {
        report,
        paired,
        dir,
    })
}

/// sacreBLEU's paired bootstrap of the system against a baseline, per value.
fn paired(
    path: &Path,
    refs: &[PathBuf],
    spec: &InputSpec,
    corpus: &Corpus,
    metrics: &[Box<dyn Metric>],
    scored: &[Box<dyn Scored>],
    options: &EvalOptions,
) -> Result<serde_json::Value, EvalError> {
    let base = read_corpus(path, refs, spec)?;
    if base.len() != corpus.len() {
        return Err(EvalError::malformed(
            path,
            base.len(),
            format!(
                "the baseline has {} segments but the system has {}",
                base.len(),
                corpus.len()
            ),
        ));
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
            out.push(serde_json::to_value(&r).expect("a result serializes"));
        }
    }
    Ok(
        serde_json::json!({ "baseline": path, "resamples": resamples, "seed": options.seed, "results": out }),
    )
}

/// What `codex eval ppl` asks for.
#[derive(Debug, Clone)]
pub struct PplRequest {
    /// NLL records (JSONL).
    pub nll: PathBuf,
    /// Bootstrap resamples (default: `eval.bootstrap`).
    pub bootstrap: Option<u32>,
    /// Dataset name (default: the file's stem).
    pub dataset: Option<String>,
    /// Split name.
    pub split: String,
    /// Where the outputs go.
    pub output: Output,
}

/// Runs `codex eval ppl`: corpus perplexity of NLL records, with an interval.
pub fn evaluate_ppl(req: &PplRequest, cfg: &AppConfig) -> Result<(EvalReport, PathBuf), EvalError> {
    let records = read_nll(&req.nll)?;
    let options = EvalOptions {
        dataset: req.dataset.clone().unwrap_or_else(|| stem(&req.nll)),
        split: req.split.clone(),
        bootstrap: req.bootstrap.unwrap_or(cfg.eval.bootstrap) as usize,
        confidence: cfg.eval.confidence,
        seed: cfg.eval.seed,
    };
    let id = runner::run_id(&[
        digest(&req.nll)?.as_bytes(),
        &serde_json::to_vec(&options).expect("options serialize"),
    ]);
    let scored = runner::perplexity(&records)?;
    let result = runner::summarize("perplexity", &scored, &options);
    let report = EvalReport {
        run_id: id,
        options,
        n: records.len(),
        results: vec![result],
        timestamp: chrono::Utc::now().to_rfc3339(),
    };
    let dir = req.output.resolve(cfg)?;
    runner::write_outputs(&dir, &report, &[], None)?;
    Ok((report, dir))
}
