//! Reading documents from sources: lines, separated blocks, JSONL, CSV, in
//! directories and globs, plain or gzip- or zstd-compressed.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use codex_core::config::{DataFormat, OnError};
use codex_core::{Diagnostic, Severity};

use crate::error::DataError;

/// One document and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// The text.
    pub text: String,
    /// Index of its file in the expanded source list.
    pub file: usize,
    /// 1-based line (record) where it starts.
    pub line: u64,
}

/// How to read documents out of files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceOptions {
    /// Format, or `Auto` to decide by extension.
    pub format: DataFormat,
    /// Separator for `Blocks`.
    pub separator: String,
    /// Field(s) or column(s) holding text.
    pub text_fields: Vec<String>,
    /// What to do with malformed records.
    pub on_error: OnError,
    /// Chat records' fields under other names (`data.chat_fields`).
    pub chat_fields: std::collections::BTreeMap<String, String>,
}

/// Expands files, directories (recursively, sorted) and globs into a sorted,
/// de-duplicated file list. A pattern that matches nothing is an error.
pub fn expand(sources: &[PathBuf]) -> Result<Vec<PathBuf>, DataError> {
    let mut files = Vec::new();
    for source in sources {
        let text = source.to_string_lossy();
        if text.contains(['*', '?', '[']) {
            let matches: Vec<PathBuf> = glob::glob(&text)
                .map_err(|e| DataError::BadSource {
                    path: source.clone(),
                    problem: format!("invalid glob: {e}"),
                })?
                .filter_map(Result::ok)
                .filter(|p| p.is_file())
                .collect();
            if matches.is_empty() {
                return Err(DataError::BadSource {
                    path: source.clone(),
                    problem: "the pattern matches no file".into(),
                });
            }
            files.extend(matches);
        } else if source.join("manifest.json").is_file() {
            return Err(DataError::BadSource {
                path: source.clone(),
                problem: "is a prepared dataset (manifest.json): train on it with data.prepared, not data.sources".into(),
            });
        } else if source.is_dir() {
            files.extend(walk(source)?);
        } else if source.is_file() {
            files.push(source.clone());
        } else {
            return Err(DataError::Io {
                path: source.clone(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no such file or directory",
                ),
            });
        }
    }
    files.sort();
    files.dedup();
    Ok(files)
}

/// The files of a source directory: hidden entries skipped, links followed
/// (each directory once, so a link loop ends), and a FIFO, socket or device
/// an error naming it rather than a read that never ends.
fn walk(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    codex_core::untrusted::input_files(dir, true).map_err(|(path, source)| {
        if source.kind() == std::io::ErrorKind::InvalidInput {
            DataError::BadSource {
                path,
                problem: source.to_string(),
            }
        } else {
            DataError::Io { path, source }
        }
    })
}

