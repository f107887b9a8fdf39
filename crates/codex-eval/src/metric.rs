//! The metric seam: one trait for every text metric, a registry of them, and
//! the built-in implementations.
//!
//! A [`Metric`] turns a corpus into a [`Scored`] corpus: per-segment values for
//! the example records, and the corpus values of any multiset of segments, which
//! is what bootstrap resampling needs. Most metrics are *additive*: each segment
//! contributes a fixed-width vector of sufficient statistics and the corpus
//! score is a function of their sum ([`Additive`]). Distinct-n is not, and
//! implements [`Scored`] directly.

use std::sync::Arc;

use codex_core::Registry;
use rayon::prelude::*;
use rustc_hash::FxHashSet;

use crate::bleu::{Bleu, BleuConfig, BootstrapTag, RefCount};
use crate::chrf::{Chrf, ChrfConfig};
use crate::error::EvalError;
use crate::rouge::{Rouge, RougeConfig, RougeType};
use crate::squad;
use crate::text::py_split;

/// Hypotheses and their references: `refs[i]` are the references of `hyps[i]`.
#[derive(Debug, Clone, Default)]
pub struct Corpus {
    /// One hypothesis per segment.
    pub hyps: Vec<String>,
    /// The references of each segment (at least one each).
    pub refs: Vec<Vec<String>>,
}

impl Corpus {
    /// Number of segments.
    pub fn len(&self) -> usize {
        self.hyps.len()
    }

    /// Whether there are no segments.
    pub fn is_empty(&self) -> bool {
        self.hyps.is_empty()
    }
}

/// A metric's computed values over a corpus.
pub trait Scored: Send + Sync {
    /// Names of the values, the headline first (e.g. `rouge1_f`, `rouge1_p`, …).
    fn names(&self) -> &[String];

    /// Number of segments.
    fn len(&self) -> usize;

    /// Whether there are no segments.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Corpus values when segment `i` is counted `weights[i]` times
    /// (all ones for the corpus itself; a bootstrap resample otherwise).
    fn corpus(&self, weights: &[u32]) -> Vec<f64>;

    /// The values of segment `i` alone.
    fn segment(&self, i: usize) -> Vec<f64>;

    /// Reproducibility signature, for metrics that have one (sacreBLEU's).
    fn signature(&self, _bootstrap: Option<BootstrapTag>) -> Option<String> {
        None
    }
}

/// A text metric: registered by name, scores a [`Corpus`].
pub trait Metric: Send + Sync {
    /// Registry name, e.g. `bleu`.
    fn name(&self) -> &str;

    /// Scores every segment (in parallel where the metric allows).
    fn score(&self, corpus: &Corpus) -> Result<Box<dyn Scored>, EvalError>;

    /// The range its values are reported on, as tables head them: `0-100`
    /// where the reference implementation reports percentages (sacreBLEU's
    /// BLEU and chrF, the SQuAD script's EM and F1), else `0-1`.
    fn scale(&self) -> &'static str {
        "0-1"
    }
}

type FinishFn = Box<dyn Fn(&[f64], f64) -> Vec<f64> + Send + Sync>;
type SegmentFn = Box<dyn Fn(usize) -> Vec<f64> + Send + Sync>;
type SignatureFn = Box<dyn Fn(Option<BootstrapTag>) -> String + Send + Sync>;

/// Per-segment sufficient statistics whose sum determines the corpus values.
pub struct Additive {
    names: Vec<String>,
    width: usize,
    stats: Vec<f64>,
    finish: FinishFn,
    segment: SegmentFn,
    signature: Option<SignatureFn>,
}

impl std::fmt::Debug for Additive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Additive")
            .field("names", &self.names)
            .field("width", &self.width)
            .field("segments", &(self.stats.len() / self.width.max(1)))
            .finish()
    }
}

impl Additive {
    /// Statistics `stats` (row-major, `width` per segment); `finish(sum, n)`
    /// maps summed statistics and the (weighted) segment count to the values;
    /// `segment(i)` gives segment i's own values.
    pub fn new(
        names: Vec<String>,
        width: usize,
        stats: Vec<f64>,
        finish: impl Fn(&[f64], f64) -> Vec<f64> + Send + Sync + 'static,
        segment: impl Fn(usize) -> Vec<f64> + Send + Sync + 'static,
    ) -> Self {
        Self {
            names,
            width,
            stats,
            finish: Box::new(finish),
            segment: Box::new(segment),
            signature: None,
        }
    }

