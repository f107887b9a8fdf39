//! Chat examples: one split's ids, loss masks and lengths
//! ([`ExampleStore`]), and the batches a fine-tune draws from them
//! ([`ExampleBatches`]): examples packed several to a row (first fit,
//! longest first, within groups of shuffled examples), each attending only
//! to itself, or one to a row in batches of similar lengths.
//!
//! An example of `n` tokens trains `n − 1` positions: inputs are its first
//! `n − 1` tokens, targets its last `n − 1`, and a target counts in the loss
//! where the example's mask is 1. Batch `k` of an epoch is a function of the
//! seed and `k` alone, so the sampler resumes from a [`RandomState`].

use std::path::Path;

use codex_core::Rng;

use crate::error::DataError;
use crate::manifest::SplitRecord;
use crate::sampler::{Batch, RandomState};
use crate::store::TokenStore;

/// Batches of unpacked examples are formed within groups of this many
/// batches, sorted by length, so that rows of a batch have similar lengths.
const BUCKET_BATCHES: usize = 32;

/// Packed rows are filled within groups of this many examples (first fit,
/// longest first), which leaves little room unused.
const PACK_GROUP: usize = 2048;

/// The chat examples of one split, mapped and checked against the manifest.
#[derive(Debug)]
pub struct ExampleStore {
    ids: TokenStore,
    masks: TokenStore,
    /// Where each example starts; one more entry than examples.
    offsets: Vec<u64>,
}

impl ExampleStore {
    /// Opens the ids, masks and lengths of `split` under `dir`, checking
    /// sizes (and, with `verify_hashes`, BLAKE3) and that they agree.
    pub fn open(dir: &Path, split: &SplitRecord, verify_hashes: bool) -> Result<Self, DataError> {
        let bad = |problem: String| DataError::BadManifest {
            path: dir.join("manifest.json"),
            problem,
        };
        if split.masks.is_empty() && split.tokens > 0 {
            return Err(bad(
                "the dataset has no loss masks: it was not prepared with data.format: chat".into(),
            ));
        }
        let ids = TokenStore::open(dir, &split.shards, verify_hashes)?;
        let masks = TokenStore::open(dir, &split.masks, verify_hashes)?;
        let lengths = TokenStore::open(dir, &split.lengths, verify_hashes)?;
        let n = lengths.total_tokens() as usize;
        let mut lens = Vec::with_capacity(n);
        lengths.read_global(0, n, &mut lens);
        let mut offsets = Vec::with_capacity(n + 1);
        let mut at = 0u64;
        offsets.push(0);
        for l in lens {
            at += u64::from(l);
            offsets.push(at);
        }
        if at != ids.total_tokens() || at != masks.total_tokens() {
            return Err(bad(format!(
                "the example lengths add up to {at} tokens, the shards hold {} ids and {} mask bytes",
                ids.total_tokens(),
                masks.total_tokens()
            )));
        }
        Ok(Self {
            ids,
            masks,
            offsets,
        })
    }

    /// Number of examples.
    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Whether there are no examples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Tokens of example `i`.
    pub fn length(&self, i: usize) -> usize {
        (self.offsets[i + 1] - self.offsets[i]) as usize
    }

    /// Appends example `i`'s ids and mask to `ids` and `mask`.
    pub fn read(&self, i: usize, ids: &mut Vec<u32>, mask: &mut Vec<u32>) {
        let (start, len) = (self.offsets[i], self.length(i));
        self.ids.read_global(start, len, ids);
        self.masks.read_global(start, len, mask);
    }
}

/// Batches of chat examples, resumable from a [`RandomState`].
#[derive(Debug)]
pub struct ExampleBatches<'a> {
    store: &'a ExampleStore,
    batch: usize,
    seq_len: usize,
    packing: bool,
    shuffle: bool,
    state: RandomState,
    /// The epoch planned, the batch number it starts at, and its batches.
    plan: Option<(u64, u64, Vec<Plan>)>,
}

/// One batch: its rows, each the examples it holds.
type Plan = Vec<Vec<usize>>;

impl<'a> ExampleBatches<'a> {
    /// Shuffled batches of `batch` rows of at most `seq_len` positions,
    /// continuing from `state`; with `packing`, several examples per row.
    pub fn resume(
        store: &'a ExampleStore,
        batch: usize,
        seq_len: usize,
        packing: bool,
        state: RandomState,
    ) -> Result<Self, DataError> {
        if store.is_empty() {
            return Err(DataError::TooShort {
                tokens: 0,
                needed: 2,
            });
        }
        Ok(Self {
            store,
            batch: batch.max(1),
            seq_len: seq_len.max(1),
            packing,
            shuffle: true,
            state,
            plan: None,
        })
    }

    /// The examples in order, unshuffled (for validation): the same batches
    /// every time.
    pub fn in_order(
        store: &'a ExampleStore,
        batch: usize,
        seq_len: usize,
        packing: bool,
    ) -> Result<Self, DataError> {
        let mut s = Self::resume(store, batch, seq_len, packing, RandomState::default())?;
        s.shuffle = false;
        Ok(s)
    }

    /// The state to save in a checkpoint.
    pub fn state(&self) -> RandomState {
        self.state
    }

