//! BLEU with sacreBLEU 2.x semantics (Papineni et al. 2002; Post 2018).
//!
//! Per segment the sufficient statistics are, as in sacreBLEU,
//! `[hyp_len, ref_len, correct_1..correct_N, total_1..total_N]`: the reference
//! length is the closest one to the hypothesis (the shorter on a tie), and
//! n-gram matches are clipped by the maximum count over all references. The
//! corpus score is computed from the summed statistics.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ngram::{
    Interner, MAX_PACKED_ORDER, Packed, packed_counts, packed_matches, packed_max, packed_total,
};
use crate::text::{py_lower, py_rstrip, py_split};
use crate::tokenize::BleuTokenizer;

/// The sacreBLEU release whose semantics and signature codex reproduces.
pub const SACREBLEU_VERSION: &str = "2.6.0";

/// Smoothing of zero n-gram precisions (Chen and Cherry 2014).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Smoothing {
    /// No smoothing: a zero precision makes the score zero.
    None,
    /// Method 1: a zero count becomes `value` (default 0.1).
    Floor,
    /// Method 2: `value` (default 1) is added to counts and totals of orders above 1.
    AddK,
    /// Method 3, NIST's geometric halving (mteval-v13a); sacreBLEU's default.
    #[default]
    Exp,
}

impl Smoothing {
    /// The name in the signature and in configuration files.
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Floor => "floor",
            Self::AddK => "add-k",
            Self::Exp => "exp",
        }
    }

    /// The value used when none is given, for methods that take one.
    pub fn default_value(self) -> Option<f64> {
        match self {
            Self::Floor => Some(0.1),
            Self::AddK => Some(1.0),
            Self::None | Self::Exp => None,
        }
    }
}

impl fmt::Display for Smoothing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Smoothing {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Self::None, Self::Floor, Self::AddK, Self::Exp]
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                format!("unknown BLEU smoothing `{s}`: expected exp, floor, add-k or none")
            })
    }
}

/// BLEU settings; the defaults are sacreBLEU's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BleuConfig {
    /// Tokenizer applied to hypotheses and references.
    pub tokenize: BleuTokenizer,
    /// Smoothing method.
    pub smooth: Smoothing,
    /// Smoothing value for `floor` and `add-k`; `None` takes the method's default.
    pub smooth_value: Option<f64>,
    /// Lowercase before tokenizing.
    pub lowercase: bool,
    /// Leave out n-gram orders with no hypothesis n-grams (for short segments).
    pub effective_order: bool,
    /// Highest n-gram order.
    pub max_order: usize,
}

impl Default for BleuConfig {
    fn default() -> Self {
        Self {
            tokenize: BleuTokenizer::Thirteen,
            smooth: Smoothing::Exp,
            smooth_value: None,
            lowercase: false,
            effective_order: false,
            max_order: 4,
        }
    }
}

impl BleuConfig {
    /// The settings of `sacrebleu.sentence_bleu`: effective order on.
    pub fn sentence() -> Self {
        Self {
            effective_order: true,
            ..Self::default()
        }
    }
}

/// A BLEU score with the details sacreBLEU reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BleuScore {
    /// BLEU in 0..=100.
    pub score: f64,
    /// Clipped n-gram matches per order.
    pub counts: Vec<f64>,
    /// Hypothesis n-grams per order.
    pub totals: Vec<f64>,
    /// Smoothed precisions per order, in percent.
    pub precisions: Vec<f64>,
    /// Brevity penalty.
    pub bp: f64,
    /// Hypothesis length in tokens.
    pub sys_len: f64,
    /// Effective reference length in tokens.
    pub ref_len: f64,
}

impl BleuScore {
    /// sacreBLEU's verbose line: `BLEU = 23.45 55.1/30.2/17.4/10.0 (BP = …)`.
    pub fn verbose(&self) -> String {
        let precisions: Vec<String> = self.precisions.iter().map(|p| format!("{p:.1}")).collect();
        let ratio = if self.ref_len > 0.0 {
            self.sys_len / self.ref_len
        } else {
            0.0
        };
        format!(
            "{} (BP = {:.3} ratio = {:.3} hyp_len = {} ref_len = {})",
            precisions.join("/"),
            self.bp,
            ratio,
            self.sys_len,
            self.ref_len
        )
    }
}

/// Whether every segment has the same number of references (`nrefs:2`) or not (`nrefs:var`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefCount {
    /// Every segment has this many references.
    Fixed(usize),
    /// Segments have different numbers of references.
    Variable,
}

impl RefCount {
    /// The reference count of a corpus.
    pub fn of<R: AsRef<[String]>>(refs: &[R]) -> Self {
        let mut counts = refs.iter().map(|r| r.as_ref().len());
        match counts.next() {
            None => Self::Fixed(0),
            Some(first) if counts.all(|c| c == first) => Self::Fixed(first),
            Some(_) => Self::Variable,
        }
    }
}