    fn with_signature(
        mut self,
        f: impl Fn(Option<BootstrapTag>) -> String + Send + Sync + 'static,
    ) -> Self {
        self.signature = Some(Box::new(f));
        self
    }
}

impl Scored for Additive {
    fn names(&self) -> &[String] {
        &self.names
    }

    fn len(&self) -> usize {
        self.stats.len().checked_div(self.width).unwrap_or(0)
    }

    fn corpus(&self, weights: &[u32]) -> Vec<f64> {
        let mut sum = vec![0.0; self.width];
        let mut n = 0.0;
        for (row, &w) in self.stats.chunks_exact(self.width).zip(weights) {
            if w == 0 {
                continue;
            }
            let w = f64::from(w);
            n += w;
            for (s, v) in sum.iter_mut().zip(row) {
                *s += w * v;
            }
        }
        (self.finish)(&sum, n)
    }

    fn segment(&self, i: usize) -> Vec<f64> {
        (self.segment)(i)
    }

    fn signature(&self, bootstrap: Option<BootstrapTag>) -> Option<String> {
        self.signature.as_ref().map(|f| f(bootstrap))
    }
}

/// Computes `f(i)` for every segment in parallel, flattened row-major.
fn rows(n: usize, width: usize, f: impl Fn(usize) -> Vec<f64> + Sync + Send) -> Vec<f64> {
    let rows: Vec<Vec<f64>> = (0..n).into_par_iter().map(f).collect();
    let mut out = Vec::with_capacity(n * width);
    for r in rows {
        debug_assert_eq!(r.len(), width);
        out.extend(r);
    }
    out
}

/// BLEU ([`Bleu`]); segment values are sentence BLEU with effective order, as
/// `sacrebleu.sentence_bleu` computes it.
#[derive(Debug, Clone)]
pub struct BleuMetric(pub BleuConfig);

impl Metric for BleuMetric {
    fn name(&self) -> &str {
        "bleu"
    }

    fn scale(&self) -> &'static str {
        "0-100"
    }

    fn score(&self, corpus: &Corpus) -> Result<Box<dyn Scored>, EvalError> {
        let bleu = Arc::new(Bleu::new(self.0.clone()));
        let width = bleu.width();
        let stats = rows(corpus.len(), width, |i| {
            bleu.segment_stats(&corpus.hyps[i], &corpus.refs[i])
        });
        let sentence = Bleu::new(BleuConfig {
            effective_order: true,
            ..self.0.clone()
        });
        let seg_stats = stats.clone();
        let nrefs = RefCount::of(&corpus.refs);
        let (b1, b2) = (Arc::clone(&bleu), Arc::clone(&bleu));
        Ok(Box::new(
            Additive::new(
                vec!["bleu".to_owned()],
                width,
                stats,
                move |sum, _| vec![b1.score_stats(sum).score],
                move |i| {
                    vec![
                        sentence
                            .score_stats(&seg_stats[i * width..(i + 1) * width])
                            .score,
                    ]
                },
            )
            .with_signature(move |bs| b2.signature(nrefs, bs)),
        ))
    }
}

/// chrF or chrF++ ([`Chrf`]); segment values are sentence chrF.
#[derive(Debug, Clone)]
pub struct ChrfMetric {
    /// Registry name (`chrf` or `chrf++`).
    pub name: String,
    /// Settings.
    pub config: ChrfConfig,
}

impl Metric for ChrfMetric {
    fn name(&self) -> &str {
        &self.name
    }

