//! Scanning files and directories: binary files skipped and listed, invalid
//! UTF-8 scanned with every invalid byte replaced by one NUL (so byte offsets
//! stay those of the file), large files read in overlapping windows so memory
//! stays bounded, findings located by byte offset, line and column.

use std::fmt::Write as _;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use crate::engine::Scanner;
use crate::policy::{Action, Category, Level};

/// Bytes scanned per window.
const WINDOW: usize = 8 << 20;
/// Bytes shared by consecutive windows: longer than any rule's match.
const OVERLAP: usize = 64 << 10;
/// Directories never descended into.
const SKIP_DIRS: [&str; 7] = [
    ".git",
    "target",
    "node_modules",
    ".venv",
    "venv",
    "__pycache__",
    ".mypy_cache",
];

/// One finding in a file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileFinding {
    /// The file.
    pub path: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column in characters.
    pub column: usize,
    /// Byte offset of the match in the file.
    pub offset: usize,
    /// Length in bytes.
    pub length: usize,
    /// Rule id.
    pub rule_id: String,
    /// Kind.
    pub kind: String,
    /// Category.
    pub category: Category,
    /// The rule's action.
    pub action: Action,
    /// Severity.
    pub severity: Level,
    /// BLAKE3 of the matched bytes (the match itself is never reported).
    pub match_hash: String,
}

/// The result of scanning paths.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ScanReport {
    /// Findings, by path then offset.
    pub findings: Vec<FileFinding>,
    /// Files scanned.
    pub files: usize,
    /// Bytes scanned.
    pub bytes: u64,
    /// Files skipped because they look binary.
    pub skipped_binary: Vec<String>,
    /// Files skipped because the policy's allowlist names them.
    pub skipped_allowed: Vec<String>,
    /// Files that could not be read, with the reason.
    pub errors: Vec<(String, String)>,
}

impl ScanReport {
    /// The highest severity found.
    pub fn max_severity(&self) -> Option<Level> {
        self.findings.iter().map(|f| f.severity).max()
    }
}

/// Every regular file under `paths` (directories recursively, symlinks not
/// followed, tool directories skipped), sorted, each with its path relative
/// to the root it was found under (a file given directly: its name), which is
/// what allowlisted path globs are matched against.
fn collect(paths: &[PathBuf], report: &mut ScanReport) -> Vec<(PathBuf, PathBuf)> {
    let mut files = Vec::new();
    for root in paths {
        let mut stack: Vec<PathBuf> = vec![root.clone()];
        while let Some(p) = stack.pop() {
            match std::fs::symlink_metadata(&p) {
                Ok(m) if m.is_dir() => match std::fs::read_dir(&p) {
                    Ok(entries) => {
                        for e in entries.flatten() {
                            let name = e.file_name();
                            if SKIP_DIRS.iter().any(|s| name == *s) {
                                continue;
                            }
                            stack.push(e.path());
                        }
                    }
                    Err(e) => report.errors.push((p.display().to_string(), e.to_string())),
                },
                Ok(m) if m.is_file() => {
                    let rel = match p.strip_prefix(root) {
                        Ok(r) if !r.as_os_str().is_empty() => r.to_owned(),
                        _ => p.file_name().map_or_else(|| p.clone(), PathBuf::from),
                    };
                    files.push((p, rel));
                }
                Ok(_) => {}
                Err(e) => report.errors.push((p.display().to_string(), e.to_string())),
            }
        }
    }
    files.sort();
    files
}

/// Replaces every byte of an invalid UTF-8 sequence with a NUL.
fn sanitize(mut bytes: Vec<u8>) -> String {
    let mut at = 0;
    loop {
        match std::str::from_utf8(&bytes[at..]) {
            Ok(_) => break,
            Err(e) => {
                let bad = at + e.valid_up_to();
                let len = e.error_len().unwrap_or(bytes.len() - bad);
                for b in &mut bytes[bad..bad + len] {
                    *b = 0;
                }
                at = bad + len;
            }
        }
    }
    String::from_utf8(bytes).expect("every invalid byte was replaced")
}

/// A file's findings and size, `None` for a binary file.
type FileResult = std::io::Result<Option<(Vec<FileFinding>, u64)>>;

/// Scans one file in overlapping windows.
fn scan_file(scanner: &Scanner, path: &Path) -> FileResult {
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len() as usize;
    let mut head = vec![0u8; len.min(8192)];
    file.read_exact(&mut head)?;
    if head.contains(&0) {
        return Ok(None);
    }
    let shown = path.display().to_string();
    let mut findings = Vec::new();
    let mut start = 0usize;
    let mut lines_before = 0usize;
    loop {
        let end = (start + WINDOW + OVERLAP).min(len);
        let own_end = if end == len { len } else { start + WINDOW };
        file.seek(SeekFrom::Start(start as u64))?;
        let mut buf = vec![0u8; end - start];
        file.read_exact(&mut buf)?;
        let text = sanitize(buf);
        let newlines: Vec<usize> = memchr::memchr_iter(b'\n', text.as_bytes()).collect();
        // Columns are counted from the previous finding on the same line, so a
        // long line with many findings is walked once.
        let mut cursor: Option<(usize, usize, usize)> = None; // (line index, byte, column)
        for m in scanner.scan(&text, None) {
            if start + m.span.start >= own_end {
                continue;
            }
            let k = newlines.partition_point(|&p| p < m.span.start);
            let line_start = if k == 0 { 0 } else { newlines[k - 1] + 1 };
            let (from, col) = match cursor {
                Some((line, byte, col)) if line == k && byte <= m.span.start => (byte, col),
                _ => (line_start, 1),
            };
            let column = col + text[from..m.span.start].chars().count();
            cursor = Some((k, m.span.start, column));
            let f = m.finding(&text);
            findings.push(FileFinding {
                path: shown.clone(),
                line: lines_before + k + 1,
                column,
                offset: start + m.span.start,
                length: m.span.len(),
                rule_id: m.rule_id,
                kind: m.kind,
                category: m.category,
                action: m.action,
                severity: m.level,
                match_hash: f.match_hash,
            });
        }
        if end == len {
            break;
        }
        lines_before += newlines.partition_point(|&p| p < own_end - start);
        start = own_end;
    }
    Ok(Some((findings, len as u64)))
}