/// The extension that decides the format, under any compression suffix.
fn inner_extension(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let name = name
        .strip_suffix(".gz")
        .or_else(|| name.strip_suffix(".zst"))
        .unwrap_or(&name);
    Path::new(name)
        .extension()
        .map(|e| e.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Opens a file, decompressing `.gz` and `.zst`.
pub fn open(path: &Path) -> Result<Box<dyn Read + Send>, DataError> {
    let file = File::open(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let name = path.to_string_lossy().to_ascii_lowercase();
    Ok(if name.ends_with(".gz") {
        Box::new(flate2::read::MultiGzDecoder::new(file))
    } else if name.ends_with(".zst") {
        Box::new(
            zstd::stream::read::Decoder::new(file).map_err(|source| DataError::Io {
                path: path.to_path_buf(),
                source,
            })?,
        )
    } else {
        Box::new(file)
    })
}

fn format_of(path: &Path, format: DataFormat) -> DataFormat {
    match format {
        DataFormat::Auto => match inner_extension(path).as_str() {
            "jsonl" | "json" | "ndjson" => DataFormat::Jsonl,
            "csv" => DataFormat::Csv,
            _ => DataFormat::Lines,
        },
        f => f,
    }
}

/// Text of a JSON record: the named fields joined, or a chat `messages` list.
fn json_text(value: &serde_json::Value, fields: &[String]) -> Result<String, String> {
    let mut parts = Vec::new();
    for field in fields {
        match value.get(field) {
            Some(serde_json::Value::String(s)) => parts.push(s.clone()),
            Some(serde_json::Value::Array(messages)) if field == "messages" => {
                let mut lines = Vec::new();
                for m in messages {
                    let role = m
                        .get("role")
                        .and_then(|r| r.as_str())
                        .ok_or("a message has no `role`")?;
                    let content = m
                        .get("content")
                        .and_then(|c| c.as_str())
                        .ok_or("a message has no string `content`")?;
                    lines.push(format!("{role}: {content}"));
                }
                parts.push(lines.join("\n"));
            }
            Some(other) => return Err(format!("field `{field}` is {}, not a string", kind(other))),
            None => return Err(format!("no field `{field}`")),
        }
    }
    Ok(parts.join("\n"))
}

/// The roles a chat example's messages may have.
const ROLES: [&str; 4] = ["system", "user", "assistant", "tool"];

/// The messages of one chat record: its `messages` list; or `prompt` and
/// `completion` (strings, or message lists as TRL writes them); or
/// `instruction`, optional `input` and `output` (Alpaca); each with an
/// optional `system` string in front. `fields` renames what the record calls
/// these. Every message needs a known `role` and string `content`, there must
/// be at least one, and the last must be the assistant's.
pub fn chat_messages(
    value: &serde_json::Value,
    fields: &std::collections::BTreeMap<String, String>,
) -> Result<Vec<serde_json::Value>, String> {
    use serde_json::{Value, json};
    let name = |n: &'static str| fields.get(n).map_or(n, String::as_str);
    let get = |n: &'static str| value.get(name(n)).filter(|v| !v.is_null());
    let text = |n: &'static str| -> Result<Option<String>, String> {
        match get(n) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(format!(
                "field `{}` is {}, not a string",
                name(n),
                kind(other)
            )),
        }
    };
    if !value.is_object() {
        return Err(format!("the record is {}, not an object", kind(value)));
    }
    let turns = |v: &Value, field: &str, role: &str| -> Result<Vec<Value>, String> {
        match v {
            Value::String(s) => Ok(vec![json!({"role": role, "content": s})]),
            Value::Array(list) => Ok(list.clone()),
            other => Err(format!(
                "field `{field}` is {}, not a string or a list of messages",
                kind(other)
            )),
        }
    };
    let mut messages: Vec<Value> = Vec::new();
    if let Some(system) = text("system")? {
        messages.push(json!({"role": "system", "content": system}));
    }
    if let Some(list) = get("messages") {
        let Value::Array(list) = list else {
            return Err(format!(
                "field `{}` is {}, not a list",
                name("messages"),
                kind(list)
            ));
        };
        messages.extend(list.iter().cloned());
    } else if let (Some(p), Some(c)) = (get("prompt"), get("completion")) {
        messages.extend(turns(p, name("prompt"), "user")?);
        messages.extend(turns(c, name("completion"), "assistant")?);
    } else if let (Some(instruction), Some(output)) = (text("instruction")?, text("output")?) {
        let user = match text("input")? {
            Some(input) if !input.trim().is_empty() => format!("{instruction}\n\n{input}"),
            _ => instruction,
        };
        messages.push(json!({"role": "user", "content": user}));
        messages.push(json!({"role": "assistant", "content": output}));
    } else {
        return Err(format!(
            "no `{}`, `{}`/`{}` or `{}`/`{}` fields (data.chat_fields renames them)",
            name("messages"),
            name("prompt"),
            name("completion"),
            name("instruction"),
            name("output")
        ));
    }
    if messages.is_empty() {
        return Err("the conversation has no messages".into());
    }
    let mut out = Vec::with_capacity(messages.len());
    for (i, m) in messages.into_iter().enumerate() {
        let role = m
            .get("role")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("message {i} has no string `role`"))?;
        if !ROLES.contains(&role) {
            return Err(format!(
                "message {i} has role `{role}`; expected one of {}",
                ROLES.join(", ")
            ));
        }
        let content = m
            .get("content")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("message {i} has no string `content`"))?;
        out.push(json!({"role": role, "content": content}));
    }
    if out.last().and_then(|m| m["role"].as_str()) != Some("assistant") {
        return Err("the last message is not the assistant's: there is nothing to learn".into());
    }
    Ok(out)
}

fn kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// Streams the documents of `files` in order, reporting malformed records as
/// diagnostics (or stopping with an error under `fail`).
pub struct Documents {
    files: Vec<PathBuf>,
    options: SourceOptions,
    next_file: usize,
    current: Option<Reader>,
    /// Problems met so far.
    pub diagnostics: Vec<Diagnostic>,
    /// What each file held, in file order.
    pub counts: Vec<FileCounts>,
}

/// What the reader made of one file's records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FileCounts {
    /// Records read (lines, JSONL objects, CSV rows, blocks).
    pub records: u64,
    /// Malformed records skipped (each reported by line).
    pub skipped: u64,
    /// Records without text.
    pub empty: u64,
}

