//! Streaming training input: text files (one document per line), JSONL with a
//! text field, and directories of both, read once, hashed as they are read.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use codex_core::config::OnError;
use codex_core::{Diagnostic, Digest, Hasher, Severity};
use serde::{Deserialize, Serialize};

use crate::error::TokenizeError;

/// What was read from one input file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputRecord {
    /// The file.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
    /// BLAKE3 of its bytes.
    pub blake3: Digest,
    /// Lines read.
    pub lines: u64,
    /// Documents handed to the trainer.
    pub documents: u64,
    /// Lines skipped as malformed.
    pub skipped: u64,
}

/// Expands files and directories (recursively, in sorted order, `.txt`, `.text`,
/// `.jsonl` and `.json` files) into the list of files to read.
pub fn expand_inputs(inputs: &[PathBuf]) -> Result<Vec<PathBuf>, TokenizeError> {
    // Links are followed (each directory once, so a loop ends); a FIFO,
    // socket or device inside a directory is an error, not a hang.
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), TokenizeError> {
        let files = codex_core::untrusted::input_files(dir, false)
            .map_err(|(path, source)| TokenizeError::Io { path, source })?;
        out.extend(files.into_iter().filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| matches!(e, "txt" | "text" | "jsonl" | "json"))
        }));
        Ok(())
    }
    let mut files = Vec::new();
    for input in inputs {
        let meta = std::fs::metadata(input).map_err(|source| TokenizeError::Io {
            path: input.clone(),
            source,
        })?;
        if meta.is_dir() {
            walk(input, &mut files)?;
        } else {
            files.push(input.clone());
        }
    }
    Ok(files)
}

fn is_jsonl(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e, "jsonl" | "json"))
}

/// The reader's shared state.
pub(crate) type SharedState = Arc<Mutex<ReadState>>;

/// Shared between the streaming iterator (which the trainer drives) and the caller.
#[derive(Debug)]
pub(crate) struct ReadState {
    pub(crate) records: Vec<InputRecord>,
    pub(crate) diagnostics: Vec<Diagnostic>,
    pub(crate) error: Option<TokenizeError>,
    pub(crate) documents: u64,
    ascii: [bool; 128],
    non_ascii: HashSet<char>,
}

impl Default for ReadState {
    fn default() -> Self {
        Self {
            records: Vec::new(),
            diagnostics: Vec::new(),
            error: None,
            documents: 0,
            ascii: [false; 128],
            non_ascii: HashSet::new(),
        }
    }
}

impl ReadState {
    pub(crate) fn alphabet_size(&self) -> usize {
        self.ascii.iter().filter(|&&b| b).count() + self.non_ascii.len()
    }

    fn note_chars(&mut self, text: &str) {
        for c in text.chars() {
            if c.is_ascii() {
                self.ascii[c as usize] = true;
            } else {
                self.non_ascii.insert(c);
            }
        }
    }
}

/// An iterator over documents that records hashes, counts and problems in a
/// shared [`ReadState`]; it stops early (leaving the error there) under `fail`.
pub(crate) struct CorpusReader<'p> {
    files: std::vec::IntoIter<PathBuf>,
    current: Option<(BufReader<File>, Hasher, InputRecord, bool)>,
    text_field: String,
    on_error: OnError,
    count_alphabet: bool,
    state: Arc<Mutex<ReadState>>,
    buf: Vec<u8>,
    on_bytes: &'p (dyn Fn(u64) + Sync),
    bytes_read: u64,
    reported: u64,
}

impl<'p> CorpusReader<'p> {
    pub(crate) fn new(
        files: Vec<PathBuf>,
        text_field: &str,
        on_error: OnError,
        count_alphabet: bool,
    ) -> (Self, SharedState) {
        let state = Arc::new(Mutex::new(ReadState::default()));
        (
            Self {
                files: files.into_iter(),
                current: None,
                text_field: text_field.to_owned(),
                on_error,
                count_alphabet,
                state: Arc::clone(&state),
                buf: Vec::with_capacity(1 << 16),
                on_bytes: &|_| {},
                bytes_read: 0,
                reported: 0,
            },
            state,
        )
    }

