//! The incremental cache: each file's placeholders and functions, keyed by
//! BLAKE3 over codex's version, the revision of the complexity rules, the
//! settings that shape them, the file's
//! path and its content. A repeat audit reads a file (it must, to know its
//! hash) but parses only files whose key has no entry. Each entry carries a
//! checksum of its own bytes and its key: a corrupt, truncated, foreign or
//! stale entry is detected, ignored and replaced, never trusted.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};

use crate::complexity::{FunctionInfo, Parsed};
use crate::placeholders::Placeholder;

/// Bumped when the entry layout changes.
const FORMAT: u32 = 1;

/// How many files the cache answered and how many were parsed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Files whose results came from the cache.
    pub hits: usize,
    /// Files parsed (and stored).
    pub misses: usize,
    /// Entries found unusable (corrupt, foreign or stale) and replaced.
    pub rejected: usize,
}

#[derive(Serialize, Deserialize)]
struct Entry {
    format: u32,
    key: String,
    placeholders: Vec<Placeholder>,
    functions: Option<Vec<FunctionInfo>>,
    failed: Option<String>,
}

/// A cache directory in use.
#[derive(Debug)]
pub(crate) struct Cache {
    dir: PathBuf,
    hits: AtomicUsize,
    misses: AtomicUsize,
    rejected: AtomicUsize,
}

impl Cache {
    pub(crate) fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_owned(),
            hits: AtomicUsize::new(0),
            misses: AtomicUsize::new(0),
            rejected: AtomicUsize::new(0),
        }
    }

    pub(crate) fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
        }
    }

    /// The key of one file's results.
    pub(crate) fn key(path: &str, text: &str, max_parse_bytes: u64) -> String {
        codex_core::Hasher::new()
            .update(env!("CARGO_PKG_VERSION").as_bytes())
            .update(&[0])
            .update(&FORMAT.to_le_bytes())
            .update(&crate::complexity::RULES.to_le_bytes())
            .update(&max_parse_bytes.to_le_bytes())
            .update(path.as_bytes())
            .update(&[0])
            .update(text.as_bytes())
            .finalize()
            .to_hex()
    }

    fn file(&self, key: &str) -> PathBuf {
        self.dir.join(&key[..2]).join(format!("{key}.json"))
    }

    /// The stored results of `key`, if an intact entry for exactly it exists.
    pub(crate) fn get(&self, key: &str) -> Option<(Vec<Placeholder>, Parsed)> {
        let path = self.file(key);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(_) => return None,
        };
        let entry = (|| {
            // `<blake3 of the rest>\n<json>`
            let nl = bytes.iter().position(|&b| b == b'\n')?;
            let (sum, body) = (&bytes[..nl], &bytes[nl + 1..]);
            if codex_core::Digest::of(body).to_hex().as_bytes() != sum {
                return None;
            }
            let e: Entry = serde_json::from_slice(body).ok()?;
            (e.format == FORMAT && e.key == key).then_some(e)
        })();
        let Some(e) = entry else {
            self.rejected.fetch_add(1, Ordering::Relaxed);
            return None;
        };
        self.hits.fetch_add(1, Ordering::Relaxed);
        let parsed = match (e.functions, e.failed) {
            (Some(f), _) => Parsed::Functions(f),
            (None, Some(reason)) => Parsed::Failed(reason),
            (None, None) => Parsed::Unsupported,
        };
        Some((e.placeholders, parsed))
    }

    /// Stores the results of `key` (best effort: a cache that cannot be
    /// written only makes the next audit slower).
    pub(crate) fn put(&self, key: &str, placeholders: &[Placeholder], parsed: &Parsed) {
        self.misses.fetch_add(1, Ordering::Relaxed);
        let entry = Entry {
            format: FORMAT,
            key: key.to_owned(),
            placeholders: placeholders.to_vec(),
            functions: match parsed {
                Parsed::Functions(f) => Some(f.clone()),
                _ => None,
            },
            failed: match parsed {
                Parsed::Failed(r) => Some(r.clone()),
                _ => None,
            },
        };
        let body = serde_json::to_vec(&entry).expect("an entry serializes");
        let mut bytes = codex_core::Digest::of(&body).to_hex().into_bytes();
        bytes.push(b'\n');
        bytes.extend_from_slice(&body);
        let path = self.file(key);
        if let Some(parent) = path.parent()
            && std::fs::create_dir_all(parent).is_ok()
        {
            let _ = codex_core::write_bytes_atomic(&path, &bytes);
        }
    }
}
