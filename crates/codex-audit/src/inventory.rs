//! The file inventory: every file the repository tracks or would track
//! (`.gitignore` honoured, tool directories skipped, symlinks never followed),
//! with size, language, line counts, a binary flag and hashes.
//!
//! Line conventions (tokei's, checked against it on the fixtures in
//! `tests/data/lines`): a line is blank when it holds only whitespace; a
//! comment line holds only comment text (a line comment, doc comments
//! included, or a line inside a block comment); every other line is code,
//! including lines that mix code and a trailing comment and every line of a
//! multi-line string (Python's triple-quoted strings and docstrings, blank
//! lines inside them too). A comment marker inside a quoted string on a code
//! line does not start a comment.

use std::io::Read;
use std::path::{Path, PathBuf};

use codex_core::untrusted::EntryKind;
use rayon::prelude::*;
use serde::Serialize;
use sha2::Digest as _;

/// Directories never walked into (listed in the audit's `skipped`).
pub use codex_core::untrusted::SKIP_DIRS;

/// Comment syntax of a language.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Syntax {
    line: &'static [&'static str],
    block: Option<(&'static str, &'static str)>,
    /// Multi-line string delimiters: every line of such a string is code,
    /// blank lines inside it included (Python's triple quotes, docstrings too).
    strings: &'static [&'static str],
}

/// The language of a path and its comment syntax.
pub(crate) fn language(path: &Path) -> Option<(&'static str, Option<Syntax>)> {
    let name = path.file_name()?.to_str()?;
    let c_like = Some(Syntax {
        line: &["//"],
        block: Some(("/*", "*/")),
        strings: &[],
    });
    let hash = Some(Syntax {
        line: &["#"],
        block: None,
        strings: &[],
    });
    let python = Some(Syntax {
        line: &["#"],
        block: None,
        strings: &["\"\"\"", "\'\'\'"],
    });
    let by_name = match name {
        "Makefile" | "makefile" | "GNUmakefile" => Some(("Makefile", hash)),
        "Dockerfile" => Some(("Dockerfile", hash)),
        "CMakeLists.txt" => Some(("CMake", hash)),
        _ => None,
    };
    if by_name.is_some() {
        return by_name;
    }
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    Some(match ext.as_str() {
        "rs" => ("Rust", c_like),
        "py" | "pyi" => ("Python", python),
        "js" | "mjs" | "cjs" | "jsx" => ("JavaScript", c_like),
        "ts" | "tsx" | "mts" | "cts" => ("TypeScript", c_like),
        "go" => ("Go", c_like),
        "c" | "h" => ("C", c_like),
        "cc" | "cpp" | "cxx" | "hpp" | "hh" | "hxx" => ("C++", c_like),
        "java" => ("Java", c_like),
        "kt" | "kts" => ("Kotlin", c_like),
        "swift" => ("Swift", c_like),
        "cs" => ("C#", c_like),
        "sh" | "bash" | "zsh" => ("Shell", hash),
        "toml" => ("TOML", hash),
        "yaml" | "yml" => ("YAML", hash),
        "json" => ("JSON", None),
        "md" | "markdown" => ("Markdown", None),
        "rst" => ("reStructuredText", None),
        "txt" => ("Text", None),
        "html" | "htm" => (
            "HTML",
            Some(Syntax {
                line: &[],
                block: Some(("<!--", "-->")),
                strings: &[],
            }),
        ),
        "css" => (
            "CSS",
            Some(Syntax {
                line: &[],
                block: Some(("/*", "*/")),
                strings: &[],
            }),
        ),
        "sql" => (
            "SQL",
            Some(Syntax {
                line: &["--"],
                block: Some(("/*", "*/")),
                strings: &[],
            }),
        ),
        "lua" => (
            "Lua",
            Some(Syntax {
                line: &["--"],
                block: None,
                strings: &[],
            }),
        ),
        "rb" => ("Ruby", hash),
        "r" => ("R", hash),
        "proto" => ("Protocol Buffers", c_like),
        _ => return None,
    })
}