    /// Batches in one pass over the examples (the first epoch's).
    pub fn batches_per_epoch(&mut self) -> usize {
        self.epoch_plan(0).len()
    }

    /// Positions an example occupies in a row (its tokens less one, at most
    /// the row).
    fn positions(&self, i: usize) -> usize {
        (self.store.length(i).max(1) - 1).min(self.seq_len)
    }

    fn epoch_plan(&self, epoch: u64) -> Vec<Plan> {
        let n = self.store.len();
        let mut order: Vec<usize> = (0..n).collect();
        let mut rng = Rng::new(self.state.seed, epoch);
        if self.shuffle {
            for i in (1..n).rev() {
                order.swap(i, rng.below(i + 1));
            }
        }
        if self.packing {
            // First fit decreasing within groups of examples: each group's
            // examples, longest first, go into the first row with room; the
            // rows are then shuffled and cut into batches.
            let mut rows: Vec<Vec<usize>> = Vec::new();
            for group in order.chunks(PACK_GROUP) {
                let mut group = group.to_vec();
                group.sort_by_key(|&i| std::cmp::Reverse(self.positions(i)));
                let mut these: Vec<(usize, Vec<usize>)> = Vec::new();
                for i in group {
                    let p = self.positions(i);
                    match these.iter_mut().find(|(used, _)| used + p <= self.seq_len) {
                        Some((used, row)) => {
                            *used += p;
                            row.push(i);
                        }
                        None => these.push((p, vec![i])),
                    }
                }
                let mut these: Vec<Vec<usize>> = these.into_iter().map(|(_, r)| r).collect();
                if self.shuffle {
                    for i in (1..these.len()).rev() {
                        these.swap(i, rng.below(i + 1));
                    }
                }
                rows.extend(these);
            }
            return rows
                .chunks(self.batch)
                .map(<[Vec<usize>]>::to_vec)
                .collect();
        }
        // Length buckets: sort each group of batches by length, cut it into
        // batches, and shuffle the batches of the group.
        let mut batches: Vec<Plan> = Vec::new();
        for group in order.chunks(self.batch * BUCKET_BATCHES) {
            let mut group = group.to_vec();
            if self.shuffle {
                group.sort_by_key(|&i| std::cmp::Reverse(self.positions(i)));
            }
            let mut these: Vec<Plan> = group
                .chunks(self.batch)
                .map(|c| c.iter().map(|&i| vec![i]).collect())
                .collect();
            if self.shuffle {
                for i in (1..these.len()).rev() {
                    these.swap(i, rng.below(i + 1));
                }
            }
            batches.extend(these);
        }
        batches
    }

    /// The next batch.
    pub fn next_batch(&mut self) -> Batch {
        let k = self.state.batches;
        loop {
            let stale = match &self.plan {
                None => true,
                Some((_, start, batches)) => k < *start || k >= start + batches.len() as u64,
            };
            if !stale {
                break;
            }
            let (epoch, start) = match &self.plan {
                Some((e, start, batches)) if k >= start + batches.len() as u64 => {
                    (e + 1, start + batches.len() as u64)
                }
                _ => (0, 0),
            };
            let batches = self.epoch_plan(epoch);
            self.plan = Some((epoch, start, batches));
        }
        let (_, start, batches) = self.plan.as_ref().expect("planned");
        let rows = batches[(k - start) as usize].clone();
        self.state.batches += 1;
        self.build(&rows)
    }

    /// The tensors of one batch: packed rows fill `seq_len` positions,
    /// unpacked rows the longest example's.
    fn build(&self, rows: &[Vec<usize>]) -> Batch {
        let width = if self.packing {
            self.seq_len
        } else {
            rows.iter()
                .map(|r| r.iter().map(|&i| self.positions(i)).sum::<usize>())
                .max()
                .unwrap_or(1)
                .max(1)
        };
        let mut b = Batch {
            batch: rows.len(),
            seq_len: width,
            inputs: Vec::with_capacity(rows.len() * width),
            targets: Vec::with_capacity(rows.len() * width),
            loss_mask: Vec::with_capacity(rows.len() * width),
            positions: Vec::with_capacity(rows.len() * width),
            segment_starts: if self.packing {
                Vec::with_capacity(rows.len() * width)
            } else {
                Vec::new()
            },
            padding: 0,
        };
        let (mut ids, mut mask) = (Vec::new(), Vec::new());
        for row in rows {
            let mut used = 0usize;
            for &i in row {
                ids.clear();
                mask.clear();
                self.store.read(i, &mut ids, &mut mask);
                let p = self.positions(i);
                b.inputs.extend(&ids[..p]);
                b.targets.extend(&ids[1..=p]);
                b.loss_mask.extend(mask[1..=p].iter().map(|&m| m as u8));
                b.positions.extend(0..p as u32);
                if self.packing {
                    b.segment_starts.extend(std::iter::repeat_n(used as u32, p));
                }
                used += p;
            }
            let pad = width - used;
            b.padding += pad;
            b.inputs.extend(std::iter::repeat_n(0, pad));
            b.targets.extend(std::iter::repeat_n(0, pad));
            b.loss_mask.extend(std::iter::repeat_n(0, pad));
            b.positions.extend(0..pad as u32);
            if self.packing {
                b.segment_starts
                    .extend(std::iter::repeat_n(used as u32, pad));
            }
        }
        b
    }
}