    fn scale(&self) -> &'static str {
        "0-100"
    }

    fn score(&self, corpus: &Corpus) -> Result<Box<dyn Scored>, EvalError> {
        let chrf = Arc::new(Chrf::new(self.config.clone()));
        let width = chrf.width();
        let stats = rows(corpus.len(), width, |i| {
            chrf.segment_stats(&corpus.hyps[i], &corpus.refs[i])
        });
        let seg_stats = stats.clone();
        let nrefs = RefCount::of(&corpus.refs);
        let (c1, c2, c3) = (Arc::clone(&chrf), Arc::clone(&chrf), Arc::clone(&chrf));
        Ok(Box::new(
            Additive::new(
                vec![self.name.clone()],
                width,
                stats,
                move |sum, _| vec![c1.f_score(sum)],
                move |i| vec![c2.f_score(&seg_stats[i * width..(i + 1) * width])],
            )
            .with_signature(move |bs| c3.signature(nrefs, bs)),
        ))
    }
}

/// ROUGE ([`Rouge`]): `<type>_f`, `<type>_p`, `<type>_r` per type, means over segments.
#[derive(Debug, Clone)]
pub struct RougeMetric {
    /// Registry name (`rouge`, `rouge1`, `rougeL`, …).
    pub name: String,
    /// Settings.
    pub config: RougeConfig,
}

impl Metric for RougeMetric {
    fn name(&self) -> &str {
        &self.name
    }

    fn score(&self, corpus: &Corpus) -> Result<Box<dyn Scored>, EvalError> {
        let rouge = Rouge::new(self.config.clone());
        let mut names = Vec::new();
        for t in &self.config.types {
            for part in ["f", "p", "r"] {
                names.push(format!("{}_{part}", t.name()));
            }
        }
        let width = names.len();
        let stats = rows(corpus.len(), width, |i| {
            rouge
                .score_multi(&corpus.refs[i], &corpus.hyps[i])
                .into_iter()
                .flat_map(|s| [s.fmeasure, s.precision, s.recall])
                .collect()
        });
        let seg_stats = stats.clone();
        Ok(Box::new(Additive::new(
            names,
            width,
            stats,
            |sum, n| {
                sum.iter()
                    .map(|s| if n > 0.0 { s / n } else { 0.0 })
                    .collect()
            },
            move |i| seg_stats[i * width..(i + 1) * width].to_vec(),
        )))
    }
}

/// A metric that is the mean of a per-segment value (EM, F1, accuracy).
#[derive(Debug, Clone)]
pub struct MeanMetric {
    name: &'static str,
    scale: f64,
    per_segment: fn(&str, &[String]) -> f64,
}

impl MeanMetric {
    /// SQuAD v1.1 exact match, in percent.
    pub fn exact_match() -> Self {
        Self {
            name: "em",
            scale: 100.0,
            per_segment: |h, r| squad::max_over(squad::exact_match, h, r),
        }
    }

    /// SQuAD v1.1 token F1, in percent.
    pub fn f1() -> Self {
        Self {
            name: "f1",
            scale: 100.0,
            per_segment: |h, r| squad::max_over(squad::token_f1, h, r),
        }
    }

    /// Fraction of hypotheses equal to one of their references, surrounding whitespace aside.
    pub fn accuracy() -> Self {
        Self {
            name: "accuracy",
            scale: 1.0,
            per_segment: |h, r| f64::from(u8::from(r.iter().any(|r| r.trim() == h.trim()))),
        }
    }
}

impl Metric for MeanMetric {
    fn name(&self) -> &str {
        self.name
    }

    fn scale(&self) -> &'static str {
        if self.scale == 100.0 { "0-100" } else { "0-1" }
    }

    fn score(&self, corpus: &Corpus) -> Result<Box<dyn Scored>, EvalError> {
        let f = self.per_segment;
        let scale = self.scale;
        let stats = rows(corpus.len(), 1, |i| {
            vec![scale * f(&corpus.hyps[i], &corpus.refs[i])]
        });
        let seg = stats.clone();
        Ok(Box::new(Additive::new(
            vec![self.name.to_owned()],
            1,
            stats,
            |sum, n| vec![if n > 0.0 { sum[0] / n } else { 0.0 }],
            move |i| vec![seg[i]],
        )))
    }
}

/// Distinct-n (Li et al. 2016): distinct n-grams over all n-grams of the
/// hypotheses (whitespace tokens), for n = 1 and 2 by default.
#[derive(Debug, Clone)]
pub struct DistinctMetric {
    /// The orders reported (`distinct_1`, `distinct_2`, …).
    pub orders: Vec<usize>,
}

