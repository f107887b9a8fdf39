//! `codex-audit`: an offline, deterministic audit of a repository treated as untrusted input.
//!
//! - [`inventory`]: every file (`.gitignore` honoured, tool directories
//!   skipped, symlinks never followed) with size, language, code/comment/blank
//!   lines, a binary flag, SHA-256 up to a size limit and optional BLAKE3;
//! - [`readme`]: title, outline, first paragraph, commands, missing links, TODOs;
//! - [`placeholders`]: TODO/FIXME/XXX/HACK, `NotImplementedError`, `todo!()`,
//!   `unimplemented!()`, stub `pass`, with comment/string/code context;
//! - [`repomap`]: top-level folders, key files, entry points;
//! - [`run_audit`] (or [`run_audit_with_progress`]) and [`write_reports`]: `audit.json`, `audit.md` and
//!   `repo_map.md`, byte-identical across runs and thread counts (sorted,
//!   one timestamp field fixed by the caller);
//! - [`run_job`]: the whole `codex audit` job — audit a tree, write the
//!   reports and `errors.ndjson` into an output directory, apply `--fail-on`
//!   rules ([`FailOn`]) — for the CLI and for Rust callers alike.
//!
//! The audited tree is untrusted input: nothing in it is executed, no link in
//! it is followed, nothing but regular files is opened, every read is capped,
//! every walk over a parse tree is iterative, and nothing the audit writes
//! goes through a link inside the tree. Names taken from it are escaped
//! before they enter Markdown.
//!
//! May depend on `codex-core` and parsing libraries; never on a tensor backend.
//! [`complexity`] reads Python and Rust from their tokens and parses
//! JavaScript/TypeScript and Go with tree-sitter. No cargo features.
//!
//! ```
//! let dir = tempfile::tempdir()?;
//! std::fs::write(dir.path().join("main.py"), "def f(x):\n    return x if x else 0\n")?;
//! let audit = codex_audit::run_audit(
//!     dir.path(),
//!     &codex_audit::InventoryOptions::default(),
//!     "2026-01-01T00:00:00Z".into(),
//! );
//! assert_eq!(audit.functions[0].complexity, 2);
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! The workspace's `audit_repo` example runs the whole job with reports.

mod cache;
pub mod complexity;
mod error;
pub mod inventory;
mod job;
mod markdown;
pub mod placeholders;
pub mod readme;
pub mod repomap;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

pub use cache::CacheStats;
pub use error::AuditError;
pub use inventory::{FileEntry, InventoryOptions, Lines, Skipped, StepError, Walked};
pub use job::{
    AuditOutcome, AuditRequest, CheckFailure, FailOn, ReportFormat, generated_at, run_job,
};
pub use placeholders::{Context, Placeholder};
pub use readme::ReadmeSummary;
pub use repomap::{EntryPoint, RepoMap};

/// Schema version of `audit.json`.
pub const SCHEMA_VERSION: u32 = 2;

/// Totals per language.
#[derive(Debug, Clone, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct LanguageTotals {
    /// Files.
    pub files: u64,
    /// Lines.
    pub lines: Lines,
}

/// Everything an audit found.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Audit {
    /// `audit.json` schema version.
    pub schema_version: u32,
    /// The one time field: `--timestamp`, `SOURCE_DATE_EPOCH`, or now.
    pub generated_at: String,
    /// codex version.
    pub codex_version: String,
    /// Files, sorted by path.
    pub files: Vec<FileEntry>,
    /// Entries not audited: symbolic links and special files (never followed
    /// or opened) and tool directories, sorted by path.
    pub skipped: Vec<Skipped>,
    /// Totals per language, by name.
    pub languages: BTreeMap<String, LanguageTotals>,
    /// The README summary, if there is a README.
    pub readme: Option<ReadmeSummary>,
    /// Placeholders, by path and line.
    pub placeholders: Vec<Placeholder>,
    /// Functions with their complexity, by path and line.
    pub functions: Vec<complexity::FunctionInfo>,
    /// Functions whose complexity exceeds `hot_spot_threshold`, most complex first.
    pub hot_spots: Vec<complexity::FunctionInfo>,
    /// The threshold of `hot_spots`.
    pub hot_spot_threshold: u32,
    /// Source files too large to parse for complexity (usually generated code).
    pub skipped_complexity: Vec<String>,
    /// The repo map.
    pub repo_map: RepoMap,
    /// Steps that failed, by path.
    pub errors: Vec<StepError>,
}