    /// Reports bytes read through `on_bytes`.
    pub(crate) fn with_progress(self, on_bytes: &'p (dyn Fn(u64) + Sync)) -> Self {
        Self { on_bytes, ..self }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, ReadState> {
        self.state.lock().expect("reader state lock")
    }

    /// Records a malformed line: a diagnostic under `skip`, the error under `fail`.
    /// Returns whether reading should stop.
    fn problem(&mut self, err: TokenizeError, code: &str, path: &Path, line: u64) -> bool {
        let mut st = self.state();
        match self.on_error {
            OnError::Skip => {
                st.diagnostics.push(
                    Diagnostic::new(Severity::Warning, code, err.to_string()).at(path, Some(line)),
                );
                false
            }
            OnError::Fail => {
                st.error = Some(err);
                true
            }
        }
    }

    fn finish_file(&mut self) {
        if let Some((_, hasher, mut record, _)) = self.current.take() {
            record.blake3 = hasher.finalize();
            record.bytes = hasher.len();
            self.state().records.push(record);
        }
    }
}

impl Iterator for CorpusReader<'_> {
    type Item = String;

    fn next(&mut self) -> Option<String> {
        loop {
            if self.state().error.is_some() {
                return None;
            }
            if self.current.is_none() {
                let path = self.files.next()?;
                let file = match File::open(&path) {
                    Ok(f) => f,
                    Err(source) => {
                        self.state().error = Some(TokenizeError::Io { path, source });
                        return None;
                    }
                };
                let jsonl = is_jsonl(&path);
                self.current = Some((
                    BufReader::with_capacity(1 << 20, file),
                    Hasher::new(),
                    InputRecord {
                        path,
                        bytes: 0,
                        blake3: Digest::of(b""),
                        lines: 0,
                        documents: 0,
                        skipped: 0,
                    },
                    jsonl,
                ));
            }
            let (reader, hasher, record, jsonl) = self.current.as_mut().expect("current file");
            self.buf.clear();
            let n = match reader.read_until(b'\n', &mut self.buf) {
                Ok(n) => n,
                Err(source) => {
                    let path = record.path.clone();
                    self.state().error = Some(TokenizeError::Io { path, source });
                    return None;
                }
            };
            if n == 0 {
                self.finish_file();
                (self.on_bytes)(self.bytes_read);
                continue;
            }
            hasher.update(&self.buf);
            record.lines += 1;
            self.bytes_read += n as u64;
            if self.bytes_read - self.reported >= 1 << 20 {
                self.reported = self.bytes_read;
                (self.on_bytes)(self.bytes_read);
            }
            let (line, path, jsonl) = (record.lines, record.path.clone(), *jsonl);
            let mut bytes = &self.buf[..];
            if let Some(b) = bytes.strip_suffix(b"\n") {
                bytes = b.strip_suffix(b"\r").unwrap_or(b);
            }
            let text = match std::str::from_utf8(bytes) {
                Ok(t) => t,
                Err(_) => {
                    if let Some(c) = self.current.as_mut() {
                        c.2.skipped += 1;
                    }
                    let err = TokenizeError::InvalidUtf8 {
                        path: path.clone(),
                        line,
                    };
                    if self.problem(err, "tokenize.invalid-utf8", &path, line) {
                        return None;
                    }
                    continue;
                }
            };
            let doc = if jsonl {
                if text.trim().is_empty() {
                    continue;
                }
                match serde_json::from_str::<serde_json::Value>(text) {
                    Ok(v) => match v.get(&self.text_field).and_then(|t| t.as_str()) {
                        Some(t) => t.to_owned(),
                        None => {
                            let err = TokenizeError::BadRecord {
                                path: path.clone(),
                                line,
                                message: format!("no string field `{}`", self.text_field),
                            };
                            if let Some(c) = self.current.as_mut() {
                                c.2.skipped += 1;
                            }
                            if self.problem(err, "tokenize.missing-field", &path, line) {
                                return None;
                            }
                            continue;
                        }
                    },
                    Err(e) => {
                        let err = TokenizeError::BadRecord {
                            path: path.clone(),
                            line,
                            message: format!("not JSON: {e}"),
                        };
                        if let Some(c) = self.current.as_mut() {
                            c.2.skipped += 1;
                        }
                        if self.problem(err, "tokenize.malformed-json", &path, line) {
                            return None;
                        }
                        continue;
                    }
                }
            } else {
                text.to_owned()
            };
            if doc.trim().is_empty() {
                continue;
            }
            if let Some(c) = self.current.as_mut() {
                c.2.documents += 1;
            }
            let mut st = self.state();
            st.documents += 1;
            if self.count_alphabet {
                st.note_chars(&doc);
            }
            drop(st);
            return Some(doc);
        }
    }
}
