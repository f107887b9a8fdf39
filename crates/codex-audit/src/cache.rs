//! The incremental cache: one index file per audited root and settings,
//! holding every file's whole result (inventory row, placeholders,
//! functions) with two ways to recognise that it still holds.
//!
//! - **The file's `lstat`** (device, inode, size, modification and change
//!   times): when it is the one recorded, the file is not read at all. As in
//!   git's index, a file changed within the timestamps' resolution of being
//!   read could look unchanged, so a row is trusted this way only when the
//!   file's change time is at least [`RACY_MARGIN_NS`] older than the start of
//!   the audit that wrote it. The change time (`ctime`) cannot be set back by
//!   a user, so putting a modification time back after an edit does not hide
//!   the edit. Unix only; elsewhere every file is read.
//! - **Its content**: a file that had to be read is parsed only when the
//!   BLAKE3 key of its path and content differs from the row's (a touched but
//!   unchanged file, a fresh checkout of the same commit).
//!
//! The index's name hashes codex's version, the entry format, the revision of
//! the complexity rules, every setting that shapes a row and the root; its
//! first line is the BLAKE3 of the rest keyed by the cache directory's device
//! and inode, which a tree that ships an index cannot know. A corrupt,
//! truncated or foreign index (another root's, or one copied or shipped into
//! this directory) is detected, ignored (every file is read and parsed) and
//! replaced, never trusted. It is read as untrusted input: no link followed,
//! regular files only, capped. It is written atomically but not fsynced: a crash can at
//! worst leave an index the checksum rejects.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};

use crate::complexity::{FunctionInfo, Parsed};
use crate::inventory::{FileEntry, InventoryOptions, Lines};
use crate::placeholders::Placeholder;

/// Bumped when the index's layout changes.
const FORMAT: u32 = 2;

/// How many files the cache answered and how many were parsed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Files with a language whose results came from the cache.
    pub hits: usize,
    /// Files with a language that were parsed.
    pub misses: usize,
    /// Indexes found unusable (corrupt, truncated or foreign) and replaced.
    pub rejected: usize,
    /// Files not read at all because their `lstat` matched the index (any
    /// file, with or without a language; those with one are also among `hits`).
    pub unread: usize,
}

/// A cache directory in use.
#[derive(Debug)]
pub(crate) struct Cache {
    dir: PathBuf,
    hits: AtomicUsize,
    misses: AtomicUsize,
    rejected: AtomicUsize,
    unread: AtomicUsize,
}

/// An index larger than this is not read (the registry's 53,000 files make
/// one of about 100 MB).
const MAX_INDEX_BYTES: u64 = 4 << 30;

/// BLAKE3 of `body` keyed by the cache directory's identity (`dir_key`).
fn checksum(key: &[u8], body: &[u8]) -> String {
    codex_core::Hasher::new()
        .update(key)
        .update(&[0])
        .update(body)
        .finalize()
        .to_hex()
}

/// How much older than the audit that recorded it a file's change time must
/// be for its row to be trusted without reading the file (covers coarse
/// file-system clocks: Linux's tick is a few milliseconds, network and FAT
/// file systems' resolution a second or two).
pub(crate) const RACY_MARGIN_NS: i64 = 2_000_000_000;

/// What `lstat` said about a file, as the index compares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Stat {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i64,
    ctime_ns: i64,
}

impl Stat {
    /// The `lstat` of `path` when it is a regular file (`None` otherwise, and
    /// off Unix, where there is no change time to trust).
    pub(crate) fn of(path: &Path) -> Option<Self> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt as _;
            let m = std::fs::symlink_metadata(path).ok()?;
            m.file_type().is_file().then(|| Self {
                dev: m.dev(),
                ino: m.ino(),
                size: m.size(),
                mtime_ns: ns(m.mtime(), m.mtime_nsec()),
                ctime_ns: ns(m.ctime(), m.ctime_nsec()),
            })
        }
        #[cfg(not(unix))]
        {
            let _ = path;
            None
        }
    }
}

/// Seconds and nanoseconds as nanoseconds (saturating past the years 1677
/// and 2262).
#[cfg(unix)]
fn ns(secs: i64, nanos: i64) -> i64 {
    secs.saturating_mul(1_000_000_000).saturating_add(nanos)
}