/// JSON Schema of `audit.json` (committed as `docs/audit.schema.json`).
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Audit)).expect("schema serializes")
}

/// Runs its closure when dropped: counts a file however its description ends.
struct Defer<'a>(&'a (dyn Fn() + Sync));

impl Drop for Defer<'_> {
    fn drop(&mut self) {
        (self.0)();
    }
}

/// Complexity above which a function is a hot spot.
pub const HOT_SPOT_THRESHOLD: u32 = 10;

/// Audits the repository at `root`.
pub fn run_audit(root: &Path, options: &InventoryOptions, generated_at: String) -> Audit {
    run_audit_with_progress(root, options, generated_at, &|_, _| {})
}

/// [`run_audit`], calling `on_file(done, total)` from the worker threads as
/// each file is described (for a progress bar; the order of calls is not).
pub fn run_audit_with_progress(
    root: &Path,
    options: &InventoryOptions,
    generated_at: String,
    on_file: &(dyn Fn(usize, usize) + Sync),
) -> Audit {
    run_audit_counted(root, options, generated_at, on_file).0
}

/// [`run_audit_with_progress`], with what the cache (`options.cache`) answered.
pub fn run_audit_counted(
    root: &Path,
    options: &InventoryOptions,
    generated_at: String,
    on_file: &(dyn Fn(usize, usize) + Sync),
) -> (Audit, Option<CacheStats>) {
    let started_ns = cache::now_ns();
    let cache = options.cache.as_deref().map(cache::Cache::new);
    // The index loads while the tree is walked.
    let (walked, index) = std::thread::scope(|s| {
        let index = s.spawn(|| {
            cache
                .as_ref()
                .map(|c| c.load_index(root, options))
                .unwrap_or_default()
        });
        let walked = inventory::walk(root);
        (
            walked,
            index.join().expect("loading the index does not panic"),
        )
    });
    let Walked {
        files: paths,
        skipped,
        mut errors,
    } = walked;
    // The cache directory, when it lies inside the tree, is not part of it.
    let paths: Vec<PathBuf> = match options.cache.as_deref().and_then(|c| {
        let (c, r) = (
            std::path::absolute(c).ok()?,
            std::path::absolute(root).ok()?,
        );
        c.strip_prefix(&r).ok().map(Path::to_path_buf)
    }) {
        Some(inside) => {
            let inside = root.join(inside);
            paths
                .into_iter()
                .filter(|p| !p.starts_with(&inside))
                .collect()
        }
        None => paths,
    };
    let total = paths.len();
    let done = std::sync::atomic::AtomicUsize::new(0);
    let tick = || {
        let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        on_file(n, total);
    };
    use rayon::prelude::*;
    type PerFile = (cache::Results, cache::NewRow);
    // One read per file at most: entry, placeholders and functions from the
    // same text; none when the cache's index says the file is unchanged.
    let described: Vec<Result<PerFile, StepError>> = paths
        .par_iter()
        .map(|path| {
            let _tick = Defer(&tick);
            let Some(c) = &cache else {
                return describe_and_analyze(root, path, options, None)
                    .map(|(r, _)| (r, cache::NewRow::None));
            };
            // Looked at before the file is read: an edit while it is read
            // leaves a stat that will not match next time.
            let stat = cache::Stat::of(path);
            let rel = inventory::relative(root, path);
            if let Some(results) = c.unchanged(&index, &rel, stat) {
                return Ok((results, cache::NewRow::Unchanged));
            }
            let (results, key) =
                describe_and_analyze(root, path, options, Some((c, &index, &rel)))?;
            let row = cache::Row::new(stat, key, &results);
            Ok((results, cache::NewRow::Row(Box::new(row))))
        })
        .collect();
    let mut files = Vec::with_capacity(described.len());
    let mut found = Vec::new();
    let mut functions = Vec::new();
    let mut skipped_complexity = Vec::new();
    let mut rows = Vec::new();
    for r in described {
        match r {
            Ok(((entry, p, parsed, too_large), row)) => {
                if cache.is_some() {
                    rows.push((entry.path.clone(), row));
                }
                found.extend(p);
                match parsed {
                    complexity::Parsed::Functions(f) => functions.extend(f),
                    complexity::Parsed::Unsupported => {}
                    complexity::Parsed::Failed(reason) => {
                        errors.push(StepError {
                            step: "complexity".into(),
                            error: reason,
                            context: entry.path.clone(),
                        });
                    }
                }
                if too_large
                    && matches!(
                        entry.language,
                        Some("Python" | "Rust" | "JavaScript" | "TypeScript" | "Go")
                    )
                {
                    skipped_complexity.push(entry.path.clone());
                }
                files.push(entry);
            }
            Err(e) => errors.push(e),
        }
    }
    let mut languages: BTreeMap<String, LanguageTotals> = BTreeMap::new();
    for f in &files {
        if let Some(l) = f.language {
            let t = languages.entry(l.to_owned()).or_default();
            t.files += 1;
            if let Some(n) = f.lines {
                t.lines.code += n.code;
                t.lines.comment += n.comment;
                t.lines.blank += n.blank;
            }
        }
    }
    let mut hot_spots: Vec<complexity::FunctionInfo> = functions
        .iter()
        .filter(|f| f.complexity > HOT_SPOT_THRESHOLD)
        .cloned()
        .collect();
    hot_spots.sort_by(|a, b| {
        b.complexity
            .cmp(&a.complexity)
            .then_with(|| (&a.path, a.line_start).cmp(&(&b.path, b.line_start)))
    });
    let readme = readme::summarize(root).unwrap_or_else(|e| {
        errors.push(e);
        None
    });
    if let Some(c) = &cache {
        c.store_index(root, options, index, started_ns, rows);
    }
    let (repo_map, map_errors) = repomap::repo_map(root, &files);
    errors.extend(map_errors);
    errors.sort_by(|a, b| (&a.context, &a.step).cmp(&(&b.context, &b.step)));
    let audit = Audit {
        schema_version: SCHEMA_VERSION,
        generated_at,
        codex_version: env!("CARGO_PKG_VERSION").to_owned(),
        readme,
        placeholders: found,
        functions,
        hot_spots,
        hot_spot_threshold: HOT_SPOT_THRESHOLD,
        skipped_complexity,
        languages,
        repo_map,
        files,
        skipped,
        errors,
    };
    (audit, cache.map(|c| c.stats()))
}