impl fmt::Display for RefCount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Fixed(n) => write!(f, "{n}"),
            Self::Variable => f.write_str("var"),
        }
    }
}

/// A bootstrap recorded in a signature (`bs:1000|seed:12345`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BootstrapTag {
    /// Resamples.
    pub resamples: usize,
    /// Seed of the resampling.
    pub seed: u64,
}

/// The common head of sacreBLEU signatures: `nrefs`, then `bs` and `seed` when
/// a bootstrap was run.
pub(crate) fn signature_head(nrefs: RefCount, bootstrap: Option<BootstrapTag>) -> Vec<String> {
    let mut parts = vec![format!("nrefs:{nrefs}")];
    if let Some(b) = bootstrap {
        parts.push(format!("bs:{}", b.resamples));
        parts.push(format!("seed:{}", b.seed));
    }
    parts
}

/// BLEU with fixed settings.
#[derive(Debug, Clone)]
pub struct Bleu {
    config: BleuConfig,
}

impl Bleu {
    /// BLEU with `config`.
    pub fn new(config: BleuConfig) -> Self {
        Self { config }
    }

    /// The settings.
    pub fn config(&self) -> &BleuConfig {
        &self.config
    }

    /// Number of statistics per segment: `2 + 2 * max_order`.
    pub fn width(&self) -> usize {
        2 + 2 * self.config.max_order
    }

    fn preprocess(&self, s: &str) -> String {
        if self.config.lowercase {
            self.config.tokenize.tokenize(py_rstrip(&py_lower(s)))
        } else {
            self.config.tokenize.tokenize(py_rstrip(s))
        }
    }

    /// The sufficient statistics of one segment against its references.
    ///
    /// # Panics
    ///
    /// If `max_order` is 0 or above 6 (n-grams are packed into 128-bit keys).
    pub fn segment_stats(&self, hyp: &str, refs: &[impl AsRef<str>]) -> Vec<f64> {
        let order = self.config.max_order;
        assert!(
            (1..=MAX_PACKED_ORDER).contains(&order),
            "BLEU max_order must be in 1..=6, got {order}"
        );
        let ref_texts: Vec<String> = refs.iter().map(|r| self.preprocess(r.as_ref())).collect();
        let hyp_text = self.preprocess(hyp);
        let mut interner = Interner::default();
        let hyp_ids = interner.ids(py_split(&hyp_text));
        let ref_ids: Vec<Vec<u32>> = ref_texts
            .iter()
            .map(|r| interner.ids(py_split(r)))
            .collect();
        let hyp_len = hyp_ids.len();
        let ref_len = closest_ref_len(hyp_len, ref_ids.iter().map(Vec::len));

        let mut stats = vec![0.0; self.width()];
        stats[0] = hyp_len as f64;
        stats[1] = ref_len as f64;
        let hyp_counts = packed_counts(&hyp_ids, order);
        let mut ref_max: Vec<Packed> = Vec::new();
        for ids in &ref_ids {
            let counts = packed_counts(ids, order);
            ref_max = if ref_max.is_empty() {
                counts
            } else {
                ref_max
                    .iter()
                    .zip(&counts)
                    .map(|(a, b)| packed_max(a, b))
                    .collect()
            };
        }
        for n in 1..=order {
            let h = &hyp_counts[n - 1];
            stats[2 + n - 1] = ref_max.get(n - 1).map_or(0, |r| packed_matches(h, r)) as f64;
            stats[2 + order + n - 1] = packed_total(h) as f64;
        }
        stats
    }

