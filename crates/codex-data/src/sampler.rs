//! Batches for training: random windows (as nanoGPT's `get_batch`) and a
//! sequential packed iterator for epochs, both resumable from a few bytes of state.

use serde::{Deserialize, Serialize};

use crate::error::DataError;
use crate::store::TokenStore;
use crate::synth::Rng;

/// Running totals of `per_shard(tokens)` over the shards; an error when there
/// is not a single window.
fn cumulative(
    store: &TokenStore,
    seq_len: usize,
    per_shard: impl Fn(u64) -> u64,
) -> Result<Vec<u64>, DataError> {
    let mut total = 0;
    let cumulative: Vec<u64> = (0..store.shards())
        .map(|i| {
            total += per_shard(store.shard_tokens(i));
            total
        })
        .collect();
    if total == 0 {
        return Err(DataError::TooShort {
            tokens: store.total_tokens(),
            needed: seq_len as u64 + 1,
        });
    }
    Ok(cumulative)
}

/// The shard holding global index `i` and the index within that shard.
fn locate(cumulative: &[u64], i: u64) -> (usize, u64) {
    let shard = cumulative.partition_point(|&c| c <= i);
    let before = if shard == 0 { 0 } else { cumulative[shard - 1] };
    (shard, i - before)
}

/// Appends one window of `seq_len + 1` tokens as an input row and a target row.
fn push_window(
    store: &TokenStore,
    seq_len: usize,
    shard: usize,
    start: u64,
    window: &mut Vec<u32>,
    inputs: &mut Vec<u32>,
    targets: &mut Vec<u32>,
) {
    window.clear();
    store.read(shard, start, seq_len + 1, window);
    inputs.extend_from_slice(&window[..seq_len]);
    targets.extend_from_slice(&window[1..]);
}

/// A batch of `batch × seq_len` inputs and the targets shifted by one token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// Rows.
    pub batch: usize,
    /// Tokens per row.
    pub seq_len: usize,
    /// Row-major inputs.
    pub inputs: Vec<u32>,
    /// Row-major targets: `targets[i] = ` the token after `inputs[i]`.
    pub targets: Vec<u32>,
    /// Chat examples: 1 where the target counts in the loss, 0 where it does
    /// not (prompt tokens, padding); empty when every target counts.
    pub loss_mask: Vec<u8>,
    /// Chat examples: each input's position in its example; empty for
    /// `0..seq_len` in every row.
    pub positions: Vec<u32>,
    /// Packed chat examples: where each input's example starts in its row
    /// (no input attends before it); empty when rows are not packed.
    pub segment_starts: Vec<u32>,
    /// Positions that hold no example (padding).
    pub padding: usize,
}

impl Batch {
    /// Windows of a token stream: every target counts, positions from 0.
    pub fn windows(batch: usize, seq_len: usize, inputs: Vec<u32>, targets: Vec<u32>) -> Self {
        Self {
            batch,
            seq_len,
            inputs,
            targets,
            loss_mask: Vec::new(),
            positions: Vec::new(),
            segment_starts: Vec::new(),
            padding: 0,
        }
    }
}

/// Everything needed to resume a [`RandomWindows`] sampler exactly.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RandomState {
    /// Sampler seed.
    pub seed: u64,
    /// Batches drawn so far; batch `k` depends only on `(seed, k)`.
    pub batches: u64,
}

/// Uniformly random windows of `seq_len + 1` tokens from any shard.
#[derive(Debug)]
pub struct RandomWindows<'a> {
    store: &'a TokenStore,
    batch: usize,
    seq_len: usize,
    /// Cumulative count of window start positions per shard.
    cumulative: Vec<u64>,
    state: RandomState,
}

impl<'a> RandomWindows<'a> {
    /// A sampler at its first batch.
    pub fn new(
        store: &'a TokenStore,
        batch: usize,
        seq_len: usize,
        seed: u64,
    ) -> Result<Self, DataError> {
        Self::resume(store, batch, seq_len, RandomState { seed, batches: 0 })
    }