/// Code, comment and blank line counts.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct Lines {
    /// Lines with code.
    pub code: u64,
    /// Lines with only comments.
    pub comment: u64,
    /// Lines with only whitespace.
    pub blank: u64,
}

/// Where the counter is between lines.
#[derive(Clone, Copy)]
enum State {
    Code,
    /// Inside a block comment that ends with this marker.
    Comment(&'static str),
    /// Inside a multi-line string of code that ends with this marker.
    Str(&'static str),
}

/// Counts lines by the conventions above.
pub(crate) fn count_lines(text: &str, syntax: Option<Syntax>) -> Lines {
    let mut lines = Lines::default();
    let mut state = State::Code;
    for raw in text.lines() {
        let line = raw.trim();
        if line.is_empty() {
            if matches!(state, State::Str(_)) {
                lines.code += 1;
            } else {
                lines.blank += 1;
            }
            continue;
        }
        let Some(syn) = syntax else {
            lines.code += 1;
            continue;
        };
        match state {
            State::Comment(close) => {
                match line.find(close) {
                    Some(end) => {
                        state = State::Code;
                        let rest = line[end + close.len()..].trim();
                        if rest.is_empty() || syn.line.iter().any(|p| rest.starts_with(p)) {
                            lines.comment += 1;
                        } else {
                            lines.code += 1;
                        }
                    }
                    None => lines.comment += 1,
                }
                continue;
            }
            State::Str(close) => {
                lines.code += 1;
                if line.contains(close) {
                    state = State::Code;
                }
                continue;
            }
            State::Code => {}
        }
        if syn.line.iter().any(|p| line.starts_with(p)) {
            lines.comment += 1;
            continue;
        }
        if let Some((open, close)) = syn.block.filter(|(open, _)| line.starts_with(open)) {
            let after = &line[open.len()..];
            match after.find(close) {
                None => {
                    state = State::Comment(close);
                    lines.comment += 1;
                }
                Some(end) => {
                    let rest = after[end + close.len()..].trim();
                    if rest.is_empty() || syn.line.iter().any(|p| rest.starts_with(p)) {
                        lines.comment += 1;
                    } else {
                        lines.code += 1;
                    }
                }
            }
            continue;
        }
        lines.code += 1;
        // A block comment or a multi-line string opened after code and left open.
        if let Some((open, close)) = syn.block
            && let Some(at) = find_outside_strings(line, open)
            && !line[at + open.len()..].contains(close)
        {
            state = State::Comment(close);
        } else {
            for d in syn.strings {
                if let Some(at) = line.find(d)
                    && !line[at + d.len()..].contains(d)
                {
                    state = State::Str(d);
                    break;
                }
            }
        }
    }
    lines
}

/// The first occurrence of `needle` in `line` outside double-quoted strings.
pub(crate) fn find_outside_strings(line: &str, needle: &str) -> Option<usize> {
    // Most lines do not hold the needle at all: one substring search says so
    // (the walk below compares at every byte).
    if !line.contains(needle) {
        return None;
    }
    let bytes = line.as_bytes();
    let mut in_str = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if in_str => i += 1,
            b'"' => in_str = !in_str,
            _ if !in_str && bytes[i..].starts_with(needle.as_bytes()) => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

/// One file of the inventory.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct FileEntry {
    /// Path relative to the root, with `/` separators.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Language, when known.
    pub language: Option<&'static str>,
    /// Line counts (text files with a known language).
    pub lines: Option<Lines>,
    /// Whether the file looks binary (a NUL byte in its first 8 KiB).
    pub binary: bool,
    /// SHA-256 (hex), for files up to the hashing limit.
    pub sha256: Option<String>,
    /// BLAKE3 (hex), when asked for.
    pub blake3: Option<String>,
}

/// Settings of an inventory.
#[derive(Debug, Clone)]
pub struct InventoryOptions {
    /// Files up to this size are hashed (SHA-256, and BLAKE3 when asked).
    pub max_hash_bytes: u64,
    /// Also compute BLAKE3.
    pub blake3: bool,
    /// Files up to this size are read for line counts and scans.
    pub max_read_bytes: u64,
    /// Files up to this size are parsed for complexity (larger ones are
    /// usually generated code).
    pub max_parse_bytes: u64,
    /// The incremental cache's directory: per-file results are read from it
    /// and stored in it (see [`crate::CacheStats`]); `None`: no cache.
    pub cache: Option<PathBuf>,
}

impl Default for InventoryOptions {
    fn default() -> Self {
        Self {
            max_hash_bytes: 5 << 20,
            blake3: false,
            max_read_bytes: 16 << 20,
            max_parse_bytes: 1 << 20,
            cache: None,
        }
    }
}

/// A step that failed on one path; the audit goes on.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct StepError {
    /// Which step.
    pub step: String,
    /// What failed.
    pub error: String,
    /// The path or other context.
    pub context: String,
}

/// An entry the walk saw and did not list as a file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, schemars::JsonSchema)]
pub struct Skipped {
    /// Path relative to the root, with `/` separators.
    pub path: String,
    /// Why: `symbolic link`, `special file` (FIFO, socket, device) or `tool directory`.
    pub reason: String,
}

/// What a walk found.
#[derive(Debug, Clone, Default)]
pub struct Walked {
    /// Regular files, sorted by path.
    pub files: Vec<PathBuf>,
    /// Links, special files and tool directories, sorted by path.
    pub skipped: Vec<Skipped>,
    /// Directories or ignore files that could not be read.
    pub errors: Vec<StepError>,
}

/// Ignore files are read up to this size; a larger one is an error, not a hang.
const MAX_IGNORE_FILE_BYTES: u64 = 1 << 20;

/// The ignore rules in force in one directory: its own `.ignore` and
/// `.gitignore` (and, at the root, `.git/info/exclude`), then its parent's.
#[derive(Debug, Default)]
struct Rules {
    ignore: Option<ignore::gitignore::Gitignore>,
    gitignore: Option<ignore::gitignore::Gitignore>,
    exclude: Option<ignore::gitignore::Gitignore>,
    parent: Option<std::sync::Arc<Rules>>,
}

impl Rules {
    /// Whether `path` is ignored: `.ignore` files win over `.gitignore` files,
    /// which win over `.git/info/exclude`; within each, the deepest file with
    /// a matching pattern decides (a `!pattern` re-includes).
    fn ignored(&self, path: &Path, is_dir: bool) -> bool {
        type Pick = fn(&Rules) -> Option<&ignore::gitignore::Gitignore>;
        let picks: [Pick; 3] = [
            |r| r.ignore.as_ref(),
            |r| r.gitignore.as_ref(),
            |r| r.exclude.as_ref(),
        ];
        for pick in picks {
            let mut layer = Some(self);
            while let Some(r) = layer {
                if let Some(gi) = pick(r) {
                    match gi.matched(path, is_dir) {
                        ignore::Match::None => {}
                        ignore::Match::Ignore(_) => return true,
                        ignore::Match::Whitelist(_) => return false,
                    }
                }
                layer = r.parent.as_deref();
            }
        }
        false
    }
}

/// Builds a matcher from an ignore file of the tree, read as untrusted input
/// (no link followed, regular files only, size capped); an unreadable one is
/// an error of the walk and contributes no rules.
fn ignore_file(
    root: &Path,
    dir: &Path,
    file: &Path,
    errors: &mut Vec<StepError>,
) -> Option<ignore::gitignore::Gitignore> {
    let text = match codex_core::untrusted::read_regular_text(file, MAX_IGNORE_FILE_BYTES) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            errors.push(StepError {
                step: "walk".into(),
                error: format!("ignore file not used: {e}"),
                context: relative(root, file),
            });
            return None;
        }
    };
    let mut b = ignore::gitignore::GitignoreBuilder::new(dir);
    for line in text.lines() {
        // A pattern that does not compile is skipped, as git skips it.
        let _ = b.add_line(Some(file.to_owned()), line);
    }
    b.build().ok()
}

