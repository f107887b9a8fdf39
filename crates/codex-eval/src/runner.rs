//! The evaluation runner: scores a corpus with the chosen metrics, adds
//! bootstrap intervals, and writes `metrics.ndjson`, `metrics.csv`,
//! `summary.json` and per-example records.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::bleu::BootstrapTag;
use crate::bootstrap::{Interval, confidence_intervals};
use crate::error::EvalError;
use crate::input::{NllRecord, validate_nll};
use crate::metric::{Additive, Corpus, Metric, Scored};

/// Settings of one evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalOptions {
    /// Dataset name for the rows.
    pub dataset: String,
    /// Split name for the rows.
    pub split: String,
    /// Bootstrap resamples; 0 for none.
    pub bootstrap: usize,
    /// Confidence level of the intervals.
    pub confidence: f64,
    /// Seed of the resampling.
    pub seed: u64,
}

/// One metric value with its interval: a row of `metrics.csv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricRow {
    /// Deterministic id of the evaluation.
    pub run_id: String,
    /// Dataset name.
    pub dataset: String,
    /// Split name.
    pub split: String,
    /// Value name, e.g. `bleu`, `rougeL_f`.
    pub metric: String,
    /// Corpus value.
    pub value: f64,
    /// Segments scored.
    pub n: usize,
    /// Lower bound of the bootstrap interval.
    pub ci_low: Option<f64>,
    /// Upper bound of the bootstrap interval.
    pub ci_high: Option<f64>,
    /// When the value was computed (RFC 3339).
    pub timestamp: String,
}

/// The results of one metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricResult {
    /// Registry name of the metric.
    pub metric: String,
    /// Its values, headline first.
    pub values: Vec<(String, f64)>,
    /// Bootstrap intervals of the values, when resampled.
    pub intervals: Vec<Interval>,
    /// sacreBLEU signature, for BLEU and chrF.
    pub signature: Option<String>,
    /// The range the values are on (`0-100` or `0-1`, see
    /// [`Metric::scale`]), when the metric says.
    #[serde(default)]
    pub scale: Option<String>,
}

/// Everything an evaluation computed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    /// Deterministic id: inputs' hashes and the settings.
    pub run_id: String,
    /// Settings.
    pub options: EvalOptions,
    /// Segments scored.
    pub n: usize,
    /// Per metric.
    pub results: Vec<MetricResult>,
    /// When it ran.
    pub timestamp: String,
}

impl EvalReport {
    /// The flat rows of `metrics.ndjson` and `metrics.csv`.
    pub fn rows(&self) -> Vec<MetricRow> {
        let mut rows = Vec::new();
        for r in &self.results {
            for (k, (name, value)) in r.values.iter().enumerate() {
                let ci = r.intervals.get(k);
                rows.push(MetricRow {
                    run_id: self.run_id.clone(),
                    dataset: self.options.dataset.clone(),
                    split: self.options.split.clone(),
                    metric: name.clone(),
                    value: *value,
                    n: self.n,
                    ci_low: ci.map(|c| c.low),
                    ci_high: ci.map(|c| c.high),
                    timestamp: self.timestamp.clone(),
                });
            }
        }
        rows
    }

    /// A plain-text table for the terminal.
    pub fn table(&self) -> String {
        let rows = self.rows();
        let width = rows
            .iter()
            .map(|r| r.metric.len())
            .max()
            .unwrap_or(6)
            .max(6);
        let mut out = String::new();
        let pct = (self.options.confidence * 100.0).round();
        let _ = writeln!(
            out,
            "{:<width$}  {:>12}  {:>27}  scale",
            "metric",
            "value",
            format!("{pct}% interval")
        );
        let scales = self.results.iter().flat_map(|r| {
            r.values
                .iter()
                .map(move |_| r.scale.as_deref().unwrap_or(""))
        });
        for (r, scale) in rows.iter().zip(scales) {
            let ci = match (r.ci_low, r.ci_high) {
                (Some(l), Some(h)) => format!("[{l:.4}, {h:.4}]"),
                _ => "-".to_owned(),
            };
            let line = format!(
                "{:<width$}  {:>12.4}  {:>27}  {scale}",
                r.metric, r.value, ci
            );
            let _ = writeln!(out, "{}", line.trim_end());
        }
        for r in &self.results {
            if let Some(sig) = &r.signature {
                let _ = writeln!(out, "{}: {sig}", r.metric);
            }
        }
        let _ = write!(out, "{} segments, run id {}", self.n, self.run_id);
        out
    }
}

