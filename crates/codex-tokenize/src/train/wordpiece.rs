//! WordPiece training that gives the same vocabulary in every process.
//!
//! The upstream WordPiece trainer is BPE with a `##` continuing-subword prefix.
//! Its only dependence on the process is the order in which it walks the word
//! counts (a hash map seeded per process): that order assigns the ids of the
//! `##c` symbols, and merges of equal count are broken by those ids. Here the
//! words are counted into a sorted list and handed to the same BPE merge loop
//! in a map whose hash seeds are fixed, so the walk, the ids and the merges
//! depend only on the corpus. Everything else (the merge loop, its parallel
//! pair counting, which sums integers) is upstream's, so quality and speed are
//! the same as `tokenizers`' own trainer.

use ahash::{AHashMap, RandomState};
use compact_str::CompactString;
use tokenizers::models::ModelWrapper;
use tokenizers::models::bpe::{BPE, BpeTrainer, BpeTrainerBuilder};
use tokenizers::models::wordpiece::WordPiece;
use tokenizers::{AddedToken, Trainer};

use super::words::count_words;

/// Fixed hash seeds (digits of e) for the word map handed to the merge loop.
const SEEDS: [u64; 4] = [
    0x2b7e_1516_28ae_d2a6,
    0xabf7_1588_09cf_4f3c,
    0x7625_0c3e_3b4a_8b5d,
    0x1f2e_3d4c_5b6a_7980,
];

/// A WordPiece trainer whose result depends only on the corpus and settings.
pub(crate) struct DeterministicWordPiece {
    bpe: BpeTrainer,
    words: Vec<(String, u64)>,
}

impl DeterministicWordPiece {
    pub(crate) fn new(
        vocab_size: usize,
        min_frequency: u64,
        special_tokens: Vec<AddedToken>,
        show_progress: bool,
    ) -> Self {
        let bpe = BpeTrainerBuilder::new()
            .continuing_subword_prefix("##".into())
            .vocab_size(vocab_size)
            .min_frequency(min_frequency)
            .special_tokens(special_tokens)
            .show_progress(show_progress)
            .build();
        Self {
            bpe,
            words: Vec::new(),
        }
    }
}

impl Trainer for DeterministicWordPiece {
    type Model = ModelWrapper;

    fn should_show_progress(&self) -> bool {
        self.bpe.show_progress
    }

    fn train(&self, model: &mut ModelWrapper) -> tokenizers::Result<Vec<AddedToken>> {
        let [k0, k1, k2, k3] = SEEDS;
        let mut counts: AHashMap<CompactString, u64> = AHashMap::with_capacity_and_hasher(
            self.words.len(),
            RandomState::with_seeds(k0, k1, k2, k3),
        );
        for (word, n) in &self.words {
            counts.insert(CompactString::from(word.as_str()), *n);
        }
        let mut bpe = BPE::default();
        let specials = self.bpe.do_train(&counts, &mut bpe)?;
        *model = ModelWrapper::WordPiece(WordPiece::from_bpe(&bpe));
        Ok(specials)
    }

    fn feed<I, S, F>(&mut self, iterator: I, process: F) -> tokenizers::Result<()>
    where
        I: Iterator<Item = S> + Send,
        S: AsRef<str> + Send,
        F: Fn(&str) -> tokenizers::Result<Vec<String>> + Sync,
    {
        self.words = count_words(iterator, process)?;
        Ok(())
    }
}
