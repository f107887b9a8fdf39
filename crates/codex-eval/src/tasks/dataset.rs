//! Local task data: the `json` and `csv` loaders with `data_files`, or a
//! JSON Lines file named directly, read into documents the way Hugging Face
//! `datasets` presents them (every column in every row, missing ones null;
//! CSV columns typed as pandas infers them).

use std::path::{Path, PathBuf};

use rustc_hash::FxHashMap;
use serde_json::{Map, Value};

use super::TaskError;
use super::config::TaskConfig;

/// A document: column name to value.
pub type Doc = Map<String, Value>;

/// The splits of a task's data, with the column names.
#[derive(Debug, Clone, Default)]
pub(crate) struct Dataset {
    pub(crate) splits: FxHashMap<String, Vec<Doc>>,
    pub(crate) features: Vec<String>,
    pub(crate) files: Vec<PathBuf>,
}

fn derr(task: &TaskConfig, message: impl Into<String>) -> TaskError {
    TaskError::Definition {
        path: task.source.clone(),
        message: message.into(),
    }
}

/// A data file named in a task file: relative to the task file's directory
/// when it exists there, else as given.
fn resolve(task: &TaskConfig, name: &str) -> PathBuf {
    let p = Path::new(name);
    if p.is_relative() {
        let beside = task.source.parent().unwrap_or(Path::new(".")).join(p);
        if beside.exists() {
            return beside;
        }
    }
    p.to_owned()
}

#[derive(Clone, Copy)]
enum Format {
    Json,
    Csv,
}

pub(crate) fn load(task: &TaskConfig) -> Result<Dataset, TaskError> {
    let mut files: Vec<(String, Vec<PathBuf>)> = Vec::new();
    let format = match task.dataset_path.as_str() {
        "json" | "csv" => {
            let format = if task.dataset_path == "json" {
                Format::Json
            } else {
                Format::Csv
            };
            let data_files = task
                .dataset_kwargs
                .as_ref()
                .and_then(|k| k.get("data_files"))
                .ok_or_else(|| {
                    derr(
                        task,
                        format!(
                            "`dataset_path: {}` needs `dataset_kwargs.data_files`",
                            task.dataset_path
                        ),
                    )
                })?;
            let list = |v: &Value| -> Result<Vec<PathBuf>, TaskError> {
                match v {
                    Value::String(s) => Ok(vec![resolve(task, s)]),
                    Value::Array(a) => a
                        .iter()
                        .map(|s| {
                            s.as_str()
                                .map(|s| resolve(task, s))
                                .ok_or_else(|| derr(task, "`data_files` must name files"))
                        })
                        .collect(),
                    _ => Err(derr(
                        task,
                        "`data_files` must be a file, a list of files or a mapping of split to files",
                    )),
                }
            };
            match data_files {
                Value::Object(m) => {
                    for (split, v) in m {
                        files.push((split.clone(), list(v)?));
                    }
                }
                v => files.push(("train".into(), list(v)?)),
            }
            format
        }
        other => {
            let path = resolve(task, other);
            let ext = path
                .extension()
                .and_then(|e| e.to_str())
                .unwrap_or_default();
            let format = match ext {
                "jsonl" | "json" => Format::Json,
                "csv" => Format::Csv,
                _ if path.exists() => {
                    return Err(derr(
                        task,
                        format!(
                            "`dataset_path: {other}`: only .jsonl, .json and .csv files can be named directly"
                        ),
                    ));
                }
                _ => {
                    return Err(derr(
                        task,
                        format!(
                            "`dataset_path: {other}` is not a local file; codex works offline: use `json` or `csv` with `dataset_kwargs.data_files`, or a path to a JSON Lines file"
                        ),
                    ));
                }
            };
            files.push(("train".into(), vec![path]));
            format
        }
    };
    let mut ds = Dataset::default();
    for (split, paths) in files {
        let mut docs = Vec::new();
        for path in paths {
            if !path.is_file() {
                return Err(derr(
                    task,
                    format!(
                        "data file {} of split `{split}` does not exist",
                        path.display()
                    ),
                ));
            }
            let bytes = std::fs::read(&path).map_err(|e| TaskError::Io {
                path: path.clone(),
                source: e,
            })?;
            let rows = match format {
                Format::Json => read_json(&path, &bytes)?,
                Format::Csv => read_csv(&path, &bytes)?,
            };
            docs.extend(rows);
            ds.files.push(path);
        }
        for d in &docs {
            for k in d.keys() {
                if !ds.features.contains(k) {
                    ds.features.push(k.clone());
                }
            }
        }
        ds.splits.insert(split, docs);
    }
    // Every document has every column, in one order, as `datasets` gives them.
    for docs in ds.splits.values_mut() {
        for d in docs.iter_mut() {
            let mut full = Map::new();
            for f in &ds.features {
                full.insert(f.clone(), d.remove(f).unwrap_or(Value::Null));
            }
            *d = full;
        }
    }
    Ok(ds)
}

