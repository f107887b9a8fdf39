//! Bootstrap resampling: percentile confidence intervals for one system and
//! sacreBLEU's paired bootstrap test between two.
//!
//! Resample r draws n segment indices with replacement from
//! `Rng::new(seed, r)`, so the intervals are the same for a seed on every
//! machine and thread count. The statistic of a resample is the metric's
//! corpus value over the drawn multiset of segments (not a mean of segment
//! values), as sacreBLEU computes it.

use codex_core::Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::metric::Scored;

/// A bootstrap estimate of one value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// Lower percentile bound.
    pub low: f64,
    /// Upper percentile bound.
    pub high: f64,
    /// Mean over the resamples.
    pub mean: f64,
}

/// Segment multiplicities of resample `r`.
fn weights(n: usize, seed: u64, r: usize) -> Vec<u32> {
    let mut rng = Rng::new(seed, r as u64);
    let mut w = vec![0u32; n];
    for _ in 0..n {
        w[rng.below(n)] += 1;
    }
    w
}

/// Every value of every resample: `out[r][k]`.
fn resample_values(scored: &dyn Scored, resamples: usize, seed: u64) -> Vec<Vec<f64>> {
    let n = scored.len();
    (0..resamples)
        .into_par_iter()
        .map(|r| scored.corpus(&weights(n, seed, r)))
        .collect()
}

/// Percentile bounds and mean of `values` at `confidence` (e.g. 0.95): with
/// R values sorted, the bounds are those at `floor(R(1-c)/2)` and its mirror,
/// the indices sacreBLEU uses for 95%.
fn percentile(mut values: Vec<f64>, confidence: f64) -> Interval {
    values.sort_by(f64::total_cmp);
    let r = values.len();
    let lower = ((r as f64) * (1.0 - confidence) / 2.0 + 1e-9).floor() as usize;
    let upper = r.saturating_sub(lower + 1);
    Interval {
        low: values[lower.min(r - 1)],
        high: values[upper],
        mean: values.iter().sum::<f64>() / r as f64,
    }
}

/// Percentile intervals of each value of `scored`.
pub fn confidence_intervals(
    scored: &dyn Scored,
    resamples: usize,
    confidence: f64,
    seed: u64,
) -> Vec<Interval> {
    if resamples == 0 || scored.is_empty() {
        return Vec::new();
    }
    let values = resample_values(scored, resamples, seed);
    (0..scored.names().len())
        .map(|k| percentile(values.iter().map(|v| v[k]).collect(), confidence))
        .collect()
}

/// One value's paired comparison of a system with a baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairedResult {
    /// Value name.
    pub name: String,
    /// Baseline's corpus value.
    pub baseline: f64,
    /// System's corpus value.
    pub system: f64,
    /// Probability of a difference at least this large under the null
    /// hypothesis, `(c + 1) / (R + 1)`.
    pub p_value: f64,
    /// System's bootstrap interval (95% as sacreBLEU reports it, or `confidence`).
    pub system_interval: Interval,
}

/// sacreBLEU's paired bootstrap resampling test (after Koehn 2004 and Moses'
/// `bootstrap-hypothesis-difference-significance.pl`): both systems are scored
/// on the same resamples; `c` counts resamples whose centered absolute
/// difference exceeds the observed absolute difference.
pub fn paired_bootstrap(
    baseline: &dyn Scored,
    system: &dyn Scored,
    resamples: usize,
    confidence: f64,
    seed: u64,
) -> Vec<PairedResult> {
    let n = baseline.len();
    assert_eq!(n, system.len(), "paired systems have the same segments");
    let ones = vec![1u32; n];
    let (b_real, s_real) = (baseline.corpus(&ones), system.corpus(&ones));
    let pairs: Vec<(Vec<f64>, Vec<f64>)> = (0..resamples)
        .into_par_iter()
        .map(|r| {
            let w = weights(n, seed, r);
            (baseline.corpus(&w), system.corpus(&w))
        })
        .collect();
    baseline
        .names()
        .iter()
        .enumerate()
        .map(|(k, name)| {
            let diffs: Vec<f64> = pairs.iter().map(|(b, s)| (s[k] - b[k]).abs()).collect();
            let mean = diffs.iter().sum::<f64>() / diffs.len().max(1) as f64;
            let real = (s_real[k] - b_real[k]).abs();
            let c = diffs.iter().filter(|&&d| d - mean > real).count();
            PairedResult {
                name: name.clone(),
                baseline: b_real[k],
                system: s_real[k],
                p_value: (c + 1) as f64 / (resamples + 1) as f64,
                system_interval: percentile(pairs.iter().map(|(_, s)| s[k]).collect(), confidence),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metric::{Corpus, MeanMetric, Metric};

    fn corpus(hyps: &[&str], refs: &[&str]) -> Corpus {
        Corpus {
            hyps: hyps.iter().map(|s| (*s).to_owned()).collect(),
            refs: refs.iter().map(|s| vec![(*s).to_owned()]).collect(),
        }
    }

    #[test]
    fn percentile_uses_sacrebleus_indices() {
        let values: Vec<f64> = (0..1000).map(f64::from).collect();
        let i = percentile(values, 0.95);
        assert_eq!((i.low, i.high), (25.0, 974.0));
    }

    #[test]
    fn intervals_are_seeded_and_bracket_the_mean() {
        let hyps: Vec<String> = (0..200)
            .map(|i| if i % 3 == 0 { "x".into() } else { "y".into() })
            .collect();
        let refs: Vec<&str> = vec!["y"; 200];
        let c = corpus(&hyps.iter().map(String::as_str).collect::<Vec<_>>(), &refs);
        let s = MeanMetric::accuracy().score(&c).unwrap();
        let a = confidence_intervals(&*s, 500, 0.95, 7);
        let b = confidence_intervals(&*s, 500, 0.95, 7);
        assert_eq!(a, b);
        let acc = s.corpus(&vec![1; 200])[0];
        assert!(a[0].low < acc && acc < a[0].high, "{a:?} around {acc}");
        assert!(a[0].high - a[0].low < 0.2);
    }

    #[test]
    fn a_clearly_better_system_has_a_small_p_value() {
        let refs = vec!["y"; 100];
        let good: Vec<&str> = (0..100)
            .map(|i| if i % 10 == 0 { "x" } else { "y" })
            .collect();
        let bad: Vec<&str> = (0..100)
            .map(|i| if i % 2 == 0 { "x" } else { "y" })
            .collect();
        let m = MeanMetric::accuracy();
        let b = m.score(&corpus(&bad, &refs)).unwrap();
        let s = m.score(&corpus(&good, &refs)).unwrap();
        let r = paired_bootstrap(&*b, &*s, 1000, 0.95, 1);
        assert!(r[0].p_value < 0.01, "{r:?}");
        // One segment apart: no evidence of a difference.
        let mut close = bad.clone();
        close[0] = "y";
        let c = m.score(&corpus(&close, &refs)).unwrap();
        let r = paired_bootstrap(&*b, &*c, 1000, 0.95, 1);
        assert!(r[0].p_value > 0.05, "{r:?}");
    }
}
