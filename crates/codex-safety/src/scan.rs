//! Scanning files and directories: nothing the user named is skipped without
//! being listed. Paths named on the command line are followed; inside them no
//! link is followed and no FIFO or device is opened (both listed as skipped),
//! tool directories are skipped and listed, text is recognised as UTF-8 (with
//! a stray NUL or invalid byte here and there) or UTF-16 (by its byte order
//! mark or its pattern of zero bytes), and only files that are mostly control
//! bytes count as binary (listed). Invalid UTF-8 is scanned with every invalid
//! byte replaced by one NUL, so byte offsets stay the file's. Large files are
//! read in windows: each window owns a range of the file and also reads
//! [`OVERLAP`] bytes before and after it, so a rule sees the keyword before a
//! value that starts exactly at a window boundary, and a match that runs past
//! the owned range is still seen whole; a match is reported by the window that
//! owns its first byte.

use std::fmt::Write as _;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use codex_core::untrusted::EntryKind;
use rayon::prelude::*;
use serde::Serialize;

use crate::engine::Scanner;
use crate::policy::{Action, Category, Level};

/// Bytes each window owns, by default.
pub const WINDOW: usize = 8 << 20;
/// Bytes each window also reads before and after the range it owns, by
/// default: longer than any rule's match plus its keyword context (the
/// multi-line search radius is 64 KiB).
pub const OVERLAP: usize = 128 << 10;
/// Files larger than this are skipped (and listed) unless the caller raises it.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 1 << 30;
/// UTF-16 files are transcoded whole, so they are held to a smaller limit.
const MAX_UTF16_BYTES: u64 = 256 << 20;
/// Bytes looked at to tell text from binary.
const SNIFF: usize = 8192;

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

/// Something the scan was asked to look at and did not, and why.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Skipped {
    /// The path.
    pub path: String,
    /// `binary`, `allowlisted`, `symbolic link`, `special file`, `tool directory` or `too large`.
    pub reason: String,
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
    /// What was not scanned, by path.
    pub skipped: Vec<Skipped>,
    /// Files and directories that could not be read, with the reason.
    pub errors: Vec<(String, String)>,
    /// Matches the policy saw and let through (stopwords such as
    /// `@example.com`, documentation examples such as
    /// `AKIAIOSFODNN7EXAMPLE`, allowlists, `codex:allow`); not findings.
    pub allowlisted: usize,
}

impl ScanReport {
    /// The highest severity found.
    pub fn max_severity(&self) -> Option<Level> {
        self.findings.iter().map(|f| f.severity).max()
    }

    /// What was skipped for `reason`.
    pub fn skipped_for<'a>(&'a self, reason: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.skipped
            .iter()
            .filter(move |s| s.reason == reason)
            .map(|s| s.path.as_str())
    }

    /// Why the scan fails a `--fail-on threshold` check: findings at or
    /// above the threshold, and inputs that could not be read (they may hold
    /// anything); `None` when it passes.
    pub fn failure(&self, threshold: Level) -> Option<String> {
        let reached = self
            .findings
            .iter()
            .filter(|f| f.severity >= threshold)
            .count();
        let mut parts = Vec::new();
        if reached > 0 {
            parts.push(format!(
                "{reached} findings at severity {threshold} or above"
            ));
        }
        if !self.errors.is_empty() {
            parts.push(format!("{} inputs could not be read", self.errors.len()));
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }

    fn skip(&mut self, path: &Path, reason: &str) {
        self.skipped.push(Skipped {
            path: path.display().to_string(),
            reason: reason.into(),
        });
    }
}

/// Settings of a scan.
#[derive(Debug, Clone, Copy)]
pub struct ScanOptions {
    /// Files larger than this are skipped and listed.
    pub max_file_bytes: u64,
    /// Bytes each window of a large file owns ([`WINDOW`]).
    pub window_bytes: usize,
    /// Bytes read on both sides of a window ([`OVERLAP`]); must exceed the
    /// longest match plus the distance from its keyword.
    pub overlap_bytes: usize,
}

