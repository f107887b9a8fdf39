//! `codex-data`: how text becomes training batches, reproducibly.
//!
//! May depend on `codex-core` and `codex-tokenize`: text tokenizes through the
//! `codex_core::Tokenizer` trait, chat examples through `codex-tokenize`'s
//! chat templates (they need a tokenizer's offsets and special tokens). Never
//! on a tensor backend (batches leave this crate as plain `u32` arrays) and never
//! on `codex-safety`: documents pass through the `codex_core::TextFilter` trait,
//! which the binary fills with the safety crate's policy.
//!
//! Read [`prepare`] first: sources ([`source`]) → safety filter → exact dedup →
//! content-keyed split → block shuffle → parallel tokenization → token shards
//! ([`Dtype`], [`ShardRecord`]) → [`Manifest`]. [`TokenStore`] maps the shards
//! back (verified against the manifest) and the samplers ([`RandomWindows`],
//! [`Sequential`]) draw batches whose state fits in two integers. Chat data
//! (`data.format: chat`) keeps each record one example with its loss mask:
//! [`ExampleStore`] reads them back and [`ExampleBatches`] packs or pads
//! them into batches. [`synth`]
//! generates the built-in English-like corpus. No cargo features.
//!
//! ```no_run
//! use codex_data::{Manifest, RandomWindows, TokenStore};
//!
//! let dir = std::path::Path::new("runs/x/data");
//! let manifest = Manifest::load(dir)?;
//! let store = TokenStore::open(dir, &manifest.split("train").shards, true)?;
//! let mut sampler = RandomWindows::new(&store, 8, 128, 42)?;
//! let batch = sampler.next_batch();
//! assert_eq!(batch.inputs.len(), 8 * 128);
//! # Ok::<(), codex_data::DataError>(())
//! ```
//!
//! The workspace's `train_tiny` example prepares the synthetic corpus and
//! trains on it through a whole job.

mod error;
mod examples;
mod inspect;
mod manifest;
mod prepare;
mod sampler;
mod shard;
pub mod source;
mod store;
pub mod synth;

pub use error::DataError;
pub use examples::{ExampleBatches, ExampleStore};
pub use inspect::{Inspection, inspect};
pub use manifest::{
    ChatRecord, ChatSplitStats, FORMAT_VERSION, FilterRecord, Manifest, RuleCounts, SourceRecord,
    SplitRecord,
};
pub use prepare::{
    ChatInputs, PrepareInputs, Prepared, SPLITS, chat_max_length, chat_parts, prepare,
    prepare_with_tokenizer, split_of, verify,
};
pub use sampler::{Batch, RandomState, RandomWindows, Sequential, SequentialState};
pub use shard::{Dtype, ShardRecord};
pub use store::TokenStore;

/// The corpus formats data preparation reads, by the names a configuration
/// uses (`data.format`), for `codex registry list`.
pub fn formats() -> codex_core::Registry<codex_core::config::DataFormat> {
    use codex_core::config::DataFormat;
    let mut r = codex_core::Registry::new("data-format");
    for (name, format, description) in [
        ("lines", DataFormat::Lines, "one document per line"),
        (
            "blocks",
            DataFormat::Blocks,
            "whole files split by data.separator",
        ),
        (
            "jsonl",
            DataFormat::Jsonl,
            "JSON lines: text fields or chat messages",
        ),
        ("csv", DataFormat::Csv, "a CSV column or several"),
        (
            "auto",
            DataFormat::Auto,
            "by extension; .gz and .zst are decompressed",
        ),
    ] {
        r.register(name, description, format)
            .expect("format names are distinct");
    }
    r
}
