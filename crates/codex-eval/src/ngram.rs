//! N-gram counting shared by BLEU, chrF and ROUGE.

use std::hash::Hash;

use rustc_hash::FxHashMap;

/// Counts of n-grams, keyed by borrowed slices of the segment's tokens.
pub(crate) type Counts<'a, K> = FxHashMap<K, u32>;

/// Counts every n-gram of orders `min..=max` of `tokens`, keyed by the slice.
pub(crate) fn word_ngrams<'t, 's>(
    tokens: &'t [&'s str],
    min: usize,
    max: usize,
) -> Counts<'t, &'t [&'s str]> {
    let mut counts = FxHashMap::default();
    for n in min..=max {
        if n == 0 || n > tokens.len() {
            continue;
        }
        for window in tokens.windows(n) {
            *counts.entry(window).or_insert(0) += 1;
        }
    }
    counts
}

/// Counts the n-grams of one order over a sequence of items.
pub(crate) fn ngrams_of<'t, T: Hash + Eq>(items: &'t [T], n: usize) -> Counts<'t, &'t [T]> {
    let mut counts = FxHashMap::default();
    if n > 0 && n <= items.len() {
        for window in items.windows(n) {
            *counts.entry(window).or_insert(0) += 1;
        }
    }
    counts
}

/// Sum of the counts.
pub(crate) fn total<K>(counts: &FxHashMap<K, u32>) -> u64 {
    counts.values().map(|&c| u64::from(c)).sum()
}

/// Clipped matches: for every key of `hyp`, the smaller of the two counts.
pub(crate) fn clipped<K: Hash + Eq>(hyp: &FxHashMap<K, u32>, reference: &FxHashMap<K, u32>) -> u64 {
    hyp.iter()
        .map(|(k, &c)| reference.get(k).map_or(0, |&r| u64::from(c.min(r))))
        .sum()
}
