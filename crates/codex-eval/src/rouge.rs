//! ROUGE-N, ROUGE-L and ROUGE-Lsum with the semantics of Google's
//! `rouge-score` 0.1.2 (Lin 2004).
//!
//! Tokens are the maximal runs of `[a-z0-9]` in the lowercased text, stemmed
//! with NLTK's Porter stemmer when they are longer than three characters and
//! stemming is on. ROUGE-Lsum splits both texts into sentences at newlines and
//! scores the union LCS of each reference sentence against every candidate
//! sentence. With several references, each ROUGE type takes the reference
//! with the highest F-measure (the first on a tie), as `score_multi` does; the
//! corpus figure is the mean over segments.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::ngram::ngrams_of;
use crate::porter;
use crate::text::py_lower;

/// One ROUGE variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RougeType {
    /// N-gram overlap of order 1..=9 (`rouge1`, `rouge2`, …).
    N(u8),
    /// Longest common subsequence over the whole text.
    L,
    /// Summary-level union LCS over newline-separated sentences.
    Lsum,
}

impl RougeType {
    /// The name rouge-score uses: `rouge1`, `rougeL`, `rougeLsum`.
    pub fn name(self) -> String {
        match self {
            Self::N(n) => format!("rouge{n}"),
            Self::L => "rougeL".to_owned(),
            Self::Lsum => "rougeLsum".to_owned(),
        }
    }
}

impl fmt::Display for RougeType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl FromStr for RougeType {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "rougeL" => Ok(Self::L),
            "rougeLsum" => Ok(Self::Lsum),
            _ => match s.strip_prefix("rouge").and_then(|n| n.parse::<u8>().ok()) {
                Some(n) if (1..=9).contains(&n) && s.len() == 6 => Ok(Self::N(n)),
                _ => Err(format!(
                    "unknown ROUGE type `{s}`: expected rouge1..rouge9, rougeL or rougeLsum"
                )),
            },
        }
    }
}

impl Serialize for RougeType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name())
    }
}

impl<'de> Deserialize<'de> for RougeType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Precision, recall and F-measure in 0..=1.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct PrfScore {
    /// Precision.
    pub precision: f64,
    /// Recall.
    pub recall: f64,
    /// Harmonic mean of the two.
    pub fmeasure: f64,
}

impl PrfScore {
    fn new(precision: f64, recall: f64) -> Self {
        let fmeasure = if precision + recall > 0.0 {
            2.0 * precision * recall / (precision + recall)
        } else {
            0.0
        };
        Self {
            precision,
            recall,
            fmeasure,
        }
    }
}

/// ROUGE settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RougeConfig {
    /// Variants to compute.
    pub types: Vec<RougeType>,
    /// Porter-stem tokens longer than three characters.
    pub stemmer: bool,
}

impl Default for RougeConfig {
    fn default() -> Self {
        Self {
            types: vec![
                RougeType::N(1),
                RougeType::N(2),
                RougeType::L,
                RougeType::Lsum,
            ],
            stemmer: false,
        }
    }
}

/// ROUGE with fixed settings.
#[derive(Debug, Clone)]
pub struct Rouge {
    config: RougeConfig,
}

impl Rouge {
    /// ROUGE with `config`.
    pub fn new(config: RougeConfig) -> Self {
        Self { config }
    }

    /// The settings.
    pub fn config(&self) -> &RougeConfig {
        &self.config
    }

    /// rouge-score's default tokenizer.
    pub fn tokenize(&self, text: &str) -> Vec<String> {
        let lower = py_lower(text);
        lower
            .split(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit()))
            .filter(|t| !t.is_empty())
            .map(|t| {
                if self.config.stemmer && t.len() > 3 {
                    porter::stem(t)
                } else {
                    t.to_owned()
                }
            })
            .collect()
    }

    /// Scores of one prediction against one target, per configured type.
    pub fn score(&self, target: &str, prediction: &str) -> Vec<PrfScore> {
        let needs_tokens = self.config.types.iter().any(|t| *t != RougeType::Lsum);
        let (t_tok, p_tok) = if needs_tokens {
            (self.tokenize(target), self.tokenize(prediction))
        } else {
            (Vec::new(), Vec::new())
        };
        self.config
            .types
            .iter()
            .map(|ty| match ty {
                RougeType::N(n) => score_ngrams(&t_tok, &p_tok, usize::from(*n)),
                RougeType::L => score_lcs(&t_tok, &p_tok),
                RougeType::Lsum => {
                    let sents = |text: &str| -> Vec<Vec<String>> {
                        text.split('\n')
                            .filter(|s| !s.is_empty())
                            .map(|s| self.tokenize(s))
                            .collect()
                    };
                    summary_level_lcs(&sents(target), &sents(prediction))
                }
            })
            .collect()
    }

    /// Scores against several targets: per type, the target with the highest F.
    pub fn score_multi(&self, targets: &[impl AsRef<str>], prediction: &str) -> Vec<PrfScore> {
        let all: Vec<Vec<PrfScore>> = targets
            .iter()
            .map(|t| self.score(t.as_ref(), prediction))
            .collect();
        (0..self.config.types.len())
            .map(|k| {
                let mut best: Option<PrfScore> = None;
                for s in &all {
                    if best.is_none_or(|b| s[k].fmeasure > b.fmeasure) {
                        best = Some(s[k]);
                    }
                }
                best.unwrap_or_default()
            })
            .collect()
    }
}