/// Counts the `"` bytes passing through: a CSV file with an odd number of
/// them has a quote that is never closed, which the `csv` reader would
/// otherwise hand out as one field running to the end of the file.
struct QuoteCount {
    inner: Box<dyn Read + Send>,
    quotes: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Read for QuoteCount {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let q = buf[..n].iter().filter(|&&b| b == b'"').count() as u64;
        self.quotes
            .fetch_add(q, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

impl std::fmt::Debug for Documents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Documents")
            .field("files", &self.files)
            .field("next_file", &self.next_file)
            .finish()
    }
}

/// A CSV file being read one record behind, so that the last record can be
/// checked against the file's quote count before it becomes a document.
struct CsvReader {
    reader: csv::Reader<QuoteCount>,
    columns: Vec<usize>,
    pending: Option<csv::StringRecord>,
    quotes: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

enum Reader {
    Lines(BufReader<Box<dyn Read + Send>>, DataFormat, u64),
    Blocks(std::vec::IntoIter<(u64, String)>),
    Csv(Box<CsvReader>),
}

impl Documents {
    /// Documents of `files` read with `options`.
    pub fn new(files: Vec<PathBuf>, options: SourceOptions) -> Self {
        let n = files.len();
        Self {
            files,
            options,
            next_file: 0,
            current: None,
            diagnostics: Vec::new(),
            counts: vec![FileCounts::default(); n],
        }
    }

    /// A malformed record: skipped (and counted) or, under `fail`, an error.
    fn problem(
        &mut self,
        file: usize,
        line: u64,
        code: &str,
        message: String,
    ) -> Result<(), DataError> {
        self.counts[file].skipped += 1;
        self.note(file, line, code, message)
    }

    /// A problem that skips no record (damaged bytes replaced in a block).
    fn note(
        &mut self,
        file: usize,
        line: u64,
        code: &str,
        message: String,
    ) -> Result<(), DataError> {
        let path = self.files[file].clone();
        match self.options.on_error {
            OnError::Skip => {
                self.diagnostics
                    .push(Diagnostic::new(Severity::Warning, code, message).at(path, Some(line)));
                Ok(())
            }
            OnError::Fail => Err(DataError::BadRecord {
                path,
                line,
                message,
            }),
        }
    }