/// Every regular file under `root`, sorted by path, with what was skipped and
/// the errors met on the way. `.gitignore`, `.ignore` and `.git/info/exclude`
/// are honoured; nothing above `root` is read. Symbolic links and special
/// files are listed as skipped, never followed or opened. The walk goes level
/// by level, the directories of a level read in parallel, so depth costs no
/// stack and the result does not depend on the thread count.
pub fn walk(root: &Path) -> Walked {
    use std::sync::Arc;
    let mut out = Walked::default();
    let mut root_rules = Rules::default();
    let git = root.join(".git");
    if std::fs::symlink_metadata(&git).is_ok_and(|m| m.is_dir()) {
        root_rules.exclude = ignore_file(root, root, &git.join("info/exclude"), &mut out.errors);
    }
    let mut level: Vec<(PathBuf, Arc<Rules>)> = vec![(root.to_owned(), Arc::new(root_rules))];
    while !level.is_empty() {
        type DirResult = (Vec<(PathBuf, Arc<Rules>)>, Walked);
        let results: Vec<DirResult> = level
            .par_iter()
            .map(|(dir, parent)| {
                let mut found = Walked::default();
                let mut subdirs = Vec::new();
                let entries = match std::fs::read_dir(dir) {
                    Ok(e) => e,
                    Err(e) => {
                        found.errors.push(StepError {
                            step: "walk".into(),
                            error: e.to_string(),
                            context: relative(root, dir),
                        });
                        return (subdirs, found);
                    }
                };
                let mut listed = Vec::new();
                for entry in entries {
                    match entry {
                        Ok(e) => listed.push(e),
                        Err(e) => found.errors.push(StepError {
                            step: "walk".into(),
                            error: e.to_string(),
                            context: relative(root, dir),
                        }),
                    }
                }
                // Ignore files are opened only where the listing has them (one
                // failed open fewer per directory, twice).
                let has = |name: &str| listed.iter().any(|e| e.file_name() == name);
                let mut read_rules = |name: &str| {
                    has(name)
                        .then(|| ignore_file(root, dir, &dir.join(name), &mut found.errors))
                        .flatten()
                };
                let rules = Arc::new(Rules {
                    ignore: read_rules(".ignore"),
                    gitignore: read_rules(".gitignore"),
                    exclude: None,
                    parent: Some(parent.clone()),
                });
                for entry in listed {
                    let path = entry.path();
                    // `file_type` does not follow links.
                    let kind = match entry.file_type() {
                        Ok(t) => EntryKind::of(t),
                        Err(e) => {
                            found.errors.push(StepError {
                                step: "walk".into(),
                                error: e.to_string(),
                                context: relative(root, &path),
                            });
                            continue;
                        }
                    };
                    let is_dir = kind == EntryKind::Dir;
                    if rules.ignored(&path, is_dir) {
                        continue;
                    }
                    match kind {
                        EntryKind::File => found.files.push(path),
                        EntryKind::Dir if SKIP_DIRS.iter().any(|s| entry.file_name() == *s) => {
                            found.skipped.push(Skipped {
                                path: relative(root, &path),
                                reason: "tool directory".into(),
                            });
                        }
                        EntryKind::Dir => subdirs.push((path, rules.clone())),
                        EntryKind::Symlink | EntryKind::Special => found.skipped.push(Skipped {
                            path: relative(root, &path),
                            reason: kind.noun().into(),
                        }),
                    }
                }
                (subdirs, found)
            })
            .collect();
        level = Vec::new();
        for (subdirs, found) in results {
            level.extend(subdirs);
            out.files.extend(found.files);
            out.skipped.extend(found.skipped);
            out.errors.extend(found.errors);
        }
    }
    out.files.sort();
    out.skipped.sort();
    out.errors
        .sort_by(|a, b| (&a.context, &a.error).cmp(&(&b.context, &b.error)));
    out
}