fn score_ngrams(target: &[String], prediction: &[String], n: usize) -> PrfScore {
    let t = ngrams_of(target, n);
    let p = ngrams_of(prediction, n);
    let inter: u64 = t
        .iter()
        .map(|(g, &c)| u64::from(c.min(p.get(g).copied().unwrap_or(0))))
        .sum();
    let t_count: u64 = t.values().map(|&c| u64::from(c)).sum();
    let p_count: u64 = p.values().map(|&c| u64::from(c)).sum();
    PrfScore::new(
        inter as f64 / p_count.max(1) as f64,
        inter as f64 / t_count.max(1) as f64,
    )
}

fn score_lcs(target: &[String], prediction: &[String]) -> PrfScore {
    if target.is_empty() || prediction.is_empty() {
        return PrfScore::default();
    }
    let lcs = lcs_length(target, prediction);
    PrfScore::new(
        lcs as f64 / prediction.len() as f64,
        lcs as f64 / target.len() as f64,
    )
}

/// LCS length with one row of memory.
fn lcs_length<T: PartialEq>(a: &[T], b: &[T]) -> usize {
    let mut prev = vec![0usize; b.len() + 1];
    let mut cur = vec![0usize; b.len() + 1];
    for x in a {
        for (j, y) in b.iter().enumerate() {
            cur[j + 1] = if x == y {
                prev[j] + 1
            } else {
                prev[j + 1].max(cur[j])
            };
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// Indices into `r` of one LCS of `r` and `c`, chosen by rouge-score's
/// backtracking (on a tie it moves up in `r` rather than left in `c`).
fn lcs_indices<T: PartialEq>(r: &[T], c: &[T]) -> Vec<usize> {
    let cols = c.len() + 1;
    let mut t = vec![0u32; (r.len() + 1) * cols];
    for i in 1..=r.len() {
        for j in 1..=c.len() {
            t[i * cols + j] = if r[i - 1] == c[j - 1] {
                t[(i - 1) * cols + j - 1] + 1
            } else {
                t[(i - 1) * cols + j].max(t[i * cols + j - 1])
            };
        }
    }
    let (mut i, mut j) = (r.len(), c.len());
    let mut out = Vec::new();
    while i > 0 && j > 0 {
        if r[i - 1] == c[j - 1] {
            out.push(i - 1);
            i -= 1;
            j -= 1;
        } else if t[i * cols + j - 1] > t[(i - 1) * cols + j] {
            j -= 1;
        } else {
            i -= 1;
        }
    }
    out.reverse();
    out
}

fn summary_level_lcs(refs: &[Vec<String>], cands: &[Vec<String>]) -> PrfScore {
    if refs.is_empty() || cands.is_empty() {
        return PrfScore::default();
    }
    let m: usize = refs.iter().map(Vec::len).sum();
    let n: usize = cands.iter().map(Vec::len).sum();
    if m == 0 || n == 0 {
        return PrfScore::default();
    }
    let mut count_r: FxHashMap<&str, i64> = FxHashMap::default();
    let mut count_c: FxHashMap<&str, i64> = FxHashMap::default();
    for t in refs.iter().flatten() {
        *count_r.entry(t).or_insert(0) += 1;
    }
    for t in cands.iter().flatten() {
        *count_c.entry(t).or_insert(0) += 1;
    }
    let mut hits = 0usize;
    for r in refs {
        let union: BTreeSet<usize> = cands.iter().flat_map(|c| lcs_indices(r, c)).collect();
        for i in union {
            let t = r[i].as_str();
            let (Some(cc), Some(cr)) = (count_c.get(t).copied(), count_r.get(t).copied()) else {
                continue;
            };
            if cc > 0 && cr > 0 {
                hits += 1;
                count_c.insert(t, cc - 1);
                count_r.insert(t, cr - 1);
            }
        }
    }
    PrfScore::new(hits as f64 / n as f64, hits as f64 / m as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenizer_keeps_ascii_alphanumeric_runs() {
        let r = Rouge::new(RougeConfig::default());
        assert_eq!(
            r.tokenize("The café's 2nd-best, É!"),
            ["the", "caf", "s", "2nd", "best"]
        );
    }

    #[test]
    fn rouge_l_of_a_known_pair() {
        let r = Rouge::new(RougeConfig {
            types: vec![RougeType::L],
            stemmer: false,
        });
        let s = r.score("the cat sat on the mat", "the cat on a mat");
        // LCS "the cat on mat" = 4 tokens: p = 4/5, r = 4/6.
        assert!((s[0].precision - 0.8).abs() < 1e-15);
        assert!((s[0].recall - 4.0 / 6.0).abs() < 1e-15);
    }

    #[test]
    fn type_names_parse() {
        for name in ["rouge1", "rouge2", "rouge9", "rougeL", "rougeLsum"] {
            assert_eq!(
                name.parse::<RougeType>().map(RougeType::name).as_deref(),
                Ok(name)
            );
        }
        for bad in ["rouge0", "rouge10", "rougel", "bleu"] {
            assert!(bad.parse::<RougeType>().is_err(), "{bad}");
        }
    }
}