    fn open_next(&mut self) -> Result<bool, DataError> {
        let Some(path) = self.files.get(self.next_file).cloned() else {
            return Ok(false);
        };
        self.next_file += 1;
        let format = format_of(&path, self.options.format);
        let reader = open(&path)?;
        self.current = Some(match format {
            DataFormat::Csv => {
                let quotes = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
                let counted = QuoteCount {
                    inner: reader,
                    quotes: std::sync::Arc::clone(&quotes),
                };
                // Not flexible: a row with more or fewer fields than the
                // header is malformed, never silently accepted.
                let mut r = csv::ReaderBuilder::new()
                    .flexible(false)
                    .from_reader(counted);
                let headers = r.headers().map_err(|e| DataError::BadSource {
                    path: path.clone(),
                    problem: format!("cannot read the CSV header: {e}"),
                })?;
                let columns =
                    self.options
                        .text_fields
                        .iter()
                        .map(|f| {
                            headers.iter().position(|h| h == f).ok_or_else(|| {
                                DataError::BadSource {
                                    path: path.clone(),
                                    problem: format!(
                                        "no column `{f}` (columns: {})",
                                        headers.iter().collect::<Vec<_>>().join(", ")
                                    ),
                                }
                            })
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                Reader::Csv(Box::new(CsvReader {
                    reader: r,
                    columns,
                    pending: None,
                    quotes,
                }))
            }
            DataFormat::Blocks => {
                let mut bytes = Vec::new();
                let mut reader = reader;
                reader
                    .read_to_end(&mut bytes)
                    .map_err(|source| DataError::Io {
                        path: path.clone(),
                        source,
                    })?;
                let file = self.next_file - 1;
                let text = match String::from_utf8(bytes) {
                    Ok(t) => t,
                    Err(e) => {
                        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
                        let line = 1 + valid.iter().filter(|&&b| b == b'\n').count() as u64;
                        self.note(
                            file,
                            line,
                            "data.invalid-utf8",
                            "invalid UTF-8, replaced".into(),
                        )?;
                        String::from_utf8_lossy(e.as_bytes()).into_owned()
                    }
                };
                let mut blocks = Vec::new();
                let mut line = 1u64;
                for block in text.split(self.options.separator.as_str()) {
                    if !block.trim().is_empty() {
                        blocks.push((line, block.to_owned()));
                    }
                    line += block.matches('\n').count() as u64
                        + self.options.separator.matches('\n').count() as u64;
                }
                Reader::Blocks(blocks.into_iter())
            }
            f => Reader::Lines(BufReader::with_capacity(1 << 20, reader), f, 0),
        });
        Ok(true)
    }

    /// The next document, `None` at the end, or the error that stopped reading.
    pub fn next_document(&mut self) -> Result<Option<Document>, DataError> {
        let mut buf = Vec::new();
        loop {
            if self.current.is_none() && !self.open_next()? {
                return Ok(None);
            }
            let file = self.next_file - 1;
            let path = self.files[file].clone();
            match self.current.as_mut().expect("open reader") {
                Reader::Blocks(blocks) => match blocks.next() {
                    Some((line, text)) => {
                        self.counts[file].records += 1;
                        return Ok(Some(Document { text, file, line }));
                    }
                    None => self.current = None,
                },
                Reader::Csv(csv) => {
                    let mut record = csv::StringRecord::new();
                    let (emit, at_end) = match csv.reader.read_record(&mut record) {
                        Ok(true) => (csv.pending.replace(record), false),
                        Ok(false) => (csv.pending.take(), true),
                        Err(e) => {
                            let line = e.position().map_or(0, |p| p.line());
                            let (code, message) = match e.kind() {
                                csv::ErrorKind::Utf8 { .. } => {
                                    ("data.invalid-utf8", "invalid UTF-8".to_owned())
                                }
                                csv::ErrorKind::UnequalLengths {
                                    expected_len, len, ..
                                } => (
                                    "data.csv-columns",
                                    format!("the row has {len} fields, the header {expected_len}"),
                                ),
                                _ => ("data.malformed-csv", e.to_string()),
                            };
                            self.counts[file].records += 1;
                            self.problem(file, line, code, message)?;
                            continue;
                        }
                    };
                    let Some(record) = emit else {
                        if at_end {
                            self.current = None;
                        }
                        continue;
                    };
                    let open_quote =
                        at_end && csv.quotes.load(std::sync::atomic::Ordering::Relaxed) % 2 == 1;
                    let texts: Option<Vec<String>> = csv
                        .columns
                        .iter()
                        .map(|&c| record.get(c).map(str::to_owned))
                        .collect();
                    let line = record.position().map_or(0, |p| p.line());
                    self.counts[file].records += 1;
                    if open_quote {
                        self.problem(
                            file,
                            line,
                            "data.csv-unterminated-quote",
                            "a quote opened in this row is never closed: every row after it would be one field".into(),
                        )?;
                        continue;
                    }
                    let Some(texts) = texts else {
                        self.problem(
                            file,
                            line,
                            "data.short-row",
                            "the row has fewer columns than the header".into(),
                        )?;
                        continue;
                    };
                    let text = texts.join("\n");
                    if text.trim().is_empty() {
                        self.counts[file].empty += 1;
                        continue;
                    }
                    return Ok(Some(Document { text, file, line }));
                }
                Reader::Lines(reader, format, line) => {
                    buf.clear();
                    let n = reader
                        .read_until(b'\n', &mut buf)
                        .map_err(|source| DataError::Io {
                            path: path.clone(),
                            source,
                        })?;
                    if n == 0 {
                        self.current = None;
                        continue;
                    }
                    *line += 1;
                    let (line, format) = (*line, *format);
                    self.counts[file].records += 1;
                    let mut bytes = &buf[..];
                    if let Some(b) = bytes.strip_suffix(b"\n") {
                        bytes = b.strip_suffix(b"\r").unwrap_or(b);
                    }
                    let Ok(text) = std::str::from_utf8(bytes) else {
                        self.problem(file, line, "data.invalid-utf8", "invalid UTF-8".into())?;
                        continue;
                    };
                    if text.trim().is_empty() {
                        self.counts[file].empty += 1;
                        continue;
                    }
                    if format == DataFormat::Chat {
                        let parsed = serde_json::from_str::<serde_json::Value>(text)
                            .map_err(|e| format!("not JSON: {e}"))
                            .and_then(|v| chat_messages(&v, &self.options.chat_fields));
                        match parsed {
                            Ok(messages) => {
                                let text = serde_json::Value::Array(messages).to_string();
                                return Ok(Some(Document { text, file, line }));
                            }
                            Err(message) => {
                                self.problem(file, line, "data.bad-chat-record", message)?;
                                continue;
                            }
                        }
                    }
                    if format == DataFormat::Jsonl {
                        let value: serde_json::Value = match serde_json::from_str(text) {
                            Ok(v) => v,
                            Err(e) => {
                                self.problem(
                                    file,
                                    line,
                                    "data.malformed-json",
                                    format!("not JSON: {e}"),
                                )?;
                                continue;
                            }
                        };
                        match json_text(&value, &self.options.text_fields) {
                            Ok(t) if !t.trim().is_empty() => {
                                return Ok(Some(Document {
                                    text: t,
                                    file,
                                    line,
                                }));
                            }
                            Ok(_) => {
                                self.counts[file].empty += 1;
                                continue;
                            }
                            Err(message) => {
                                self.problem(file, line, "data.missing-field", message)?;
                                continue;
                            }
                        }
                    }
                    return Ok(Some(Document {
                        text: text.to_owned(),
                        file,
                        line,
                    }));
                }
            }
        }
    }
}