    /// The score of summed statistics (sacreBLEU's `compute_bleu`).
    pub fn score_stats(&self, stats: &[f64]) -> BleuScore {
        let order = self.config.max_order;
        let mut correct = stats[2..2 + order].to_vec();
        let mut total = stats[2 + order..2 + 2 * order].to_vec();
        let (sys_len, ref_len) = (stats[0], stats[1]);
        let method = self.config.smooth;
        let value = self
            .config
            .smooth_value
            .or(method.default_value())
            .unwrap_or(0.0);

        let mut bp = 1.0;
        if sys_len < ref_len {
            bp = if sys_len > 0.0 {
                (1.0 - ref_len / sys_len).exp()
            } else {
                0.0
            };
        }
        let mut precisions = vec![0.0; order];
        if correct.iter().all(|&c| c == 0.0) {
            return BleuScore {
                score: 0.0,
                counts: correct,
                totals: total,
                precisions,
                bp,
                sys_len,
                ref_len,
            };
        }
        let mut smooth_mteval = 1.0;
        let mut eff_order = order;
        for n in 1..=order {
            if method == Smoothing::AddK && n > 1 {
                correct[n - 1] += value;
                total[n - 1] += value;
            }
            if total[n - 1] == 0.0 {
                break;
            }
            if self.config.effective_order {
                eff_order = n;
            }
            if correct[n - 1] == 0.0 {
                match method {
                    Smoothing::Exp => {
                        smooth_mteval *= 2.0;
                        precisions[n - 1] = 100.0 / (smooth_mteval * total[n - 1]);
                    }
                    Smoothing::Floor => precisions[n - 1] = 100.0 * value / total[n - 1],
                    Smoothing::None | Smoothing::AddK => {}
                }
            } else {
                precisions[n - 1] = 100.0 * correct[n - 1] / total[n - 1];
            }
        }
        let log_sum = precisions[..eff_order]
            .iter()
            .fold(0.0, |acc, &p| acc + floored_log(p));
        let score = bp * (log_sum / eff_order as f64).exp();
        BleuScore {
            score,
            counts: correct,
            totals: total,
            precisions,
            bp,
            sys_len,
            ref_len,
        }
    }

    /// Corpus BLEU of hypotheses against their references (`refs[i]` are segment i's).
    pub fn corpus<R: AsRef<[String]>>(&self, hyps: &[String], refs: &[R]) -> BleuScore {
        let mut sum = vec![0.0; self.width()];
        for (h, r) in hyps.iter().zip(refs) {
            for (s, v) in sum.iter_mut().zip(self.segment_stats(h, r.as_ref())) {
                *s += v;
            }
        }
        self.score_stats(&sum)
    }

    /// sacreBLEU's signature, e.g. `nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0`.
    pub fn signature(&self, nrefs: RefCount, bootstrap: Option<BootstrapTag>) -> String {
        let c = &self.config;
        let mut smooth = c.smooth.name().to_owned();
        if let Some(default) = c.smooth.default_value() {
            smooth.push_str(&format!("[{:.2}]", c.smooth_value.unwrap_or(default)));
        }
        let mut parts = signature_head(nrefs, bootstrap);
        parts.push(format!("case:{}", if c.lowercase { "lc" } else { "mixed" }));
        parts.push(format!(
            "eff:{}",
            if c.effective_order { "yes" } else { "no" }
        ));
        parts.push(format!("tok:{}", c.tokenize.name()));
        parts.push(format!("smooth:{smooth}"));
        parts.push(format!("version:{SACREBLEU_VERSION}"));
        parts.join("|")
    }
}

/// sacreBLEU's `my_log`: the log, with zero mapped to -9999999999.
fn floored_log(x: f64) -> f64 {
    if x == 0.0 { -9_999_999_999.0 } else { x.ln() }
}

/// The reference length closest to the hypothesis length; the shorter on a tie.
fn closest_ref_len(hyp_len: usize, ref_lens: impl Iterator<Item = usize>) -> usize {
    let mut best: Option<(usize, usize)> = None;
    for len in ref_lens {
        let diff = hyp_len.abs_diff(len);
        best = match best {
            None => Some((diff, len)),
            Some((d, l)) if diff < d || (diff == d && len < l) => Some((diff, len)),
            keep => keep,
        };
    }
    best.map_or(0, |(_, len)| len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(r: &[&str]) -> Vec<String> {
        r.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn identical_text_scores_one_hundred() {
        let bleu = Bleu::new(BleuConfig::default());
        let s = bleu.corpus(
            &["the cat sat on the mat".to_owned()],
            &[refs(&["the cat sat on the mat"])],
        );
        assert!((s.score - 100.0).abs() < 1e-12, "{s:?}");
        assert_eq!(s.bp, 1.0);
    }

    #[test]
    fn closest_reference_length_prefers_the_shorter_on_ties() {
        assert_eq!(closest_ref_len(5, [7, 3, 9].into_iter()), 3);
        assert_eq!(closest_ref_len(5, [6, 4].into_iter()), 4);
        assert_eq!(closest_ref_len(5, std::iter::empty()), 0);
    }

    #[test]
    fn signature_matches_sacrebleus_format() {
        let bleu = Bleu::new(BleuConfig {
            smooth: Smoothing::Floor,
            ..BleuConfig::default()
        });
        assert_eq!(
            bleu.signature(RefCount::Fixed(2), None),
            "nrefs:2|case:mixed|eff:no|tok:13a|smooth:floor[0.10]|version:2.6.0"
        );
    }

    #[test]
    fn no_matches_scores_zero() {
        let bleu = Bleu::new(BleuConfig::default());
        let s = bleu.corpus(&["x y z".to_owned()], &[refs(&["a b c"])]);
        assert_eq!(s.score, 0.0);
    }
}
