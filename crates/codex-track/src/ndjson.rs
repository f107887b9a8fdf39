//! `metrics.ndjson`: one JSON object per metric record, appended and flushed.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use codex_core::{MetricRecord, MetricSink, SinkError};

/// Appends every record to a file as one JSON object per line.
///
/// Lines are written whole and flushed on [`MetricSink::flush`]; a resumed run
/// opens the same file and appends, after truncating any records past the step
/// it resumes from ([`NdjsonSink::open_resuming`]), so the file reads as one
/// uninterrupted run.
#[derive(Debug)]
pub struct NdjsonSink {
    path: PathBuf,
    out: BufWriter<File>,
}

fn io(op: &'static str, path: &Path, e: std::io::Error) -> SinkError {
    Box::new(codex_core::Error::io(op, path, e))
}

impl NdjsonSink {
    /// Create (or truncate) `path`.
    pub fn create(path: &Path) -> Result<Self, SinkError> {
        let file = File::create(path).map_err(|e| io("cannot create", path, e))?;
        Ok(Self {
            path: path.to_owned(),
            out: BufWriter::new(file),
        })
    }

    /// Open `path` to continue a run from optimizer step `step`: records with a
    /// later step (written after the checkpoint being resumed) are dropped, as
    /// is a final line cut short by a crash.
    pub fn open_resuming(path: &Path, step: u64) -> Result<Self, SinkError> {
        let kept = kept_lines(path, 0, step, |line| {
            serde_json::from_str::<MetricRecord>(line)
                .ok()
                .map(|r| r.step)
        })?;
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
}

/// The whole lines of `path` after its first `skip` lines whose step (by
/// `step_of`) is at most `step`: what a resumed run keeps of a metrics file.
/// A missing file is empty; a last line cut short by a crash is dropped.
pub(crate) fn kept_lines(
    path: &Path,
    skip: usize,
    step: u64,
    step_of: impl Fn(&str) -> Option<u64>,
) -> Result<String, SinkError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(io("cannot read", path, e)),
    };
    let mut kept = String::new();
    for line in text.split_inclusive('\n').skip(skip) {
        if !line.ends_with('\n') {
            break;
        }
        if step_of(line).is_some_and(|s| s <= step) {
            kept.push_str(line);
        }
    }
    Ok(kept)
}

impl MetricSink for NdjsonSink {
    fn name(&self) -> &str {
        "ndjson"
    }

    fn log_params(&mut self, _params: &BTreeMap<String, String>) -> Result<(), SinkError> {
        // The resolved configuration is config.yaml beside this file.
        Ok(())
    }

    fn log_metrics(&mut self, records: &[MetricRecord]) -> Result<(), SinkError> {
        for r in records {
            let line = serde_json::to_string(r)?;
            writeln!(self.out, "{line}").map_err(|e| io("cannot write", &self.path, e))?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        self.out
            .flush()
            .map_err(|e| io("cannot write", &self.path, e))
    }

    fn close(&mut self, _status: &str) -> Result<(), SinkError> {
        self.flush()?;
        self.out
            .get_ref()
            .sync_all()
            .map_err(|e| io("cannot sync", &self.path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(step: u64, value: f64) -> MetricRecord {
        MetricRecord {
            step,
            epoch: 0,
            split: "train".into(),
            name: "loss".into(),
            value,
            wall_time: 1.0,
        }
    }

    #[test]
    fn resuming_drops_records_after_the_checkpoint_and_torn_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.ndjson");
        let mut sink = NdjsonSink::create(&path).unwrap();
        sink.log_metrics(&[record(1, 3.0), record(2, 2.5), record(3, 2.0)])
            .unwrap();
        sink.close("killed").unwrap();
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("{\"step\": 4, \"ep");
        std::fs::write(&path, text).unwrap();
        let mut sink = NdjsonSink::open_resuming(&path, 2).unwrap();
        sink.log_metrics(&[record(3, 1.9)]).unwrap();
        sink.close("finished").unwrap();
        let rows: Vec<MetricRecord> = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(rows, vec![record(1, 3.0), record(2, 2.5), record(3, 1.9)]);
    }
}
