//! TensorBoard event files, written and read natively.
//!
//! A file is a sequence of records: `u64` length (little-endian), the masked
//! CRC-32C of those 8 bytes, the data, the masked CRC-32C of the data. Each
//! record is an `Event` protocol buffer; the first holds `file_version`
//! `brain.Event:2`, the others a `Summary` of scalar values (`simple_value`),
//! or the run's hyperparameters as a text summary. The protocol buffers are
//! encoded by hand: the few fields used are listed with their numbers below.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use codex_core::{MetricRecord, MetricSink, SinkError};

/// The masked CRC-32C TensorBoard stores (`rotate right 15, plus a constant`).
pub fn masked_crc(data: &[u8]) -> u32 {
    let crc = crc32c::crc32c(data);
    crc.rotate_right(15).wrapping_add(0xa282_ead8)
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn key(out: &mut Vec<u8>, field: u32, wire: u8) {
    varint(out, (u64::from(field) << 3) | u64::from(wire));
}

fn bytes_field(out: &mut Vec<u8>, field: u32, data: &[u8]) {
    key(out, field, 2);
    varint(out, data.len() as u64);
    out.extend_from_slice(data);
}

// Event: wall_time = 1 (double), step = 2 (int64), file_version = 3 (string), summary = 5.
// Summary: value = 1 (repeated). Summary.Value: tag = 1, metadata = 9,
// simple_value = 2 (float), tensor = 8. SummaryMetadata: plugin_data = 1
// (PluginData: plugin_name = 1). TensorProto: dtype = 1 (DT_STRING = 7),
// tensor_shape = 2, string_val = 8.

fn event(wall_time: f64, step: u64, body: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut e = Vec::with_capacity(64);
    key(&mut e, 1, 1);
    e.extend_from_slice(&wall_time.to_le_bytes());
    key(&mut e, 2, 0);
    varint(&mut e, step);
    body(&mut e);
    e
}

fn scalar_value(tag: &str, value: f32) -> Vec<u8> {
    let mut v = Vec::with_capacity(tag.len() + 8);
    bytes_field(&mut v, 1, tag.as_bytes());
    key(&mut v, 2, 5);
    v.extend_from_slice(&value.to_le_bytes());
    v
}

fn text_value(tag: &str, text: &str) -> Vec<u8> {
    let mut plugin = Vec::new();
    bytes_field(&mut plugin, 1, b"text");
    let mut meta = Vec::new();
    bytes_field(&mut meta, 1, &plugin);
    let mut tensor = Vec::new();
    key(&mut tensor, 1, 0);
    varint(&mut tensor, 7);
    bytes_field(&mut tensor, 2, &[]);
    bytes_field(&mut tensor, 8, text.as_bytes());
    let mut v = Vec::new();
    bytes_field(&mut v, 1, tag.as_bytes());
    bytes_field(&mut v, 9, &meta);
    bytes_field(&mut v, 8, &tensor);
    v
}

/// Writes TensorBoard scalars (`<split>/<name>`) and hyperparameters.
#[derive(Debug)]
pub struct TensorBoardSink {
    path: PathBuf,
    out: BufWriter<File>,
    scratch: Vec<u8>,
}

impl TensorBoardSink {
    /// Creates `events.out.tfevents.<secs>.<host>.<pid>.codex` in `dir`.
    pub fn create(dir: &Path) -> Result<Self, SinkError> {
        let now = chrono::Utc::now();
        let host = sysinfo::System::host_name().unwrap_or_else(|_| "localhost".into());
        let path = dir.join(format!(
            "events.out.tfevents.{}.{host}.{}.codex",
            now.timestamp(),
            std::process::id()
        ));
        let file = File::create(&path)
            .map_err(|e| Box::new(codex_core::Error::io("cannot create", &path, e)) as SinkError)?;
        let mut sink = Self {
            path,
            out: BufWriter::new(file),
            scratch: Vec::new(),
        };
        let first = event(now.timestamp_micros() as f64 / 1e6, 0, |e| {
            bytes_field(e, 3, b"brain.Event:2")
        });
        sink.record(&first)?;
        Ok(sink)
    }

    /// The event file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn record(&mut self, data: &[u8]) -> Result<(), SinkError> {
        let len = (data.len() as u64).to_le_bytes();
        self.scratch.clear();
        self.scratch.extend_from_slice(&len);
        self.scratch
            .extend_from_slice(&masked_crc(&len).to_le_bytes());
        self.scratch.extend_from_slice(data);
        self.scratch
            .extend_from_slice(&masked_crc(data).to_le_bytes());
        self.out.write_all(&self.scratch).map_err(|e| {
            Box::new(codex_core::Error::io("cannot write", &self.path, e)) as SinkError
        })
    }
}