    /// A sampler continuing from `state`.
    pub fn resume(
        store: &'a TokenStore,
        batch: usize,
        seq_len: usize,
        state: RandomState,
    ) -> Result<Self, DataError> {
        // Window start positions per shard.
        let cumulative = cumulative(store, seq_len, |tokens| {
            tokens.saturating_sub(seq_len as u64)
        })?;
        Ok(Self {
            store,
            batch,
            seq_len,
            cumulative,
            state,
        })
    }

    /// The state to save in a checkpoint.
    pub fn state(&self) -> RandomState {
        self.state
    }

    /// Draws the next batch.
    pub fn next_batch(&mut self) -> Batch {
        let mut rng = Rng::new(self.state.seed, self.state.batches);
        self.state.batches += 1;
        let total = *self.cumulative.last().expect("at least one window");
        let mut window = Vec::with_capacity(self.seq_len + 1);
        let mut inputs = Vec::with_capacity(self.batch * self.seq_len);
        let mut targets = Vec::with_capacity(self.batch * self.seq_len);
        for _ in 0..self.batch {
            let pick = ((u128::from(rng.next_u64()) * u128::from(total)) >> 64) as u64;
            let (shard, start) = locate(&self.cumulative, pick);
            push_window(
                self.store,
                self.seq_len,
                shard,
                start,
                &mut window,
                &mut inputs,
                &mut targets,
            );
        }
        Batch::windows(self.batch, self.seq_len, inputs, targets)
    }
}

/// Everything needed to resume a [`Sequential`] iterator exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SequentialState {
    /// Completed passes over the split.
    pub epoch: u64,
    /// Index of the next window within the epoch.
    pub window: u64,
}

/// Consecutive non-overlapping windows over the shards in order; after the
/// last window, the next epoch starts again at the first.
#[derive(Debug)]
pub struct Sequential<'a> {
    store: &'a TokenStore,
    batch: usize,
    seq_len: usize,
    /// Cumulative count of windows per shard.
    cumulative: Vec<u64>,
    state: SequentialState,
}

impl<'a> Sequential<'a> {
    /// An iterator at the start of epoch 0.
    pub fn new(store: &'a TokenStore, batch: usize, seq_len: usize) -> Result<Self, DataError> {
        Self::resume(
            store,
            batch,
            seq_len,
            SequentialState {
                epoch: 0,
                window: 0,
            },
        )
    }

    /// An iterator continuing from `state`.
    pub fn resume(
        store: &'a TokenStore,
        batch: usize,
        seq_len: usize,
        state: SequentialState,
    ) -> Result<Self, DataError> {
        // Non-overlapping windows per shard.
        let cumulative = cumulative(store, seq_len, |tokens| {
            tokens.saturating_sub(1) / seq_len as u64
        })?;
        Ok(Self {
            store,
            batch,
            seq_len,
            cumulative,
            state,
        })
    }

    /// Windows per epoch.
    pub fn windows_per_epoch(&self) -> u64 {
        *self.cumulative.last().expect("at least one window")
    }

    /// The state to save in a checkpoint.
    pub fn state(&self) -> SequentialState {
        self.state
    }

    /// The next batch; rows continue into the next epoch when one ends.
    pub fn next_batch(&mut self) -> Batch {
        let mut window = Vec::with_capacity(self.seq_len + 1);
        let mut inputs = Vec::with_capacity(self.batch * self.seq_len);
        let mut targets = Vec::with_capacity(self.batch * self.seq_len);
        for _ in 0..self.batch {
            let w = self.state.window;
            let (shard, index) = locate(&self.cumulative, w);
            let start = index * self.seq_len as u64;
            push_window(
                self.store,
                self.seq_len,
                shard,
                start,
                &mut window,
                &mut inputs,
                &mut targets,
            );
            self.state.window += 1;
            if self.state.window == self.windows_per_epoch() {
                self.state.window = 0;
                self.state.epoch += 1;
            }
        }
        Batch::windows(self.batch, self.seq_len, inputs, targets)
    }
}
