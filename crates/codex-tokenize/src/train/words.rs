//! Word counting for codex's own trainers, in an order that depends on nothing
//! but the corpus.

use rayon::iter::{ParallelBridge, ParallelIterator};
use rustc_hash::FxHashMap;

/// Counts the words `process` splits every sequence into, in parallel, and
/// returns them sorted by word: the same list whatever the thread count, the
/// order the sequences arrive in, or the process's hash seeds.
pub(crate) fn count_words<I, S, F>(
    iterator: I,
    process: F,
) -> tokenizers::Result<Vec<(String, u64)>>
where
    I: Iterator<Item = S> + Send,
    S: AsRef<str> + Send,
    F: Fn(&str) -> tokenizers::Result<Vec<String>> + Sync,
{
    let counts = iterator
        .par_bridge()
        .map(|sequence| {
            let mut map = FxHashMap::<String, u64>::default();
            for word in process(sequence.as_ref())? {
                *map.entry(word).or_default() += 1;
            }
            Ok(map)
        })
        .reduce(
            || Ok(FxHashMap::default()),
            |a: tokenizers::Result<FxHashMap<String, u64>>, b| {
                let (mut a, mut b) = (a?, b?);
                if a.len() < b.len() {
                    std::mem::swap(&mut a, &mut b);
                }
                for (word, n) in b {
                    *a.entry(word).or_default() += n;
                }
                Ok(a)
            },
        )?;
    let mut words: Vec<(String, u64)> = counts.into_iter().collect();
    words.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    Ok(words)
}