impl MetricSink for TensorBoardSink {
    fn name(&self) -> &str {
        "tensorboard"
    }

    fn log_params(&mut self, params: &BTreeMap<String, String>) -> Result<(), SinkError> {
        // A Markdown table under the text plugin: TensorBoard shows it as is.
        let mut table = String::from("| key | value |\n|---|---|\n");
        for (k, v) in params {
            table.push_str(&format!("| {k} | {} |\n", v.replace('|', "\\|")));
        }
        let wall = chrono::Utc::now().timestamp_micros() as f64 / 1e6;
        let value = text_value("hparams/config", &table);
        let e = event(wall, 0, |e| {
            let mut summary = Vec::new();
            bytes_field(&mut summary, 1, &value);
            bytes_field(e, 5, &summary);
        });
        self.record(&e)
    }

    fn log_metrics(&mut self, records: &[MetricRecord]) -> Result<(), SinkError> {
        for r in records {
            let value = scalar_value(&format!("{}/{}", r.split, r.name), r.value as f32);
            let e = event(r.wall_time, r.step, |e| {
                let mut summary = Vec::with_capacity(value.len() + 2);
                bytes_field(&mut summary, 1, &value);
                bytes_field(e, 5, &summary);
            });
            self.record(&e)?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        self.out.flush().map_err(|e| {
            Box::new(codex_core::Error::io("cannot write", &self.path, e)) as SinkError
        })
    }

    fn close(&mut self, _status: &str) -> Result<(), SinkError> {
        self.flush()
    }
}

/// One scalar read back from an event file.
#[derive(Debug, Clone, PartialEq)]
pub struct Scalar {
    /// `split/name`.
    pub tag: String,
    /// Step.
    pub step: u64,
    /// Wall time in seconds.
    pub wall_time: f64,
    /// The value (TensorBoard stores f32).
    pub value: f32,
}

/// What can go wrong reading an event file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A record is cut short or fails its checksum.
    #[error("{}: record at byte {offset}: {message}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Where the record starts.
        offset: u64,
        /// What is wrong.
        message: String,
    },
}

struct Proto<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Proto<'a> {
    fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self.data.get(self.at)?;
            self.at += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Some(v);
            }
        }
        None
    }

    /// The next field: number, wire type and payload (varint value, or bytes).
    fn next(&mut self) -> Option<(u32, u8, u64, &'a [u8])> {
        if self.at >= self.data.len() {
            return None;
        }
        let k = self.varint()?;
        let (field, wire) = ((k >> 3) as u32, (k & 7) as u8);
        match wire {
            0 => Some((field, wire, self.varint()?, &[])),
            1 => {
                let b = self.data.get(self.at..self.at + 8)?;
                self.at += 8;
                Some((field, wire, 0, b))
            }
            2 => {
                let len = self.varint()? as usize;
                let b = self.data.get(self.at..self.at + len)?;
                self.at += len;
                Some((field, wire, 0, b))
            }
            5 => {
                let b = self.data.get(self.at..self.at + 4)?;
                self.at += 4;
                Some((field, wire, 0, b))
            }
            _ => None,
        }
    }
}

