//! `codex data inspect`: counts, document lengths and sample documents of a prepared dataset.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::error::DataError;
use crate::manifest::Manifest;
use crate::store::TokenStore;

/// What a prepared dataset holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Inspection {
    /// Per split: documents, tokens and shards.
    pub splits: BTreeMap<String, (u64, u64, usize)>,
    /// Training documents by token count: `(upper bound inclusive, count)`, power-of-two buckets.
    pub length_histogram: Vec<(u64, u64)>,
    /// The first documents of the training split, as ids (without the separator).
    pub samples: Vec<Vec<u32>>,
}

impl Inspection {
    /// Splits, the length histogram and the samples (decoded when a
    /// tokenizer is given, else as ids).
    pub fn to_text(
        &self,
        tokenizer: Option<&dyn codex_core::Tokenizer>,
    ) -> Result<String, codex_core::TokenizerError> {
        let mut r = codex_core::TextReport::new(0);
        for (name, (docs, tokens, shards)) in &self.splits {
            r.line(format_args!(
                "{name:<10} {docs:>9} documents {tokens:>11} tokens {shards:>3} shards"
            ));
        }
        r.line("training documents by length in tokens:")
            .histogram(&self.length_histogram);
        for (i, ids) in self.samples.iter().enumerate() {
            match tokenizer {
                Some(t) => r.line(format_args!("sample {i}: {}", t.decode(ids, false)?)),
                None => r.line(format_args!(
                    "sample {i}: {} tokens {:?}",
                    ids.len(),
                    &ids[..ids.len().min(24)]
                )),
            };
        }
        Ok(r.finish())
    }
}

/// Scans the training split once (verifying sizes, not hashes) and summarizes it.
pub fn inspect(dir: &Path, samples: usize) -> Result<Inspection, DataError> {
    let manifest = Manifest::load(dir)?;
    let splits = manifest
        .splits
        .iter()
        .map(|(k, s)| (k.clone(), (s.documents, s.tokens, s.shards.len())))
        .collect();
    let train = manifest.split("train");
    let store = TokenStore::open(dir, &train.shards, false)?;
    let mut histogram = BTreeMap::<u64, u64>::new();
    let mut collected: Vec<Vec<u32>> = Vec::new();
    let mut current: Vec<u32> = Vec::new();
    let mut length = 0u64;
    let mut buf = Vec::with_capacity(1 << 16);
    for shard in 0..store.shards() {
        let total = store.shard_tokens(shard);
        let mut at = 0;
        while at < total {
            let n = (total - at).min(1 << 16);
            buf.clear();
            store.read(shard, at, n as usize, &mut buf);
            at += n;
            for &t in &buf {
                if t == manifest.eos_id {
                    *histogram
                        .entry(length.max(1).next_power_of_two())
                        .or_default() += 1;
                    if collected.len() < samples {
                        collected.push(std::mem::take(&mut current));
                    }
                    length = 0;
                } else {
                    length += 1;
                    if collected.len() < samples {
                        current.push(t);
                    }
                }
            }
        }
    }
    Ok(Inspection {
        splits,
        length_histogram: histogram.into_iter().collect(),
        samples: collected,
    })
}