struct DistinctScored {
    names: Vec<String>,
    /// Per segment and order: hashes of its n-grams (with repeats).
    grams: Vec<Vec<Vec<u64>>>,
}

impl Scored for DistinctScored {
    fn names(&self) -> &[String] {
        &self.names
    }

    fn len(&self) -> usize {
        self.grams.len()
    }

    fn corpus(&self, weights: &[u32]) -> Vec<f64> {
        (0..self.names.len())
            .map(|k| {
                let mut seen = FxHashSet::default();
                let mut total = 0u64;
                for (seg, &w) in self.grams.iter().zip(weights) {
                    if w > 0 {
                        total += u64::from(w) * seg[k].len() as u64;
                        seen.extend(seg[k].iter().copied());
                    }
                }
                if total == 0 {
                    0.0
                } else {
                    seen.len() as f64 / total as f64
                }
            })
            .collect()
    }

    fn segment(&self, i: usize) -> Vec<f64> {
        self.grams[i]
            .iter()
            .map(|g| {
                let distinct: FxHashSet<u64> = g.iter().copied().collect();
                if g.is_empty() {
                    0.0
                } else {
                    distinct.len() as f64 / g.len() as f64
                }
            })
            .collect()
    }
}

impl Metric for DistinctMetric {
    fn name(&self) -> &str {
        "distinct"
    }

    fn score(&self, corpus: &Corpus) -> Result<Box<dyn Scored>, EvalError> {
        let names = self
            .orders
            .iter()
            .map(|n| format!("distinct_{n}"))
            .collect();
        let grams = corpus
            .hyps
            .par_iter()
            .map(|h| {
                let tokens: Vec<&str> = py_split(h).collect();
                self.orders
                    .iter()
                    .map(|&n| {
                        if n == 0 || n > tokens.len() {
                            return Vec::new();
                        }
                        tokens
                            .windows(n)
                            .map(|w| blake3_u64(&w.join("\u{1f}")))
                            .collect()
                    })
                    .collect()
            })
            .collect();
        Ok(Box::new(DistinctScored { names, grams }))
    }
}

/// A 64-bit digest of a string; collisions are negligible at corpus sizes.
fn blake3_u64(s: &str) -> u64 {
    let d = codex_core::Digest::of(s.as_bytes());
    u64::from_le_bytes(d.as_bytes()[..8].try_into().expect("8 bytes"))
}

/// Settings of the built-in metrics.
#[derive(Debug, Clone, Default)]
pub struct MetricSettings {
    /// BLEU.
    pub bleu: BleuConfig,
    /// chrF (its `word_order` is used by `chrf`; `chrf++` forces 2).
    pub chrf: ChrfConfig,
    /// ROUGE (its `types` are used by `rouge`).
    pub rouge: RougeConfig,
    /// Orders of distinct-n.
    pub distinct_orders: Vec<usize>,
}

/// A constructor of a metric from the settings.
pub type MetricFactory = fn(&MetricSettings) -> Box<dyn Metric>;