/// Reads every scalar of an event file, checking both CRCs of every record.
pub fn read_scalars(path: &Path) -> Result<Vec<Scalar>, ReadError> {
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(|source| ReadError::Io {
            path: path.to_owned(),
            source,
        })?;
    let corrupt = |offset: usize, message: &str| ReadError::Corrupt {
        path: path.to_owned(),
        offset: offset as u64,
        message: message.to_owned(),
    };
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let header = bytes
            .get(at..at + 12)
            .ok_or_else(|| corrupt(at, "header cut short"))?;
        let len_bytes: [u8; 8] = header[..8].try_into().expect("8 bytes");
        if masked_crc(&len_bytes) != u32::from_le_bytes(header[8..12].try_into().expect("4 bytes"))
        {
            return Err(corrupt(at, "length checksum mismatch"));
        }
        let len = u64::from_le_bytes(len_bytes) as usize;
        let data = bytes
            .get(at + 12..at + 12 + len)
            .ok_or_else(|| corrupt(at, "data cut short"))?;
        let crc = bytes
            .get(at + 12 + len..at + 16 + len)
            .ok_or_else(|| corrupt(at, "data checksum cut short"))?;
        if masked_crc(data) != u32::from_le_bytes(crc.try_into().expect("4 bytes")) {
            return Err(corrupt(at, "data checksum mismatch"));
        }
        let (mut wall_time, mut step, mut summary) = (0.0, 0u64, None);
        let mut p = Proto { data, at: 0 };
        while let Some((field, _, v, b)) = p.next() {
            match field {
                1 => {
                    wall_time =
                        f64::from_le_bytes(b.try_into().map_err(|_| corrupt(at, "bad wall_time"))?)
                }
                2 => step = v,
                5 => summary = Some(b),
                _ => {}
            }
        }
        if let Some(summary) = summary {
            let mut s = Proto {
                data: summary,
                at: 0,
            };
            while let Some((1, _, _, value)) = s.next() {
                let (mut tag, mut simple) = (String::new(), None);
                let mut v = Proto { data: value, at: 0 };
                while let Some((field, _, _, b)) = v.next() {
                    match field {
                        1 => tag = String::from_utf8_lossy(b).into_owned(),
                        2 => {
                            simple = Some(f32::from_le_bytes(
                                b.try_into().map_err(|_| corrupt(at, "bad value"))?,
                            ))
                        }
                        _ => {}
                    }
                }
                if let Some(value) = simple {
                    out.push(Scalar {
                        tag,
                        step,
                        wall_time,
                        value,
                    });
                }
            }
        }
        at += 16 + len;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_matches_the_published_check_value() {
        // CRC-32C of "123456789" is 0xE3069283.
        assert_eq!(crc32c::crc32c(b"123456789"), 0xe306_9283);
    }

    #[test]
    fn scalars_read_back_exactly_and_corruption_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let mut sink = TensorBoardSink::create(dir.path()).unwrap();
        sink.log_params(&BTreeMap::from([(
            "train.lr".to_owned(),
            "0.001".to_owned(),
        )]))
        .unwrap();
        let records: Vec<MetricRecord> = (1..=300)
            .map(|s| MetricRecord {
                step: s,
                epoch: 0,
                split: if s % 2 == 0 { "train" } else { "validation" }.into(),
                name: "loss".into(),
                value: 10.0 / s as f64,
                wall_time: 1_700_000_000.0 + s as f64,
            })
            .collect();
        sink.log_metrics(&records).unwrap();
        sink.close("finished").unwrap();
        let path = sink.path().to_owned();
        let back = read_scalars(&path).unwrap();
        assert_eq!(back.len(), 300);
        for (r, s) in records.iter().zip(&back) {
            assert_eq!(s.tag, format!("{}/{}", r.split, r.name));
            assert_eq!(
                (s.step, s.wall_time, s.value),
                (r.step, r.wall_time, r.value as f32)
            );
        }
        let mut bytes = std::fs::read(&path).unwrap();
        let n = bytes.len();
        bytes[n - 7] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        assert!(
            read_scalars(&path)
                .unwrap_err()
                .to_string()
                .contains("checksum mismatch")
        );
    }
}
