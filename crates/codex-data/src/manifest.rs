//! `data/manifest.json`: what a prepared dataset was made from and what it holds.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use codex_core::Digest;
use serde::{Deserialize, Serialize};

use crate::error::DataError;
use crate::shard::{Dtype, ShardRecord};

/// Format version of the manifest and shards; part of the cache key.
pub const FORMAT_VERSION: u32 = 1;

/// One source file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceRecord {
    /// The file as given (or found in a directory or glob).
    pub path: PathBuf,
    /// Size in bytes (compressed, as stored).
    pub bytes: u64,
    /// BLAKE3 of the file.
    pub blake3: Digest,
    /// Records read (lines, JSONL objects, CSV rows or blocks). Every one is
    /// accounted for: `records = documents + skipped + dropped_empty +
    /// duplicates + filtered`.
    pub records: u64,
    /// Records skipped as malformed (reported by line in the diagnostics).
    pub skipped: u64,
    /// Records that became documents in a split.
    #[serde(default)]
    pub documents: u64,
    /// Records with no text (blank lines, empty fields).
    #[serde(default)]
    pub dropped_empty: u64,
    /// Documents dropped as exact duplicates of an earlier one.
    #[serde(default)]
    pub duplicates: u64,
    /// Documents the safety filter dropped.
    #[serde(default)]
    pub filtered: u64,
}

/// One split's documents, tokens and shards.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitRecord {
    /// Documents in the split.
    pub documents: u64,
    /// Tokens, document separators included.
    pub tokens: u64,
    /// Shard files in order.
    pub shards: Vec<ShardRecord>,
    /// Chat data: the loss mask, one byte per token (`u8` shards).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub masks: Vec<ShardRecord>,
    /// Chat data: each example's length in tokens (`u32` shards), in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lengths: Vec<ShardRecord>,
    /// Chat data: what happened to the examples.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat: Option<ChatSplitStats>,
}

impl SplitRecord {
    /// Every file of the split: token shards, then chat masks and lengths.
    pub fn files(&self) -> impl Iterator<Item = &ShardRecord> {
        self.shards.iter().chain(&self.masks).chain(&self.lengths)
    }
}

/// What preparation did with one split's chat examples.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatSplitStats {
    /// Tokens the loss counts (mask 1).
    pub masked_tokens: u64,
    /// Examples cut to `data.max_length` tokens.
    pub truncated: u64,
    /// Examples left out for being longer (`data.overlong: drop`).
    pub dropped_overlong: u64,
    /// Examples left out because no token of theirs counts in the loss
    /// (truncated before the reply).
    pub dropped_no_loss: u64,
    /// Examples the chat template refused (each reported by file and line).
    pub refused: u64,
}

/// How chat examples were rendered and masked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatRecord {
    /// Where the template came from.
    pub template: String,
    /// BLAKE3 of the template's text.
    pub template_blake3: Digest,
    /// Which tokens the loss counts.
    pub loss_on: codex_core::config::LossOn,
    /// Longest example, in tokens.
    pub max_length: u64,
}

/// How often one safety rule acted, in documents. A document that several
/// rules matched counts once under each of them (and once in the filter's
/// totals), so the per-rule counts can add up to more than the totals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleCounts {
    /// Documents dropped that this rule matched.
    pub dropped: u64,
    /// Documents redacted that this rule matched.
    pub redacted: u64,
    /// Documents kept but flagged that this rule matched.
    pub flagged: u64,
}

/// The text filter's effect on the corpus.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilterRecord {
    /// The filter's name.
    pub name: String,
    /// Counts per rule id.
    pub rules: BTreeMap<String, RuleCounts>,
    /// Documents dropped.
    pub dropped: u64,
    /// Documents redacted.
    pub redacted: u64,
    /// Documents flagged.
    pub flagged: u64,
    /// Matches the policy saw and let through (its allowlists, documentation
    /// examples, `codex:allow`); each is an `allowlisted` event in the
    /// safety audit trail.
    #[serde(default)]
    pub allowlisted: u64,
}

impl FilterRecord {
    /// One line of what the filter did, e.g. `safety (codex-safety): 2
    /// documents redacted, 1 match allowlisted`; `None` when it did nothing.
    pub fn summary_line(&self) -> Option<String> {
        let plural =
            |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let parts: Vec<String> = [
            (self.dropped, "document dropped", "documents dropped"),
            (self.redacted, "document redacted", "documents redacted"),
            (self.flagged, "document flagged", "documents flagged"),
            (
                self.allowlisted,
                "match allowlisted by the policy",
                "matches allowlisted by the policy",
            ),
        ]
        .into_iter()
        .filter(|(n, _, _)| *n > 0)
        .map(|(n, one, many)| plural(n, one, many))
        .collect();
        (!parts.is_empty()).then(|| format!("safety ({}): {}", self.name, parts.join(", ")))
    }
}

/// Everything `data/manifest.json` records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Manifest and shard format version.
    pub format_version: u32,
    /// codex version that prepared the data.
    pub codex_version: String,
    /// BLAKE3 over source hashes, tokenizer hash and parameters.
    pub cache_key: Digest,
    /// Every source file.
    pub sources: Vec<SourceRecord>,
    /// Set when the corpus was generated: its size and seed.
    pub synthetic: Option<(u64, u64)>,
    /// The parameters (the `data` section and seeds).
    pub params: serde_json::Value,
    /// BLAKE3 of the tokenizer file.
    pub tokenizer_blake3: Digest,
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Id appended after every document.
    pub eos_id: u32,
    /// Element width of the shards.
    pub dtype: Dtype,
    /// `train`, `validation` and `test`.
    pub splits: BTreeMap<String, SplitRecord>,
    /// Documents removed as exact duplicates.
    pub duplicates_removed: u64,
    /// Safety filtering.
    pub filter: FilterRecord,
    /// Malformed records skipped.
    pub records_skipped: u64,
    /// Seconds the preparation took.
    pub duration_secs: f64,
    /// Chat data (`data.format: chat`): the template and masking.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat: Option<ChatRecord>,
}

impl Manifest {
    /// Reads `manifest.json` from a dataset directory.
    pub fn load(dir: &Path) -> Result<Self, DataError> {
        let path = dir.join("manifest.json");
        let text = std::fs::read_to_string(&path).map_err(|source| DataError::Io {
            path: path.clone(),
            source,
        })?;
        let manifest: Self = serde_json::from_str(&text).map_err(|e| DataError::BadManifest {
            path: path.clone(),
            problem: e.to_string(),
        })?;
        if manifest.format_version != FORMAT_VERSION {
            return Err(DataError::BadManifest {
                path,
                problem: format!(
                    "format version {} is not the supported {FORMAT_VERSION}",
                    manifest.format_version
                ),
            });
        }
        Ok(manifest)
    }

    /// A split's record, or an empty one.
    pub fn split(&self, name: &str) -> SplitRecord {
        self.splits.get(name).cloned().unwrap_or_default()
    }
}