/// Reads and describes one file and analyzes its text: its placeholders and
/// functions, or, when `cache` holds a row for the same path and content,
/// that row's. Returns the content key too when the text was analyzed.
fn describe_and_analyze(
    root: &Path,
    path: &Path,
    options: &InventoryOptions,
    cache: Option<(&cache::Cache, &cache::Index, &str)>,
) -> Result<(cache::Results, Option<String>), StepError> {
    let (entry, text) = inventory::describe(root, path, options)?;
    let Some(text) = text.filter(|_| entry.language.is_some()) else {
        return Ok((
            (entry, Vec::new(), complexity::Parsed::Unsupported, false),
            None,
        ));
    };
    let too_large = entry.size > options.max_parse_bytes;
    let key = cache.map(|_| cache::content_key(&entry, &text));
    if let (Some((c, index, rel)), Some(k)) = (cache, &key)
        && let Some((found, parsed)) = c.same_content(index, rel, k)
    {
        return Ok(((entry, found, parsed, too_large), key));
    }
    let found = placeholders::scan(&entry.path, &text, entry.language);
    let parsed = if too_large {
        complexity::Parsed::Unsupported
    } else {
        complexity::analyze(&entry.path, entry.language, &text)
    };
    Ok(((entry, found, parsed, too_large), key))
}

