//! N-gram counting shared by BLEU, chrF and ROUGE.
//!
//! BLEU and chrF work on sequences of small integers (interned words, or
//! Unicode scalar values): an n-gram of up to six items packs losslessly into
//! a `u128` (21 bits per item), and the counts of one order are a sorted list
//! of `(key, count)`, so matching two texts is a merge instead of hashing.

use std::hash::Hash;

use rustc_hash::FxHashMap;

/// Highest n-gram order that packs into a key.
pub(crate) const MAX_PACKED_ORDER: usize = 6;

/// Items must be below 2^21 - 1 (every Unicode scalar value is).
const BITS: u32 = 21;

/// Sorted `(n-gram key, count)` pairs of one order.
pub(crate) type Packed = Vec<(u128, u32)>;

/// The n-grams of every order 1..=`max_n` of `seq`, counted and sorted by key.
///
/// One sort serves every order: each position's key holds the next `max_n`
/// items (+1, so that 0 marks the end of the text), and sorting those keys
/// makes equal prefixes of any length contiguous.
pub(crate) fn packed_counts(seq: &[u32], max_n: usize) -> Vec<Packed> {
    debug_assert!(max_n <= MAX_PACKED_ORDER);
    let len = seq.len();
    let mut keys: Vec<u128> = (0..len)
        .map(|i| {
            let mut k = 0u128;
            for j in 0..max_n {
                k <<= BITS;
                if let Some(&c) = seq.get(i + j) {
                    k |= u128::from(c) + 1;
                }
            }
            k
        })
        .collect();
    keys.sort_unstable();
    let slot = (1u128 << BITS) - 1;
    (1..=max_n)
        .map(|n| {
            let shift = BITS * (max_n - n) as u32;
            let mut out: Packed = Vec::with_capacity(keys.len());
            for &k in &keys {
                let prefix = k >> shift;
                // A window that runs past the end has a 0 in its last slot.
                if prefix & slot == 0 {
                    continue;
                }
                match out.last_mut() {
                    Some((last, c)) if *last == prefix => *c += 1,
                    _ => out.push((prefix, 1)),
                }
            }
            out
        })
        .collect()
}

/// Number of n-grams counted.
pub(crate) fn packed_total(p: &[(u128, u32)]) -> u64 {
    p.iter().map(|&(_, c)| u64::from(c)).sum()
}

/// Clipped matches: the sum over shared keys of the smaller count.
pub(crate) fn packed_matches(a: &[(u128, u32)], b: &[(u128, u32)]) -> u64 {
    let (mut i, mut j, mut m) = (0, 0, 0u64);
    while i < a.len() && j < b.len() {
        match a[i].0.cmp(&b[j].0) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                m += u64::from(a[i].1.min(b[j].1));
                i += 1;
                j += 1;
            }
        }
    }
    m
}

/// The per-key maximum of two count lists.
pub(crate) fn packed_max(a: &[(u128, u32)], b: &[(u128, u32)]) -> Packed {
    let mut out = Vec::with_capacity(a.len().max(b.len()));
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if j == b.len() || (i < a.len() && a[i].0 < b[j].0) {
            out.push(a[i]);
            i += 1;
        } else if i == a.len() || b[j].0 < a[i].0 {
            out.push(b[j]);
            j += 1;
        } else {
            out.push((a[i].0, a[i].1.max(b[j].1)));
            i += 1;
            j += 1;
        }
    }
    out
}

/// Small integer ids for the distinct strings of one segment.
#[derive(Debug, Default)]
pub(crate) struct Interner<'a> {
    ids: FxHashMap<&'a str, u32>,
}

impl<'a> Interner<'a> {
    /// The ids of `tokens`, assigning new ones as needed.
    ///
    /// # Panics
    ///
    /// If one segment has 2^21 (about two million) distinct tokens, more than a
    /// packed key can tell apart.
    pub(crate) fn ids(&mut self, tokens: impl Iterator<Item = &'a str>) -> Vec<u32> {
        tokens
            .map(|t| {
                let next = self.ids.len() as u32;
                assert!(next < 1 << BITS, "a segment with over 2^21 distinct tokens");
                *self.ids.entry(t).or_insert(next)
            })
            .collect()
    }
}

/// Counts of n-grams of one order over arbitrary items, keyed by slice.
pub(crate) fn ngrams_of<T: Hash + Eq>(items: &[T], n: usize) -> FxHashMap<&[T], u32> {
    let mut counts = FxHashMap::default();
    if n > 0 && n <= items.len() {
        for window in items.windows(n) {
            *counts.entry(window).or_insert(0) += 1;
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_counts_merge_like_counters() {
        let a = packed_counts(&[1, 2, 1, 2, 3], 3);
        let b = packed_counts(&[1, 2, 3, 1, 2], 3);
        // Unigrams 1,1,2,2,3; bigrams 12 x2, 21, 23; trigrams 121, 212, 123.
        let totals: Vec<u64> = a.iter().map(|p| packed_total(p)).collect();
        assert_eq!(totals, [5, 4, 3]);
        assert_eq!(a[0], vec![(2u128, 2u32), (3, 2), (4, 1)]);
        // b: bigrams 12 x2, 23, 31; trigrams 123, 231, 312.
        assert_eq!(packed_matches(&a[1], &b[1]), 3);
        assert_eq!(packed_matches(&a[2], &b[2]), 1);
        assert_eq!(packed_total(&packed_max(&a[1], &b[1])), 5);
        // The largest scalar value still packs losslessly, and order matters.
        assert_eq!(packed_counts(&[0x10_FFFF; 6], 6)[5].len(), 1);
        assert_ne!(
            packed_counts(&[0, 1], 2)[1][0].0,
            packed_counts(&[1, 0], 2)[1][0].0
        );
        assert!(packed_counts(&[], 4).iter().all(Vec::is_empty));
    }
}