fn bad(path: &Path, line: usize, message: impl Into<String>) -> TaskError {
    TaskError::Data {
        path: path.to_owned(),
        line,
        message: message.into(),
    }
}

fn read_json(path: &Path, bytes: &[u8]) -> Result<Vec<Doc>, TaskError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1;
        bad(path, line, format!("invalid UTF-8 ({e})"))
    })?;
    if text.trim_start().starts_with('[') {
        let v: Value = serde_json::from_str(text)
            .map_err(|e| bad(path, e.line(), format!("not valid JSON: {e}")))?;
        let Value::Array(items) = v else {
            unreachable!()
        };
        return items
            .into_iter()
            .enumerate()
            .map(|(i, d)| match d {
                Value::Object(m) => Ok(m),
                _ => Err(bad(
                    path,
                    0,
                    format!("record {} is not a JSON object", i + 1),
                )),
            })
            .collect();
    }
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(m)) => out.push(m),
            Ok(_) => return Err(bad(path, i + 1, "not a JSON object")),
            Err(e) => return Err(bad(path, i + 1, format!("not valid JSON: {e}"))),
        }
    }
    Ok(out)
}

fn read_csv(path: &Path, bytes: &[u8]) -> Result<Vec<Doc>, TaskError> {
    let mut reader = csv::ReaderBuilder::new().from_reader(bytes);
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| bad(path, 1, format!("not valid CSV: {e}")))?
        .iter()
        .map(str::to_owned)
        .collect();
    let mut rows: Vec<Vec<String>> = Vec::new();
    for (i, rec) in reader.records().enumerate() {
        let rec = rec.map_err(|e| bad(path, i + 2, format!("not valid CSV: {e}")))?;
        if rec.len() != headers.len() {
            return Err(bad(
                path,
                i + 2,
                format!("{} fields, the header has {}", rec.len(), headers.len()),
            ));
        }
        rows.push(rec.iter().map(str::to_owned).collect());
    }
    // pandas' inference: a column of integers is integers, of numbers floats,
    // else strings; an empty cell is missing.
    let kinds: Vec<u8> = (0..headers.len())
        .map(|c| {
            let cells = rows.iter().map(|r| r[c].as_str()).filter(|s| !s.is_empty());
            if cells.clone().all(|s| s.trim().parse::<i64>().is_ok()) {
                0
            } else if cells.clone().all(|s| s.trim().parse::<f64>().is_ok()) {
                1
            } else {
                2
            }
        })
        .collect();
    Ok(rows
        .into_iter()
        .map(|r| {
            headers
                .iter()
                .zip(r)
                .zip(&kinds)
                .map(|((h, cell), kind)| {
                    let v = if cell.is_empty() {
                        Value::Null
                    } else {
                        match kind {
                            0 => Value::from(cell.trim().parse::<i64>().expect("checked")),
                            1 => Value::from(cell.trim().parse::<f64>().expect("checked")),
                            _ => Value::String(cell),
                        }
                    };
                    (h.clone(), v)
                })
                .collect()
        })
        .collect())
}