/// A deterministic id from the inputs' hashes and the settings (16 hex digits).
pub fn run_id(parts: &[&[u8]]) -> String {
    let mut h = codex_core::Hasher::new();
    for p in parts {
        h.update(&(p.len() as u64).to_le_bytes());
        h.update(p);
    }
    h.finalize().to_hex()[..16].to_owned()
}

/// Scores `corpus` with every metric; returns the report and the scored
/// corpora (for per-example records).
pub fn evaluate(
    corpus: &Corpus,
    metrics: &[Box<dyn Metric>],
    options: &EvalOptions,
    run_id: String,
) -> Result<(EvalReport, Vec<Box<dyn Scored>>), EvalError> {
    check_options(options)?;
    let mut scored = Vec::with_capacity(metrics.len());
    for m in metrics {
        scored.push(m.score(corpus)?);
    }
    let results = metrics
        .iter()
        .zip(&scored)
        .map(|(m, s)| {
            let mut r = summarize(m.name(), &**s, options);
            r.scale = Some(m.scale().to_owned());
            r
        })
        .collect();
    let report = EvalReport {
        run_id,
        options: options.clone(),
        n: corpus.len(),
        results,
        timestamp: chrono::Utc::now().to_rfc3339(),
    };
    Ok((report, scored))
}

fn check_options(o: &EvalOptions) -> Result<(), EvalError> {
    if !(o.confidence > 0.0 && o.confidence < 1.0) {
        return Err(EvalError::Settings(format!(
            "confidence must be in (0, 1), got {}",
            o.confidence
        )));
    }
    Ok(())
}

/// Corpus values, intervals and signature of one scored metric.
pub fn summarize(metric: &str, s: &dyn Scored, options: &EvalOptions) -> MetricResult {
    let values = s.corpus(&vec![1; s.len()]);
    let intervals = confidence_intervals(s, options.bootstrap, options.confidence, options.seed);
    let tag = (options.bootstrap > 0).then_some(BootstrapTag {
        resamples: options.bootstrap,
        seed: options.seed,
    });
    MetricResult {
        metric: metric.to_owned(),
        values: s.names().iter().cloned().zip(values).collect(),
        intervals,
        signature: s.signature(tag),
        scale: None,
    }
}

/// Perplexity `exp(total NLL / total tokens)` over documents, with the mean
/// NLL per token; resampling draws documents.
pub fn perplexity(records: &[NllRecord]) -> Result<Additive, EvalError> {
    for (i, r) in records.iter().enumerate() {
        validate_nll(r).map_err(|m| EvalError::Settings(format!("record {}: {m}", i + 1)))?;
    }
    let stats: Vec<f64> = records
        .iter()
        .flat_map(|r| [r.nll, r.tokens as f64])
        .collect();
    let per_doc = stats.clone();
    let finish = |sum: &[f64], _n: f64| {
        let mean = if sum[1] > 0.0 {
            sum[0] / sum[1]
        } else {
            f64::NAN
        };
        vec![mean.exp(), mean]
    };
    Ok(Additive::new(
        vec!["perplexity".into(), "nll_per_token".into()],
        2,
        stats,
        finish,
        move |i| {
            let mean = per_doc[2 * i] / per_doc[2 * i + 1];
            vec![mean.exp(), mean]
        },
    ))
}

