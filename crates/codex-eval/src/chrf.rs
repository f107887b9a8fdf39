//! chrF and chrF++ with sacreBLEU 2.x semantics (Popović 2015, 2017).
//!
//! Per segment and n-gram order the statistics are `[hyp, ref, match]` counts,
//! character orders first, then word orders; with several references the one
//! with the best sentence-level score supplies them. The corpus score averages
//! precision and recall over the orders that have both hypothesis and
//! reference n-grams ("effective order", sacreBLEU's default), unless
//! `eps_smoothing` selects the chrF++.py/Moses/NLTK averaging of F-scores.

use serde::{Deserialize, Serialize};

use crate::bleu::{BootstrapTag, RefCount, SACREBLEU_VERSION, signature_head};
use crate::ngram::{
    Interner, MAX_PACKED_ORDER, Packed, packed_counts, packed_matches, packed_total,
};
use crate::text::{is_py_space, py_lower, py_split};

/// chrF settings; the defaults are sacreBLEU's chrF (chrF++ has `word_order: 2`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChrfConfig {
    /// Highest character n-gram order.
    pub char_order: usize,
    /// Highest word n-gram order: 0 for chrF, 2 for chrF++.
    pub word_order: usize,
    /// Weight of recall relative to precision.
    pub beta: u32,
    /// Lowercase first.
    pub lowercase: bool,
    /// Keep whitespace inside character n-grams.
    pub whitespace: bool,
    /// Average F-scores with epsilon smoothing instead of the effective order.
    pub eps_smoothing: bool,
}

impl Default for ChrfConfig {
    fn default() -> Self {
        Self {
            char_order: 6,
            word_order: 0,
            beta: 2,
            lowercase: false,
            whitespace: false,
            eps_smoothing: false,
        }
    }
}

/// ASCII punctuation, Python's `string.punctuation`.
fn is_punct(c: char) -> bool {
    c.is_ascii_punctuation()
}

/// chrF with fixed settings.
#[derive(Debug, Clone)]
pub struct Chrf {
    config: ChrfConfig,
}

impl Chrf {
    /// chrF with `config`.
    pub fn new(config: ChrfConfig) -> Self {
        Self { config }
    }

    /// The settings.
    pub fn config(&self) -> &ChrfConfig {
        &self.config
    }

    /// Number of statistics per segment: three per order.
    pub fn width(&self) -> usize {
        3 * (self.config.char_order + self.config.word_order)
    }

    /// The metric's display name, as sacreBLEU prints it: `chrF2`, `chrF2++`.
    pub fn display_name(&self) -> String {
        format!(
            "chrF{}{}",
            self.config.beta,
            "+".repeat(self.config.word_order)
        )
    }

    fn preprocess(&self, s: &str) -> String {
        if self.config.lowercase {
            py_lower(s)
        } else {
            s.to_owned()
        }
    }

    /// The characters of a segment as scalar values, whitespace removed unless kept.
    fn chars(&self, s: &str) -> Vec<u32> {
        s.chars()
            .filter(|&c| self.config.whitespace || !is_py_space(c))
            .map(u32::from)
            .collect()
    }

    /// Words with a leading or trailing punctuation mark split off (sacreBLEU's
    /// `_remove_punctuation`; `(hi)` becomes `(hi` and `)`).
    fn words(s: &str) -> Vec<&str> {
        let mut out = Vec::new();
        for w in py_split(s) {
            let mut chars = w.chars();
            let first = chars.next().expect("split yields non-empty words");
            let Some(last) = chars.next_back() else {
                out.push(w);
                continue;
            };
            if is_punct(last) {
                let cut = w.len() - last.len_utf8();
                out.extend([&w[..cut], &w[cut..]]);
            } else if is_punct(first) {
                let cut = first.len_utf8();
                out.extend([&w[..cut], &w[cut..]]);
            } else {
                out.push(w);
            }
        }
        out
    }

    /// Counts per order: characters 1..=char_order, then words 1..=word_order.
    fn counts(&self, chars: &[u32], words: &[u32]) -> Vec<Packed> {
        let mut all = packed_counts(chars, self.config.char_order);
        all.extend(packed_counts(words, self.config.word_order));
        all
    }

