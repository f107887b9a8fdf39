//! `metrics.csv`: the NDJSON rows as CSV (`step,epoch,split,name,value,wall_time`).

use std::collections::BTreeMap;
use std::path::Path;

use codex_core::{MetricRecord, MetricSink, SinkError};

use crate::line_file::LineFile;

const HEADER: &str = "step,epoch,split,name,value,wall_time\n";

/// Appends every record as a CSV row; resuming drops rows past the checkpoint.
#[derive(Debug)]
pub struct CsvSink {
    file: LineFile,
}

fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

impl CsvSink {
    /// Creates (or truncates) `path` and writes the header.
    pub fn create(path: &Path) -> Result<Self, SinkError> {
        Ok(Self {
            file: LineFile::create(path, HEADER)?,
        })
    }

    /// Opens `path` to continue a run from `step`: later rows and a torn last
    /// row are dropped.
    pub fn open_resuming(path: &Path, step: u64) -> Result<Self, SinkError> {
        let step_of = |line: &str| line.split(',').next()?.parse().ok();
        Ok(Self {
            file: LineFile::resume(path, HEADER, step, step_of)?,
        })
    }
}

impl MetricSink for CsvSink {
    fn name(&self) -> &str {
        "csv"
    }

    fn log_params(&mut self, _params: &BTreeMap<String, String>) -> Result<(), SinkError> {
        Ok(())
    }

    fn log_metrics(&mut self, records: &[MetricRecord]) -> Result<(), SinkError> {
        for r in records {
            let line = format!(
                "{},{},{},{},{},{}",
                r.step,
                r.epoch,
                field(&r.split),
                field(&r.name),
                r.value,
                r.wall_time
            );
            self.file.write_line(&line)?;
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

    #[test]
    fn rows_round_trip_through_the_csv_reader_and_resume_truncates() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.csv");
        let mut sink = CsvSink::create(&path).unwrap();
        let rec = |step, name: &str| MetricRecord {
            step,
            epoch: 0,
            split: "train".into(),
            name: name.into(),
            value: 0.5,
            wall_time: 1.25,
        };
        sink.log_metrics(&[rec(1, "loss"), rec(2, "odd,name")])
            .unwrap();
        sink.close("finished").unwrap();
        let mut sink = CsvSink::open_resuming(&path, 1).unwrap();
        sink.log_metrics(&[rec(2, "loss")]).unwrap();
        sink.close("finished").unwrap();
        let mut r = csv::Reader::from_path(&path).unwrap();
        let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 2);
        assert_eq!(&rows[1][3], "loss");
        assert_eq!(&rows[0][4], "0.5");
    }
}
