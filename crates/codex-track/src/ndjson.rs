//! `metrics.ndjson`: one JSON object per metric record, appended and flushed.

use std::collections::BTreeMap;
use std::path::Path;

use codex_core::{MetricRecord, MetricSink, SinkError};

use crate::line_file::LineFile;

/// Appends every record to a file as one JSON object per line.
///
/// Lines are written whole and flushed on [`MetricSink::flush`]; a resumed run
/// opens the same file and appends, after truncating any records past the step
/// it resumes from ([`NdjsonSink::open_resuming`]), so the file reads as one
/// uninterrupted run.
#[derive(Debug)]
pub struct NdjsonSink {
    file: LineFile,
}

impl NdjsonSink {
    /// Create (or truncate) `path`.
    pub fn create(path: &Path) -> Result<Self, SinkError> {
        Ok(Self {
            file: LineFile::create(path, "")?,
        })
    }

    /// Open `path` to continue a run from optimizer step `step`: records with a
    /// later step (written after the checkpoint being resumed) are dropped, as
    /// is a final line cut short by a crash.
    pub fn open_resuming(path: &Path, step: u64) -> Result<Self, SinkError> {
        let step_of = |line: &str| {
            serde_json::from_str::<MetricRecord>(line)
                .ok()
                .map(|r| r.step)
        };
        Ok(Self {
            file: LineFile::resume(path, "", step, step_of)?,
        })
    }
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
            self.file.write_line(&serde_json::to_string(r)?)?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        self.file.flush()
    }

    fn close(&mut self, _status: &str) -> Result<(), SinkError> {
        self.file.close()
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