/// Nanoseconds since the Unix epoch, now.
pub(crate) fn now_ns() -> i64 {
    let ns = |d: std::time::Duration| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
    match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => ns(d),
        Err(e) => -ns(e.duration()),
    }
}

/// The content key of a file that was read: its SHA-256 when the inventory
/// computed one, else BLAKE3 of its text. (The path, the settings and the
/// rules are in the index's scope.)
pub(crate) fn content_key(entry: &FileEntry, text: &str) -> String {
    match &entry.sha256 {
        Some(sha) => format!("sha256:{sha}"),
        None => format!(
            "blake3:{}",
            codex_core::Digest::of(text.as_bytes()).to_hex()
        ),
    }
}

/// A file's inventory row as the index stores it (the language is derived
/// from the path again when the row is used).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredFile {
    size: u64,
    lines: Option<Lines>,
    binary: bool,
    sha256: Option<String>,
    blake3: Option<String>,
}

/// One file's whole result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Row {
    path: String,
    /// `None` off Unix.
    stat: Option<Stat>,
    /// [`content_key`], for files whose text was analyzed.
    key: Option<String>,
    file: StoredFile,
    placeholders: Vec<Placeholder>,
    functions: Option<Vec<FunctionInfo>>,
    failed: Option<String>,
    /// Too large to parse (listed in the report's `skipped_complexity`).
    too_large: bool,
}

/// One file's results: its entry, placeholders, parse result and whether it
/// was too large to parse.
pub(crate) type Results = (FileEntry, Vec<Placeholder>, Parsed, bool);

impl Row {
    pub(crate) fn new(stat: Option<Stat>, key: Option<String>, r: &Results) -> Self {
        let (entry, placeholders, parsed, too_large) = r;
        Self {
            path: entry.path.clone(),
            stat,
            key,
            file: StoredFile {
                size: entry.size,
                lines: entry.lines,
                binary: entry.binary,
                sha256: entry.sha256.clone(),
                blake3: entry.blake3.clone(),
            },
            placeholders: placeholders.clone(),
            functions: match parsed {
                Parsed::Functions(f) => Some(f.clone()),
                _ => None,
            },
            failed: match parsed {
                Parsed::Failed(r) => Some(r.clone()),
                _ => None,
            },
            too_large: *too_large,
        }
    }

    fn parsed(&self) -> Parsed {
        match (&self.functions, &self.failed) {
            (Some(f), _) => Parsed::Functions(f.clone()),
            (None, Some(reason)) => Parsed::Failed(reason.clone()),
            (None, None) => Parsed::Unsupported,
        }
    }

    fn results(&self) -> Results {
        let f = &self.file;
        let entry = FileEntry {
            path: self.path.clone(),
            size: f.size,
            language: crate::inventory::language(Path::new(&self.path)).map(|l| l.0),
            lines: f.lines,
            binary: f.binary,
            sha256: f.sha256.clone(),
            blake3: f.blake3.clone(),
        };
        (
            entry,
            self.placeholders.clone(),
            self.parsed(),
            self.too_large,
        )
    }
}

/// What the next index holds for a file.
#[derive(Debug)]
pub(crate) enum NewRow {
    /// A new row.
    Row(Box<Row>),
    /// The old index's row, still true.
    Unchanged,
    /// Nothing: the audit uses no cache.
    None,
}

#[derive(Serialize, Deserialize)]
struct IndexFile {
    format: u32,
    scope: String,
    /// When the audit that wrote it started (ns since the epoch).
    started_ns: i64,
    rows: Vec<Row>,
}

/// The rows an earlier audit of the same root with the same settings left.
#[derive(Debug, Default)]
pub(crate) struct Index {
    rows: HashMap<String, Row>,
    started_ns: i64,
}