    /// The sufficient statistics of one segment: those of its best reference.
    ///
    /// # Panics
    ///
    /// If `char_order` or `word_order` is above 6 (n-grams are packed into 128-bit keys).
    pub fn segment_stats(&self, hyp: &str, refs: &[impl AsRef<str>]) -> Vec<f64> {
        let c = &self.config;
        assert!(
            c.char_order <= MAX_PACKED_ORDER && c.word_order <= MAX_PACKED_ORDER,
            "chrF orders must be at most 6, got {} and {}",
            c.char_order,
            c.word_order
        );
        let hyp = self.preprocess(hyp);
        let refs: Vec<String> = refs.iter().map(|r| self.preprocess(r.as_ref())).collect();
        let mut interner = Interner::default();
        let (hyp_words, ref_words): (Vec<u32>, Vec<Vec<u32>>) = if c.word_order > 0 {
            let h = interner.ids(Self::words(&hyp).into_iter());
            let r = refs
                .iter()
                .map(|r| interner.ids(Self::words(r).into_iter()))
                .collect();
            (h, r)
        } else {
            (Vec::new(), vec![Vec::new(); refs.len()])
        };
        let hyp_counts = self.counts(&self.chars(&hyp), &hyp_words);

        let mut best: Vec<f64> = Vec::new();
        let mut best_f = -1.0;
        for (r, words) in refs.iter().zip(&ref_words) {
            let ref_counts = self.counts(&self.chars(r), words);
            let mut stats = Vec::with_capacity(self.width());
            for (h, rc) in hyp_counts.iter().zip(&ref_counts) {
                let hyp_total = if rc.is_empty() { 0 } else { packed_total(h) };
                stats.extend([
                    hyp_total as f64,
                    packed_total(rc) as f64,
                    packed_matches(h, rc) as f64,
                ]);
            }
            let f = self.f_score(&stats);
            if f > best_f {
                best_f = f;
                best = stats;
            }
        }
        if best.is_empty() {
            best = vec![0.0; self.width()];
        }
        best
    }

    /// The score in 0..=100 of summed statistics.
    pub fn f_score(&self, stats: &[f64]) -> f64 {
        let eps = 1e-16;
        let factor = f64::from(self.config.beta).powi(2);
        let order = self.config.char_order + self.config.word_order;
        let mut score = 0.0;
        let mut effective = 0usize;
        let (mut avg_prec, mut avg_rec) = (0.0, 0.0);
        for i in 0..order {
            let (n_hyp, n_ref, n_match) = (stats[3 * i], stats[3 * i + 1], stats[3 * i + 2]);
            let prec = if n_hyp > 0.0 { n_match / n_hyp } else { eps };
            let rec = if n_ref > 0.0 { n_match / n_ref } else { eps };
            let denom = factor * prec + rec;
            score += if denom > 0.0 {
                (1.0 + factor) * prec * rec / denom
            } else {
                eps
            };
            if n_hyp > 0.0 && n_ref > 0.0 {
                avg_prec += prec;
                avg_rec += rec;
                effective += 1;
            }
        }
        if self.config.eps_smoothing {
            return 100.0 * score / order as f64;
        }
        if effective == 0 {
            avg_prec = 0.0;
            avg_rec = 0.0;
        } else {
            avg_prec /= effective as f64;
            avg_rec /= effective as f64;
        }
        if avg_prec + avg_rec != 0.0 {
            let mut s = (1.0 + factor) * avg_prec * avg_rec;
            s /= factor * avg_prec + avg_rec;
            100.0 * s
        } else {
            0.0
        }
    }

    /// Corpus chrF of hypotheses against their references.
    pub fn corpus<R: AsRef<[String]>>(&self, hyps: &[String], refs: &[R]) -> f64 {
        let mut sum = vec![0.0; self.width()];
        for (h, r) in hyps.iter().zip(refs) {
            for (s, v) in sum.iter_mut().zip(self.segment_stats(h, r.as_ref())) {
                *s += v;
            }
        }
        self.f_score(&sum)
    }

    /// sacreBLEU's signature, e.g. `nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0`.
    pub fn signature(&self, nrefs: RefCount, bootstrap: Option<BootstrapTag>) -> String {
        let c = &self.config;
        let mut parts = signature_head(nrefs, bootstrap);
        parts.push(format!("case:{}", if c.lowercase { "lc" } else { "mixed" }));
        parts.push(format!(
            "eff:{}",
            if c.eps_smoothing { "no" } else { "yes" }
        ));
        parts.push(format!("nc:{}", c.char_order));
        parts.push(format!("nw:{}", c.word_order));
        parts.push(format!("space:{}", if c.whitespace { "yes" } else { "no" }));
        parts.push(format!("version:{SACREBLEU_VERSION}"));
        parts.join("|")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn punctuation_is_split_off_one_end_only() {
        assert_eq!(
            Chrf::words("(hi) a, .x ok"),
            ["(hi", ")", "a", ",", ".", "x", "ok"]
        );
    }

    #[test]
    fn identical_segments_score_one_hundred() {
        let chrf = Chrf::new(ChrfConfig {
            word_order: 2,
            ..ChrfConfig::default()
        });
        let s = chrf.corpus(
            &["Hello there, world.".to_owned()],
            &[vec!["Hello there, world.".to_owned()]],
        );
        assert!((s - 100.0).abs() < 1e-12);
        assert_eq!(chrf.display_name(), "chrF2++");
    }
}