/// `audit.md`: readable tables. Every name from the tree (paths, functions,
/// README text, error messages) is escaped (`markdown::cell`), so a file
/// name cannot add headings, links or HTML.
pub fn audit_markdown(a: &Audit) -> String {
    use markdown::cell as c;
    let mut md = format!(
        "# Repository audit\n\nGenerated {} by codex {}.\n\n## Languages\n\n| language | files | code | comment | blank |\n|---|---|---|---|---|\n",
        c(&a.generated_at),
        a.codex_version
    );
    for (l, t) in &a.languages {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} |",
            c(l),
            t.files,
            t.lines.code,
            t.lines.comment,
            t.lines.blank
        );
    }
    let _ = writeln!(
        md,
        "\n{} files, {} bytes.\n",
        a.files.len(),
        a.files.iter().map(|f| f.size).sum::<u64>()
    );
    if let Some(r) = &a.readme {
        let list = |v: &[String]| {
            if v.is_empty() {
                "none".to_owned()
            } else {
                v.iter().map(|s| c(s)).collect::<Vec<_>>().join(", ")
            }
        };
        let _ = writeln!(
            md,
            "## README ({})\n\n- title: {}\n- sections: {}\n- commands: {}\n- missing links: {}\n- links outside the repository (not checked): {}\n",
            c(&r.path),
            r.title.as_deref().map_or_else(|| "(none)".to_owned(), c),
            r.outline.len(),
            r.commands.len(),
            list(&r.missing_links),
            list(&r.outside_links),
        );
    }
    let _ = writeln!(
        md,
        "## Placeholders ({})\n\n| file | line | kind | context |\n|---|---|---|---|",
        a.placeholders.len()
    );
    for p in &a.placeholders {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {:?} |",
            c(&p.path),
            p.line,
            c(&p.kind),
            p.context
        );
    }
    let _ = writeln!(
        md,
        "\n## Complexity\n\n{} functions analyzed; {} above {}.\n\n| file | function | lines | complexity | nesting | parameters |\n|---|---|---|---|---|---|",
        a.functions.len(),
        a.hot_spots.len(),
        a.hot_spot_threshold
    );
    for f in &a.hot_spots {
        let _ = writeln!(
            md,
            "| {} | {} | {}-{} | {} | {} | {} |",
            c(&f.path),
            c(&f.name),
            f.line_start,
            f.line_end,
            f.complexity,
            f.nesting,
            f.parameters
        );
    }
    if !a.skipped.is_empty() {
        let _ = writeln!(
            md,
            "\n## Not audited ({})\n\n| path | reason |\n|---|---|",
            a.skipped.len()
        );
        for s in &a.skipped {
            let _ = writeln!(md, "| {} | {} |", c(&s.path), c(&s.reason));
        }
    }
    if !a.errors.is_empty() {
        let _ = writeln!(
            md,
            "\n## Steps that failed\n\n| step | context | error |\n|---|---|---|"
        );
        for e in &a.errors {
            let _ = writeln!(
                md,
                "| {} | {} | {} |",
                c(&e.step),
                c(&e.context),
                c(&e.error)
            );
        }
    }
    md
}

/// `repo_map.md`; names from manifests are escaped like `audit.md`'s.
pub fn repo_map_markdown(m: &RepoMap) -> String {
    use markdown::cell as c;
    let mut md = String::from("# Repository map\n\n| folder | files |\n|---|---|\n");
    for (f, n) in &m.folders {
        let _ = writeln!(md, "| {} | {n} |", c(f));
    }
    let _ = writeln!(md, "\n## Key files\n");
    if m.key_files.is_empty() {
        let _ = writeln!(md, "None of the usual build, test or release files.");
    }
    for k in &m.key_files {
        let _ = writeln!(md, "- {}", c(k));
    }
    let _ = writeln!(md, "\n## Entry points\n");
    if m.entry_points.is_empty() {
        let _ = writeln!(
            md,
            "None declared (no Cargo `[[bin]]` or `src/main.rs`, no pyproject scripts)."
        );
        return md;
    }
    let _ = writeln!(md, "| name | declared in | target |\n|---|---|---|");
    for e in &m.entry_points {
        let _ = writeln!(
            md,
            "| {} | {} | {} |",
            c(&e.name),
            c(&e.declared_in),
            c(&e.target)
        );
    }
    md
}

/// Writes the reports named in `formats` (`json`, `md`) into `out`, atomically;
/// `repo_map.md` comes with `md`.
pub fn write_reports(
    a: &Audit,
    out: &Path,
    formats: &[ReportFormat],
) -> Result<Vec<PathBuf>, codex_core::Error> {
    std::fs::create_dir_all(out).map_err(|e| codex_core::Error::io("cannot create", out, e))?;
    let mut written = Vec::new();
    if formats.contains(&ReportFormat::Json) {
        let p = out.join("audit.json");
        // Streamed through the atomic file's buffer: no whole-report string.
        codex_core::write_atomic(&p, |f| {
            use std::io::Write as _;
            serde_json::to_writer_pretty(&mut *f, a)
                .map_err(std::io::Error::from)
                .and_then(|()| f.write_all(b"\n"))
                .map_err(|e| codex_core::Error::io("cannot write", &p, e))
        })?;
        written.push(p);
    }
    if formats.contains(&ReportFormat::Md) {
        for (name, text) in [
            ("audit.md", audit_markdown(a)),
            ("repo_map.md", repo_map_markdown(&a.repo_map)),
        ] {
            let p = out.join(name);
            codex_core::write_bytes_atomic(&p, text.as_bytes())?;
            written.push(p);
        }
    }
    Ok(written)
}