impl Cache {
    pub(crate) fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_owned(),
            hits: AtomicUsize::new(0),
            misses: AtomicUsize::new(0),
            rejected: AtomicUsize::new(0),
            unread: AtomicUsize::new(0),
        }
    }

    pub(crate) fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            unread: self.unread.load(Ordering::Relaxed),
        }
    }

    /// The cache directory's device and inode, which key the index's
    /// checksum. A tree can ship an index (when the cache lies inside the
    /// audited tree, as `reports/.cache` may), but it cannot know the inode
    /// its directory will get on this machine, and an index copied from
    /// another directory fails the same way: a foreign index is rejected even
    /// when it was made for the same root. `None`, and no cache, when the
    /// directory is a link or not a directory.
    fn dir_key(&self) -> Option<Vec<u8>> {
        let m = std::fs::symlink_metadata(&self.dir).ok()?;
        if !m.is_dir() {
            return None;
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt as _;
            Some(format!("{}:{}", m.dev(), m.ino()).into_bytes())
        }
        #[cfg(not(unix))]
        {
            Some(Vec::new())
        }
    }

    /// The index's file for `root` audited with `options`, and its scope:
    /// codex's version, the format, the rules, every setting that shapes a
    /// row and the root, so audits of other roots or with other settings
    /// keep their own.
    fn index_file(&self, root: &Path, options: &InventoryOptions) -> (PathBuf, String) {
        let root = std::path::absolute(root).unwrap_or_else(|_| root.to_owned());
        let scope = codex_core::Hasher::new()
            .update(env!("CARGO_PKG_VERSION").as_bytes())
            .update(&[0])
            .update(&FORMAT.to_le_bytes())
            .update(&crate::complexity::RULES.to_le_bytes())
            .update(&options.max_hash_bytes.to_le_bytes())
            .update(&[u8::from(options.blake3)])
            .update(&options.max_read_bytes.to_le_bytes())
            .update(&options.max_parse_bytes.to_le_bytes())
            .update(root.as_os_str().as_encoded_bytes())
            .finalize()
            .to_hex();
        (self.dir.join(format!("index-{}.json", &scope[..32])), scope)
    }

    /// The index for `root` and `options`: empty when there is none, and
    /// when it is corrupt or foreign (then counted as rejected).
    pub(crate) fn load_index(&self, root: &Path, options: &InventoryOptions) -> Index {
        let (path, scope) = self.index_file(root, options);
        let Some(key) = self.dir_key() else {
            return Index::default();
        };
        // Never through a link, never a special file, never past the cap.
        let read = || -> std::io::Result<Vec<u8>> {
            let file = codex_core::untrusted::open_regular(&path)?;
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(
                &mut std::io::Read::take(file, MAX_INDEX_BYTES),
                &mut bytes,
            )?;
            Ok(bytes)
        };
        let bytes = match read() {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Index::default(),
            Err(_) => Vec::new(),
        };
        let index = (|| {
            // `<keyed blake3 of the rest>\n<json>`
            let nl = bytes.iter().position(|&b| b == b'\n')?;
            let (sum, body) = (&bytes[..nl], &bytes[nl + 1..]);
            if checksum(&key, body).as_bytes() != sum {
                return None;
            }
            let f: IndexFile = serde_json::from_slice(body).ok()?;
            (f.format == FORMAT && f.scope == scope).then(|| Index {
                started_ns: f.started_ns,
                rows: f.rows.into_iter().map(|r| (r.path.clone(), r)).collect(),
            })
        })();
        index.unwrap_or_else(|| {
            self.rejected.fetch_add(1, Ordering::Relaxed);
            Index::default()
        })
    }

    /// The results of the file at `rel`, unread, when its `lstat` is the one
    /// recorded and the row is not racy.
    pub(crate) fn unchanged(
        &self,
        index: &Index,
        rel: &str,
        stat: Option<Stat>,
    ) -> Option<Results> {
        let (stat, row) = (stat?, index.rows.get(rel)?);
        if row.stat != Some(stat)
            || stat.ctime_ns >= index.started_ns.saturating_sub(RACY_MARGIN_NS)
        {
            return None;
        }
        let results = row.results();
        self.unread.fetch_add(1, Ordering::Relaxed);
        if results.0.language.is_some() {
            self.hits.fetch_add(1, Ordering::Relaxed);
        }
        Some(results)
    }

    /// The placeholders and parse result recorded for the file at `rel`
    /// when its content key is `key` (a read file whose content did not
    /// change); counts a hit or a miss.
    pub(crate) fn same_content(
        &self,
        index: &Index,
        rel: &str,
        key: &str,
    ) -> Option<(Vec<Placeholder>, Parsed)> {
        let found = index
            .rows
            .get(rel)
            .filter(|r| r.key.as_deref() == Some(key))
            .map(|r| (r.placeholders.clone(), r.parsed()));
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Writes this audit's index from each file's path and [`NewRow`] (best
    /// effort: a cache that cannot be written only makes the next audit
    /// slower), unless every file was answered unread by the old one, which
    /// then still holds.
    pub(crate) fn store_index(
        &self,
        root: &Path,
        options: &InventoryOptions,
        mut old: Index,
        started_ns: i64,
        new: Vec<(String, NewRow)>,
    ) {
        if self.unread.load(Ordering::Relaxed) == new.len() && new.len() == old.rows.len() {
            return;
        }
        let rows = new
            .into_iter()
            .filter_map(|(path, row)| match row {
                NewRow::Row(r) => Some(*r),
                NewRow::Unchanged => old.rows.remove(&path),
                NewRow::None => None,
            })
            .collect();
        let (path, scope) = self.index_file(root, options);
        let file = IndexFile {
            format: FORMAT,
            scope,
            started_ns,
            rows,
        };
        if std::fs::create_dir_all(&self.dir).is_err() {
            return;
        }
        let Some(key) = self.dir_key() else {
            return;
        };
        let body = serde_json::to_vec(&file).expect("an index serializes");
        let mut bytes = checksum(&key, &body).into_bytes();
        bytes.push(b'\n');
        bytes.extend_from_slice(&body);
        // Not through `write_bytes_atomic`: a cache needs no fsync (a torn
        // index fails its checksum), and the fsync would cost more than
        // the audit.
        let tmp = self.dir.join(format!(
            ".{}.tmp.{}",
            path.file_name().and_then(|n| n.to_str()).unwrap_or("index"),
            std::process::id()
        ));
        let written = std::fs::File::options()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .and_then(|mut f| std::io::Write::write_all(&mut f, &bytes))
            .and_then(|()| std::fs::rename(&tmp, &path));
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(stat: Stat) -> Row {
        let entry = FileEntry {
            path: "a.py".into(),
            size: stat.size,
            language: Some("Python"),
            lines: None,
            binary: false,
            sha256: None,
            blake3: None,
        };
        Row::new(
            Some(stat),
            None,
            &(entry, Vec::new(), Parsed::Unsupported, false),
        )
    }

    #[test]
    fn a_row_is_trusted_unread_only_when_the_file_changed_well_before_the_audit_that_wrote_it() {
        let started_ns = 1_700_000_000_000_000_000;
        let stat = |ctime_ns| Stat {
            dev: 1,
            ino: 2,
            size: 3,
            mtime_ns: ctime_ns,
            ctime_ns,
        };
        let cache = Cache::new(Path::new("unused"));
        let index = |s: Stat| Index {
            rows: [("a.py".to_owned(), row(s))].into(),
            started_ns,
        };
        let old = stat(started_ns - RACY_MARGIN_NS - 1);
        assert!(cache.unchanged(&index(old), "a.py", Some(old)).is_some());
        // Changed within the margin of the audit: it could have changed
        // again within the same clock tick after it was read.
        let racy = stat(started_ns - RACY_MARGIN_NS + 1);
        assert!(cache.unchanged(&index(racy), "a.py", Some(racy)).is_none());
        // Any field that differs means a read.
        for other in [
            Stat { dev: 9, ..old },
            Stat { ino: 9, ..old },
            Stat { size: 9, ..old },
            Stat { mtime_ns: 9, ..old },
            Stat { ctime_ns: 9, ..old },
        ] {
            assert!(cache.unchanged(&index(old), "a.py", Some(other)).is_none());
        }
        assert!(cache.unchanged(&index(old), "b.py", Some(old)).is_none());
        assert!(cache.unchanged(&index(old), "a.py", None).is_none());
        assert_eq!(cache.stats().unread, 1);
    }
}
