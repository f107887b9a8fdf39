//! An append-only file of whole lines: what the NDJSON and CSV sinks share.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use codex_core::SinkError;

fn io(op: &'static str, path: &Path, e: std::io::Error) -> SinkError {
    Box::new(codex_core::Error::io(op, path, e))
}

/// Lines appended to a file, flushed on request and synced on close.
#[derive(Debug)]
pub(crate) struct LineFile {
    path: PathBuf,
    out: BufWriter<File>,
}

impl LineFile {
    /// Creates (or truncates) `path` and writes `header` (may be empty).
    pub(crate) fn create(path: &Path, header: &str) -> Result<Self, SinkError> {
        let file = File::create(path).map_err(|e| io("cannot create", path, e))?;
        let mut out = BufWriter::new(file);
        out.write_all(header.as_bytes())
            .map_err(|e| io("cannot write", path, e))?;
        Ok(Self {
            path: path.to_owned(),
            out,
        })
    }

    /// Opens `path` to continue a run from optimizer step `step`: after
    /// `header`, only whole lines whose step (by `step_of`) is at most `step`
    /// are kept, so rows written after the checkpoint and a line cut short by a
    /// crash are dropped. A missing file starts empty.
    pub(crate) fn resume(
        path: &Path,
        header: &str,
        step: u64,
        step_of: impl Fn(&str) -> Option<u64>,
    ) -> Result<Self, SinkError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(io("cannot read", path, e)),
        };
        let mut kept = String::from(header);
        for line in text.split_inclusive('\n').skip(header.lines().count()) {
            if !line.ends_with('\n') {
                break;
            }
            if step_of(line).is_some_and(|s| s <= step) {
                kept.push_str(line);
            }
        }
        codex_core::write_bytes_atomic(path, kept.as_bytes())?;
        let file = OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(|e| io("cannot open", path, e))?;
        Ok(Self {
            path: path.to_owned(),
            out: BufWriter::new(file),
        })
    }

    /// Appends one line (without its newline).
    pub(crate) fn write_line(&mut self, line: &str) -> Result<(), SinkError> {
        writeln!(self.out, "{line}").map_err(|e| io("cannot write", &self.path, e))
    }

    /// Makes what was written visible to readers.
    pub(crate) fn flush(&mut self) -> Result<(), SinkError> {
        self.out
            .flush()
            .map_err(|e| io("cannot write", &self.path, e))
    }

    /// Flushes and syncs to disk.
    pub(crate) fn close(&mut self) -> Result<(), SinkError> {
        self.flush()?;
        self.out
            .get_ref()
            .sync_all()
            .map_err(|e| io("cannot sync", &self.path, e))
    }
}