/// The path relative to `root` with `/` separators (lossy for invalid UTF-8).
pub(crate) fn relative(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

fn hashes(path: &Path, want_blake3: bool) -> std::io::Result<(String, Option<String>)> {
    let mut file = codex_core::untrusted::open_regular(path)?;
    let mut sha = sha2::Sha256::new();
    let mut b3 = codex_core::Hasher::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        sha.update(&buf[..n]);
        if want_blake3 {
            b3.update(&buf[..n]);
        }
    }
    let hex: String = sha.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Ok((hex, want_blake3.then(|| b3.finalize().to_hex())))
}

/// One file described from a single read: its entry and, for text files up
/// to the read limit, its text (for the scans that follow).
pub(crate) fn describe(
    root: &Path,
    path: &Path,
    options: &InventoryOptions,
) -> Result<(FileEntry, Option<String>), StepError> {
    let rel = relative(root, path);
    let err = |step: &str, e: std::io::Error| StepError {
        step: step.into(),
        error: e.to_string(),
        context: rel.clone(),
    };
    // Opened once, without following links, and checked to be a regular file;
    // the size comes from the handle, so a file swapped after the walk is
    // still read within its limits.
    let mut file = codex_core::untrusted::open_regular(path).map_err(|e| err("inventory", e))?;
    let size = file.metadata().map_err(|e| err("inventory", e))?.len();
    let lang = language(path);
    let (binary, text, sha256, blake3) = if size <= options.max_read_bytes {
        let mut bytes = Vec::with_capacity(size as usize);
        (&mut file)
            .take(options.max_read_bytes)
            .read_to_end(&mut bytes)
            .map_err(|e| err("inventory", e))?;
        let binary = bytes[..bytes.len().min(8192)].contains(&0);
        let (sha, b3) = if size <= options.max_hash_bytes {
            let sha: String = sha2::Sha256::digest(&bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            (
                Some(sha),
                options
                    .blake3
                    .then(|| codex_core::Digest::of(&bytes).to_hex()),
            )
        } else {
            (None, None)
        };
        // Valid UTF-8 (nearly every text file) becomes the text without a copy.
        let text = (!binary).then(|| {
            String::from_utf8(bytes)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
        });
        (binary, text, sha, b3)
    } else {
        let mut head = Vec::with_capacity(8192);
        (&mut file)
            .take(8192)
            .read_to_end(&mut head)
            .map_err(|e| err("inventory", e))?;
        let (sha, b3) = if size <= options.max_hash_bytes {
            let (s, b) = hashes(path, options.blake3).map_err(|e| err("hash", e))?;
            (Some(s), b)
        } else {
            (None, None)
        };
        (head.contains(&0), None, sha, b3)
    };
    let lines = match (&text, lang) {
        (Some(t), Some((_, syntax))) => Some(count_lines(t, syntax)),
        _ => None,
    };
    let entry = FileEntry {
        path: rel,
        size,
        language: lang.map(|l| l.0),
        lines,
        binary,
        sha256,
        blake3,
    };
    Ok((entry, text))
}

/// Describes every file, in parallel; the result is sorted by path whatever
/// the thread count.
pub fn inventory(
    root: &Path,
    files: &[PathBuf],
    options: &InventoryOptions,
) -> (Vec<FileEntry>, Vec<StepError>) {
    let results: Vec<Result<FileEntry, StepError>> = files
        .par_iter()
        .map(|path| describe(root, path, options).map(|(e, _)| e))
        .collect();
    let mut entries = Vec::new();
    let mut errors = Vec::new();
    for r in results {
        match r {
            Ok(e) => entries.push(e),
            Err(e) => errors.push(e),
        }
    }
    (entries, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_counts_follow_the_documented_conventions() {
        let rust = "// header\n\nfn main() { // trailing\n    /* block\n       still */\n    let s = \"/* not a comment\";\n}\n/* one */ let x = 1;\n";
        let syn = language(Path::new("a.rs")).unwrap().1;
        assert_eq!(
            count_lines(rust, syn),
            Lines {
                code: 4,
                comment: 3,
                blank: 1
            }
        );
        let py = "#!/usr/bin/env python\n# c\nx = 1  # trailing\n\n\ndef f():\n    pass\n";
        let syn = language(Path::new("a.py")).unwrap().1;
        assert_eq!(
            count_lines(py, syn),
            Lines {
                code: 3,
                comment: 2,
                blank: 2
            }
        );
    }
}