/// Writes `metrics.ndjson`, `metrics.csv`, `summary.json` and, when `corpus`
/// is given, `examples.ndjson` into `dir` (created if missing), each atomically.
pub fn write_outputs(
    dir: &Path,
    report: &EvalReport,
    scored: &[Box<dyn Scored>],
    corpus: Option<&Corpus>,
) -> Result<(), EvalError> {
    std::fs::create_dir_all(dir).map_err(|e| EvalError::io(dir, e))?;
    let rows = report.rows();
    let atomic = |name: &str, bytes: Vec<u8>| -> Result<(), EvalError> {
        let path = dir.join(name);
        codex_core::write_bytes_atomic(&path, &bytes)
            .map_err(|e| EvalError::io(&path, std::io::Error::other(e.to_string())))
    };

    let mut nd = Vec::new();
    for r in &rows {
        serde_json::to_writer(&mut nd, r).expect("rows serialize");
        nd.push(b'\n');
    }
    atomic("metrics.ndjson", nd)?;

    let mut csv = csv::Writer::from_writer(Vec::new());
    let opt = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
    csv.write_record([
        "run_id",
        "dataset",
        "split",
        "metric",
        "value",
        "n",
        "ci_low",
        "ci_high",
        "timestamp",
    ])
    .and_then(|()| {
        for r in &rows {
            csv.write_record([
                r.run_id.as_str(),
                &r.dataset,
                &r.split,
                &r.metric,
                &r.value.to_string(),
                &r.n.to_string(),
                &opt(r.ci_low),
                &opt(r.ci_high),
                &r.timestamp,
            ])?;
        }
        Ok(())
    })
    .map_err(|e| EvalError::io(dir.join("metrics.csv"), std::io::Error::other(e)))?;
    let csv = csv.into_inner().map_err(|e| {
        EvalError::io(
            dir.join("metrics.csv"),
            std::io::Error::other(e.to_string()),
        )
    })?;
    atomic("metrics.csv", csv)?;

    let summary = serde_json::to_vec_pretty(report).expect("report serializes");
    atomic("summary.json", summary)?;

    if let Some(corpus) = corpus {
        let mut out = Vec::new();
        for i in 0..corpus.len() {
            let mut obj = serde_json::Map::new();
            obj.insert("index".into(), i.into());
            obj.insert("hypothesis".into(), corpus.hyps[i].clone().into());
            obj.insert("references".into(), corpus.refs[i].clone().into());
            for s in scored {
                for (name, v) in s.names().iter().zip(s.segment(i)) {
                    obj.insert(name.clone(), json_number(v));
                }
            }
            serde_json::to_writer(&mut out, &obj).expect("records serialize");
            out.write_all(b"\n").expect("writing to memory");
        }
        atomic("examples.ndjson", out)?;
    }
    Ok(())
}

fn json_number(v: f64) -> serde_json::Value {
    serde_json::Number::from_f64(v).map_or(serde_json::Value::Null, serde_json::Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metric::{MetricSettings, registry};

    #[test]
    fn writes_every_output_with_intervals() {
        let corpus = Corpus {
            hyps: vec!["the cat sat".into(), "a dog".into(), "hello world".into()],
            refs: vec![
                vec!["the cat sat down".into()],
                vec!["the dog".into()],
                vec!["hello world".into()],
            ],
        };
        let reg = registry();
        let metrics: Vec<Box<dyn Metric>> = ["bleu", "rougeL", "f1"]
            .iter()
            .map(|n| (reg.get(n).unwrap().value)(&MetricSettings::default()))
            .collect();
        let opts = EvalOptions {
            dataset: "d".into(),
            split: "test".into(),
            bootstrap: 50,
            confidence: 0.9,
            seed: 3,
        };
        let (report, scored) = evaluate(&corpus, &metrics, &opts, run_id(&[b"x"])).unwrap();
        let dir = tempfile::tempdir().unwrap();
        write_outputs(dir.path(), &report, &scored, Some(&corpus)).unwrap();
        let csv = std::fs::read_to_string(dir.path().join("metrics.csv")).unwrap();
        assert!(csv.starts_with("run_id,dataset,split,metric,value,n,ci_low,ci_high,timestamp\n"));
        assert_eq!(csv.lines().count(), 1 + 1 + 3 + 1);
        let examples = std::fs::read_to_string(dir.path().join("examples.ndjson")).unwrap();
        assert_eq!(examples.lines().count(), 3);
        assert!(examples.contains("\"rougeL_f\""));
        assert!(report.table().contains("nrefs:1|bs:50|seed:3|case:mixed"));
    }

    #[test]
    fn perplexity_is_exp_of_the_mean_nll() {
        let p = perplexity(&[
            NllRecord {
                nll: 2.0,
                tokens: 1,
            },
            NllRecord {
                nll: 4.0,
                tokens: 3,
            },
        ])
        .unwrap();
        let v = p.corpus(&[1, 1]);
        assert!((v[0] - 1.5f64.exp()).abs() < 1e-12);
        assert!(
            perplexity(&[NllRecord {
                nll: f64::NAN,
                tokens: 1
            }])
            .is_err()
        );
    }
}