impl Default for ScanOptions {
    fn default() -> Self {
        Self {
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
            window_bytes: WINDOW,
            overlap_bytes: OVERLAP,
        }
    }
}

/// A file to scan: its path, its path relative to the root it was found
/// under (what allowlisted path globs match), and whether the user named it.
struct Target {
    path: PathBuf,
    rel: PathBuf,
    named: bool,
}

/// Every regular file under `paths`, sorted. A path named here is followed
/// even if it is a link (the user chose it); inside a directory, links and
/// special files are listed as skipped, never followed or opened, and tool
/// directories are listed as skipped.
fn collect(paths: &[PathBuf], report: &mut ScanReport) -> Vec<Target> {
    let mut files = Vec::new();
    for root in paths {
        let kind = match std::fs::metadata(root) {
            Ok(m) => EntryKind::of(m.file_type()),
            Err(e) => {
                report
                    .errors
                    .push((root.display().to_string(), e.to_string()));
                continue;
            }
        };
        match kind {
            EntryKind::File => {
                let rel = root.file_name().map_or_else(|| root.clone(), PathBuf::from);
                files.push(Target {
                    path: root.clone(),
                    rel,
                    named: true,
                });
                continue;
            }
            EntryKind::Dir => {}
            EntryKind::Symlink | EntryKind::Special => {
                report.skip(root, kind.noun());
                continue;
            }
        }
        let walked = codex_core::untrusted::walk(
            root,
            codex_core::untrusted::WalkOptions {
                follow_links: false,
                skip_hidden: false,
                skip_tool_dirs: true,
            },
        );
        for (path, e) in walked.errors {
            report
                .errors
                .push((path.display().to_string(), e.to_string()));
        }
        for (path, reason) in walked.skipped {
            report.skip(&path, reason);
        }
        for path in walked.files {
            let rel = path.strip_prefix(root).unwrap_or(&path).to_owned();
            files.push(Target {
                path,
                rel,
                named: false,
            });
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files
}

/// How a file's bytes are to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Utf8,
    Utf16 { big_endian: bool, bom: bool },
    Binary,
}

/// Tells text from binary by the first bytes: a UTF-16 byte order mark, or
/// zero bytes at every other position with few elsewhere, is UTF-16; more
/// than one byte in ten being a control byte other than whitespace and
/// escape is binary; anything else is (possibly damaged) UTF-8.
fn sniff(head: &[u8]) -> Encoding {
    match head {
        [0xff, 0xfe, ..] => {
            return Encoding::Utf16 {
                big_endian: false,
                bom: true,
            };
        }
        [0xfe, 0xff, ..] => {
            return Encoding::Utf16 {
                big_endian: true,
                bom: true,
            };
        }
        _ => {}
    }
    let pairs = head.len() / 2;
    if pairs >= 2 {
        let zero_at = |parity: usize| {
            head.chunks_exact(2)
                .filter(|pair| pair[parity] == 0)
                .count()
        };
        let (even, odd) = (zero_at(0), zero_at(1));
        if odd * 10 >= pairs * 4 && even * 20 <= pairs {
            return Encoding::Utf16 {
                big_endian: false,
                bom: false,
            };
        }
        if even * 10 >= pairs * 4 && odd * 20 <= pairs {
            return Encoding::Utf16 {
                big_endian: true,
                bom: false,
            };
        }
    }
    let control = head
        .iter()
        .filter(|&&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0c | 0x0b | 0x1b))
        .count();
    if control * 10 > head.len() {
        Encoding::Binary
    } else {
        Encoding::Utf8
    }
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

/// A file's findings, and how many matches the policy allowlisted.
#[derive(Default)]
struct Found {
    findings: Vec<FileFinding>,
    allowlisted: usize,
}

/// What scanning one file gave.
enum Scanned {
    /// Findings and bytes scanned.
    Text(Found, u64),
    /// Not scanned, for this reason.
    Skipped(&'static str),
}

/// The file's findings: `text`'s matches that start in `own` (offsets within
/// `text`), placed in the file by `locate`, which maps an offset of `text`
/// to the file's byte offset. `lines_before` is the number of line breaks in
/// the file before `text` starts.
struct Window<'a> {
    text: &'a str,
    own: std::ops::Range<usize>,
    lines_before: usize,
}

fn findings_in(
    scanner: &Scanner,
    shown: &str,
    w: &Window<'_>,
    locate: &dyn Fn(usize) -> usize,
    found: &mut Found,
) {
    let text = w.text;
    let newlines: Vec<usize> = memchr::memchr_iter(b'\n', text.as_bytes()).collect();
    // Columns are counted from the previous finding on the same line, so a
    // long line with many findings is walked once.
    let mut cursor: Option<(usize, usize, usize)> = None; // (line index, byte, column)
    let scanned = scanner.scan_all(text, None);
    found.allowlisted += scanned
        .allowlisted
        .iter()
        .filter(|m| w.own.contains(&m.span.start))
        .count();
    let out = &mut found.findings;
    for m in scanned.findings {
        if !w.own.contains(&m.span.start) {
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
        let f = m.finding(text);
        let offset = locate(m.span.start);
        out.push(FileFinding {
            path: shown.to_owned(),
            line: w.lines_before + k + 1,
            column,
            offset,
            length: locate(m.span.end) - offset,
            rule_id: m.rule_id,
            kind: m.kind,
            category: m.category,
            action: m.action,
            severity: m.level,
            match_hash: f.match_hash,
        });
    }
}

/// Scans a UTF-8 file (damaged or not) in windows that own
/// `options.window_bytes` each and read `options.overlap_bytes` more on both sides.
fn scan_utf8(
    scanner: &Scanner,
    file: &mut std::fs::File,
    len: usize,
    shown: &str,
    options: ScanOptions,
) -> std::io::Result<Found> {
    let (window_bytes, overlap) = (options.window_bytes.max(1), options.overlap_bytes);
    let mut findings = Found::default();
    let mut own_start = 0usize;
    // Line breaks in the file before `own_start`.
    let mut lines_to_own = 0usize;
    loop {
        let own_end = (own_start + window_bytes).min(len);
        let read_start = own_start.saturating_sub(overlap);
        let read_end = (own_end + overlap).min(len);
        file.seek(SeekFrom::Start(read_start as u64))?;
        let mut buf = vec![0u8; read_end - read_start];
        file.read_exact(&mut buf)?;
        let text = sanitize(buf);
        let lookbehind = own_start - read_start;
        let breaks_before_own = memchr::memchr_iter(b'\n', &text.as_bytes()[..lookbehind]).count();
        let window = Window {
            text: &text,
            own: lookbehind..own_end - read_start,
            lines_before: lines_to_own - breaks_before_own,
        };
        findings_in(scanner, shown, &window, &|o| read_start + o, &mut findings);
        if own_end == len {
            break;
        }
        lines_to_own +=
            memchr::memchr_iter(b'\n', &text.as_bytes()[lookbehind..own_end - read_start]).count();
        own_start = own_end;
    }
    Ok(findings)
}

/// Scans a UTF-16 file transcoded to UTF-8, with offsets mapped back to the
/// file's bytes (unpaired surrogates become U+FFFD, two bytes in the file).
fn scan_utf16(
    scanner: &Scanner,
    file: &mut std::fs::File,
    big_endian: bool,
    bom: bool,
    shown: &str,
) -> std::io::Result<Found> {
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(0))?;
    file.read_to_end(&mut bytes)?;
    let skip = if bom { 2 } else { 0 };
    let units = bytes[skip.min(bytes.len())..].chunks_exact(2).map(|p| {
        if big_endian {
            u16::from_be_bytes([p[0], p[1]])
        } else {
            u16::from_le_bytes([p[0], p[1]])
        }
    });
    // For each char of the text: its UTF-8 start and its file offset.
    let mut text = String::with_capacity(bytes.len() / 2);
    let mut starts: Vec<(usize, usize)> = Vec::with_capacity(bytes.len() / 2);
    let mut at = skip;
    for ch in char::decode_utf16(units) {
        starts.push((text.len(), at));
        let ch = ch.unwrap_or('\u{FFFD}');
        at += if ch == '\u{FFFD}' {
            2
        } else {
            ch.len_utf16() * 2
        };
        text.push(ch);
    }
    starts.push((text.len(), at));
    let locate = |o: usize| {
        let i = starts.partition_point(|&(t, _)| t < o);
        starts.get(i).map_or(at, |&(_, f)| f)
    };
    let mut findings = Found::default();
    let window = Window {
        text: &text,
        own: 0..text.len(),
        lines_before: 0,
    };
    findings_in(scanner, shown, &window, &locate, &mut findings);
    Ok(findings)
}

/// Scans one file. A file found inside a directory is opened without
/// following links and only if it is a regular file.
fn scan_file(scanner: &Scanner, target: &Target, options: ScanOptions) -> std::io::Result<Scanned> {
    let mut file = if target.named {
        std::fs::File::open(&target.path)?
    } else {
        codex_core::untrusted::open_regular(&target.path)?
    };
    let len = file.metadata()?.len();
    if len > options.max_file_bytes {
        return Ok(Scanned::Skipped("too large"));
    }
    let len = len as usize;
    let mut head = Vec::with_capacity(SNIFF);
    (&mut file).take(SNIFF as u64).read_to_end(&mut head)?;
    let shown = target.path.display().to_string();
    let findings = match sniff(&head) {
        Encoding::Binary => return Ok(Scanned::Skipped("binary")),
        Encoding::Utf8 => scan_utf8(scanner, &mut file, len, &shown, options)?,
        Encoding::Utf16 { .. } if len as u64 > MAX_UTF16_BYTES => {
            return Ok(Scanned::Skipped("too large"));
        }
        Encoding::Utf16 { big_endian, bom } => {
            scan_utf16(scanner, &mut file, big_endian, bom, &shown)?
        }
    };
    Ok(Scanned::Text(findings, len as u64))
}

/// Scans files and directories in parallel with the default options.
pub fn scan_paths(scanner: &Scanner, paths: &[PathBuf]) -> ScanReport {
    scan_paths_with(scanner, paths, ScanOptions::default())
}

/// Scans files and directories in parallel.
pub fn scan_paths_with(scanner: &Scanner, paths: &[PathBuf], options: ScanOptions) -> ScanReport {
    let mut report = ScanReport::default();
    let files = collect(paths, &mut report);
    let (allowed, files): (Vec<_>, Vec<_>) = files
        .into_iter()
        .partition(|t| scanner.policy().path_allowed(&t.rel));
    for t in &allowed {
        report.skip(&t.path, "allowlisted");
    }
    let results: Vec<(PathBuf, std::io::Result<Scanned>)> = files
        .into_par_iter()
        .map(|t| {
            let r = scan_file(scanner, &t, options);
            (t.path, r)
        })
        .collect();
    for (p, r) in results {
        match r {
            Ok(Scanned::Text(found, bytes)) => {
                report.files += 1;
                report.bytes += bytes;
                report.findings.extend(found.findings);
                report.allowlisted += found.allowlisted;
            }
            Ok(Scanned::Skipped(reason)) => report.skip(&p, reason),
            Err(e) => report.errors.push((p.display().to_string(), e.to_string())),
        }
    }
    report.skipped.sort();
    report.errors.sort();
    report
}

/// A readable table: findings, then a summary line, then every path skipped
/// and every error.
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
        "{} findings in {} files ({} bytes); {} skipped; {} unreadable",
        report.findings.len(),
        report.files,
        report.bytes,
        report.skipped.len(),
        report.errors.len()
    );
    if report.allowlisted > 0 {
        let _ = write!(
            out,
            "\n{} match{} allowlisted by the policy (documentation examples such as \
             AKIAIOSFODNN7EXAMPLE, @example.com addresses, allowlists, codex:allow): \
             not reported",
            report.allowlisted,
            if report.allowlisted == 1 { "" } else { "es" }
        );
    }
    for s in &report.skipped {
        let _ = write!(out, "\n  skipped ({}): {}", s.reason, s.path);
    }
    for (p, e) in &report.errors {
        let _ = write!(out, "\n  unreadable: {p}: {e}");
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
        std::fs::write(dir.path().join("b.bin"), b"\x00\x01\x02\x03jane@corp.io").unwrap();
        let scanner = Scanner::new(Policy::default_policy());
        let r = scan_paths(&scanner, &[dir.path().to_owned()]);
        assert_eq!(r.findings.len(), 1, "{r:?}");
        let f = &r.findings[0];
        assert_eq!((f.offset, f.length, f.line, f.column), (at, 12, 2, 6));
        assert_eq!(&bytes[f.offset..f.offset + f.length], b"jane@corp.io");
        assert_eq!(r.skipped_for("binary").count(), 1);
    }

    fn scanner() -> Scanner {
        Scanner::new(Policy::default_policy())
    }

    /// An AWS secret key (high entropy, 40 characters).
    const AWS_VALUE: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzq8Hk2Ld4T";

    fn aws_at(dir: &Path, len: usize, value_at: usize) -> PathBuf {
        let prefix = "aws_secret_access_key = ";
        let mut bytes = vec![b'x'; len];
        for i in (99..len).step_by(100) {
            bytes[i] = b'\n';
        }
        let start = value_at - prefix.len();
        bytes[start - 1] = b'\n';
        bytes[start..value_at].copy_from_slice(prefix.as_bytes());
        bytes[value_at..value_at + 40].copy_from_slice(AWS_VALUE.as_bytes());
        bytes[value_at + 40] = b'\n';
        let p = dir.join("big.txt");
        std::fs::write(&p, &bytes).unwrap();
        p
    }

    /// The value starts exactly at the first window's end: window one drops
    /// it (it does not own it), and window two used to start there, without
    /// the keyword before it.
    #[test]
    fn a_secret_starting_at_a_window_boundary_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let p = aws_at(dir.path(), WINDOW + 4096, WINDOW);
        let r = scan_paths(&scanner(), &[p]);
        let aws: Vec<&FileFinding> = r
            .findings
            .iter()
            .filter(|f| f.rule_id == "aws-secret-access-key")
            .collect();
        assert_eq!(aws.len(), 1, "{:?}", r.findings);
        assert_eq!((aws[0].offset, aws[0].length), (WINDOW, 40));
    }

    /// The same secret slid byte by byte across a window boundary (small
    /// windows, so every position is cheap): found once at every position,
    /// with the right offset and line.
    #[test]
    fn a_secret_slid_across_a_boundary_is_found_at_every_byte() {
        let dir = tempfile::tempdir().unwrap();
        let options = ScanOptions {
            window_bytes: 2048,
            overlap_bytes: 512,
            ..ScanOptions::default()
        };
        for value_at in 1900..2100 {
            let p = aws_at(dir.path(), 6000, value_at);
            let bytes = std::fs::read(&p).unwrap();
            let r = scan_paths_with(&scanner(), &[p], options);
            let aws: Vec<&FileFinding> = r
                .findings
                .iter()
                .filter(|f| f.rule_id == "aws-secret-access-key")
                .collect();
            assert_eq!(aws.len(), 1, "value at {value_at}: {:?}", r.findings);
            assert_eq!(aws[0].offset, value_at);
            let line = 1 + bytes[..value_at].iter().filter(|&&b| b == b'\n').count();
            assert_eq!(aws[0].line, line, "value at {value_at}");
        }
    }

    #[test]
    fn private_keys_are_found_whatever_their_size() {
        let dir = tempfile::tempdir().unwrap();
        for body_lines in [4usize, 200, 700] {
            let mut key = String::from("-----BEGIN RSA PRIVATE KEY-----\n");
            for i in 0..body_lines {
                key.push_str(&format!("{:064}\n", i * 7919));
            }
            key.push_str("-----END RSA PRIVATE KEY-----\n");
            let p = dir.path().join("id_rsa");
            std::fs::write(&p, format!("before\n{key}after\n")).unwrap();
            let r = scan_paths(&scanner(), &[p]);
            let keys: Vec<&FileFinding> = r
                .findings
                .iter()
                .filter(|f| f.rule_id == "private-key")
                .collect();
            assert_eq!(keys.len(), 1, "{} bytes: {:?}", key.len(), r.findings);
            assert_eq!((keys[0].offset, keys[0].length), (7, key.len() - 1));
        }
    }

    #[cfg(unix)]
    #[test]
    fn nothing_is_skipped_without_being_listed() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("tree");
        let secret = "contact: jane@corp.io\n";
        // A file named like a tool directory is scanned; a directory of that
        // name is skipped and listed.
        std::fs::create_dir_all(root.join("src/target")).unwrap();
        std::fs::write(root.join("src/target/creds.txt"), secret).unwrap();
        std::fs::write(root.join("src/venv"), secret).unwrap();
        // One NUL in otherwise plain text, and UTF-16 with and without a BOM.
        std::fs::write(root.join("nul.txt"), format!("a\0b\n{secret}")).unwrap();
        let utf16 = |bom: bool| {
            let mut b: Vec<u8> = if bom { vec![0xff, 0xfe] } else { Vec::new() };
            for u in format!("héllo\n{secret}").encode_utf16() {
                b.extend_from_slice(&u.to_le_bytes());
            }
            b
        };
        std::fs::write(root.join("utf16-bom.txt"), utf16(true)).unwrap();
        std::fs::write(root.join("utf16.txt"), utf16(false)).unwrap();
        std::os::unix::fs::symlink(root.join("nul.txt"), root.join("link.txt")).unwrap();
        let status = std::process::Command::new("mkfifo")
            .arg(root.join("pipe"))
            .status()
            .unwrap();
        assert!(status.success());
        // The root itself named through a link is followed.
        let via = dir.path().join("via");
        std::os::unix::fs::symlink(&root, &via).unwrap();
        let r = scan_paths(&scanner(), std::slice::from_ref(&via));
        let found: Vec<(String, usize, usize)> = r
            .findings
            .iter()
            .map(|f| {
                let name = f
                    .path
                    .strip_prefix(via.to_str().unwrap())
                    .unwrap()
                    .to_owned();
                (name, f.offset, f.length)
            })
            .collect();
        assert_eq!(
            found,
            [
                ("/nul.txt".to_owned(), 13, 12),
                ("/src/venv".to_owned(), 9, 12),
                ("/utf16-bom.txt".to_owned(), 2 + 2 * 15, 24),
                ("/utf16.txt".to_owned(), 2 * 15, 24),
            ]
        );
        let skipped: Vec<(String, &str)> = r
            .skipped
            .iter()
            .map(|s| {
                let name = s
                    .path
                    .strip_prefix(via.to_str().unwrap())
                    .unwrap()
                    .to_owned();
                (name, s.reason.as_str())
            })
            .collect();
        assert_eq!(
            skipped,
            [
                ("/link.txt".to_owned(), "symbolic link"),
                ("/pipe".to_owned(), "special file"),
                ("/src/target".to_owned(), "tool directory"),
            ]
        );
        let table = table(&r);
        assert!(table.contains("skipped (tool directory): "), "{table}");
    }
}