/// Every built-in text metric by name; a plugin registers more the same way.
pub fn registry() -> Registry<MetricFactory> {
    let mut r: Registry<MetricFactory> = Registry::new("metric");
    let entries: [(&str, &str, MetricFactory); 11] = [
        ("bleu", "BLEU, sacreBLEU 2.x semantics and signature", |s| {
            Box::new(BleuMetric(s.bleu.clone()))
        }),
        (
            "chrf",
            "chrF (character n-grams), sacreBLEU semantics",
            |s| {
                Box::new(ChrfMetric {
                    name: "chrf".into(),
                    config: s.chrf.clone(),
                })
            },
        ),
        (
            "chrf++",
            "chrF++ (characters and word bigrams), sacreBLEU semantics",
            |s| {
                Box::new(ChrfMetric {
                    name: "chrf++".into(),
                    config: ChrfConfig {
                        word_order: 2,
                        ..s.chrf.clone()
                    },
                })
            },
        ),
        (
            "rouge",
            "ROUGE of eval.rouge.types, rouge-score 0.1.2 semantics",
            |s| {
                Box::new(RougeMetric {
                    name: "rouge".into(),
                    config: s.rouge.clone(),
                })
            },
        ),
        (
            "rouge1",
            "ROUGE-1 (unigram overlap), rouge-score semantics",
            |s| rouge_one(s, RougeType::N(1)),
        ),
        (
            "rouge2",
            "ROUGE-2 (bigram overlap), rouge-score semantics",
            |s| rouge_one(s, RougeType::N(2)),
        ),
        (
            "rougeL",
            "ROUGE-L (longest common subsequence), rouge-score semantics",
            |s| rouge_one(s, RougeType::L),
        ),
        (
            "rougeLsum",
            "ROUGE-Lsum (summary-level LCS over lines), rouge-score semantics",
            |s| rouge_one(s, RougeType::Lsum),
        ),
        (
            "em",
            "exact match after SQuAD v1.1 normalization, best reference, percent",
            |_| Box::new(MeanMetric::exact_match()),
        ),
        (
            "f1",
            "token F1 after SQuAD v1.1 normalization, best reference, percent",
            |_| Box::new(MeanMetric::f1()),
        ),
        (
            "accuracy",
            "fraction of hypotheses equal to a reference (trimmed)",
            |_| Box::new(MeanMetric::accuracy()),
        ),
    ];
    for (name, description, factory) in entries {
        r.register(name, description, factory)
            .expect("built-in names are distinct");
    }
    r.register(
        "distinct",
        "distinct-n: distinct n-grams over all n-grams of the hypotheses",
        |s| {
            let orders = if s.distinct_orders.is_empty() {
                vec![1, 2]
            } else {
                s.distinct_orders.clone()
            };
            Box::new(DistinctMetric { orders })
        },
    )
    .expect("built-in names are distinct");
    r
}

fn rouge_one(s: &MetricSettings, t: RougeType) -> Box<dyn Metric> {
    Box::new(RougeMetric {
        name: t.name(),
        config: RougeConfig {
            types: vec![t],
            stemmer: s.rouge.stemmer,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn corpus(pairs: &[(&str, &str)]) -> Corpus {
        Corpus {
            hyps: pairs.iter().map(|p| p.0.to_owned()).collect(),
            refs: pairs.iter().map(|p| vec![p.1.to_owned()]).collect(),
        }
    }

    #[test]
    fn every_registered_metric_scores_a_corpus() {
        let c = corpus(&[
            ("the cat sat", "the cat sat down"),
            ("a dog", "the dog barked"),
        ]);
        let settings = MetricSettings::default();
        for entry in registry().iter() {
            let m = (entry.value)(&settings);
            let s = m.score(&c).unwrap();
            assert_eq!(s.len(), 2, "{}", entry.name);
            let v = s.corpus(&[1, 1]);
            assert_eq!(v.len(), s.names().len(), "{}", entry.name);
            assert!(v.iter().all(|x| x.is_finite()), "{}: {v:?}", entry.name);
        }
    }

    #[test]
    fn distinct_counts_repeats_once() {
        let c = corpus(&[("a a b", ""), ("a b", "")]);
        let s = DistinctMetric { orders: vec![1, 2] }.score(&c).unwrap();
        // unigrams a,a,b,a,b: 2 distinct of 5; bigrams "a a","a b","a b": 2 of 3.
        assert_eq!(s.corpus(&[1, 1]), vec![2.0 / 5.0, 2.0 / 3.0]);
        // A resample with the first segment twice adds totals, not new n-grams.
        assert_eq!(s.corpus(&[2, 0]), vec![2.0 / 6.0, 2.0 / 4.0]);
    }

    #[test]
    fn weights_equal_repeated_segments() {
        let c = corpus(&[
            ("the cat sat", "the cat sat down"),
            ("a dog", "the dog barked"),
        ]);
        let rep = corpus(&[
            ("the cat sat", "the cat sat down"),
            ("the cat sat", "the cat sat down"),
            ("a dog", "the dog barked"),
        ]);
        let m = BleuMetric(BleuConfig::default());
        assert_eq!(
            m.score(&c).unwrap().corpus(&[2, 1]),
            m.score(&rep).unwrap().corpus(&[1, 1, 1])
        );
    }
}