/// Scans files and directories in parallel.
pub fn scan_paths(scanner: &Scanner, paths: &[PathBuf]) -> ScanReport {
    let mut report = ScanReport::default();
    let files = collect(paths, &mut report);
    let (allowed, files): (Vec<_>, Vec<_>) = files
        .into_iter()
        .partition(|(_, rel)| scanner.policy().path_allowed(rel));
    report.skipped_allowed = allowed
        .iter()
        .map(|(p, _)| p.display().to_string())
        .collect();
    let files: Vec<PathBuf> = files.into_iter().map(|(p, _)| p).collect();
    let results: Vec<(PathBuf, FileResult)> = files
        .into_par_iter()
        .map(|p| {
            let r = scan_file(scanner, &p);
            (p, r)
        })
        .collect();
    for (p, r) in results {
        match r {
            Ok(Some((found, bytes))) => {
                report.files += 1;
                report.bytes += bytes;
                report.findings.extend(found);
            }
            Ok(None) => report.skipped_binary.push(p.display().to_string()),
            Err(e) => report.errors.push((p.display().to_string(), e.to_string())),
        }
    }
    report
}

/// A readable table.
pub fn table(report: &ScanReport) -> String {
    let mut out = String::new();
    for f in &report.findings {
        let _ = writeln!(
            out,
            "{}:{}:{}  {:<8}  {:<6}  {}  ({})",
            f.path, f.line, f.column, f.severity, f.action, f.rule_id, f.kind
        );
    }
    let _ = write!(
        out,
        "{} findings in {} files ({} bytes); {} binary files skipped",
        report.findings.len(),
        report.files,
        report.bytes,
        report.skipped_binary.len()
    );
    for b in &report.skipped_binary {
        let _ = write!(out, "\n  skipped (binary): {b}");
    }
    for (p, e) in &report.errors {
        let _ = write!(out, "\n  error: {p}: {e}");
    }
    out
}

/// SARIF 2.1.0 for code-scanning tools.
pub fn sarif(report: &ScanReport, scanner: &Scanner) -> serde_json::Value {
    let rules: Vec<serde_json::Value> = scanner
        .policy()
        .rules
        .iter()
        .filter(|r| r.spec.action != Action::Allow)
        .map(|r| {
            serde_json::json!({
                "id": r.spec.id,
                "name": r.kind,
                "shortDescription": { "text": format!("{} ({})", r.kind, r.spec.category) },
                "defaultConfiguration": { "level": r.spec.severity.sarif() },
            })
        })
        .chain(scanner.policy().injection.iter().map(|i| {
            serde_json::json!({
                "id": i.id,
                "name": i.kind.clone().unwrap_or_else(|| i.id.clone()),
                "shortDescription": { "text": "prompt injection phrase" },
                "defaultConfiguration": { "level": i.severity.sarif() },
            })
        }))
        .collect();
    let results: Vec<serde_json::Value> = report
        .findings
        .iter()
        .map(|f| {
            serde_json::json!({
                "ruleId": f.rule_id,
                "level": f.severity.sarif(),
                "message": { "text": format!("{} found ({}); action: {}", f.kind, f.category, f.action) },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": { "uri": f.path },
                        "region": {
                            "startLine": f.line,
                            "startColumn": f.column,
                            "byteOffset": f.offset,
                            "byteLength": f.length,
                        }
                    }
                }],
                "partialFingerprints": { "matchHash/v1": f.match_hash },
            })
        })
        .collect();
    serde_json::json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "codex-safety",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }]
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Policy;

    #[test]
    fn invalid_utf8_keeps_byte_offsets_and_binary_files_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = b"caf\xe9 \xff\xfe line\n".to_vec();
        let at = bytes.len() + 5;
        bytes.extend_from_slice(b"key: jane@corp.io\n");
        std::fs::write(dir.path().join("a.txt"), &bytes).unwrap();
        std::fs::write(dir.path().join("b.bin"), b"\x00\x01jane@corp.io").unwrap();
        let scanner = Scanner::new(Policy::default_policy());
        let r = scan_paths(&scanner, &[dir.path().to_owned()]);
        assert_eq!(r.findings.len(), 1, "{r:?}");
        let f = &r.findings[0];
        assert_eq!((f.offset, f.length, f.line, f.column), (at, 12, 2, 6));
        assert_eq!(&bytes[f.offset..f.offset + f.length], b"jane@corp.io");
        assert_eq!(r.skipped_binary.len(), 1);
    }
}
