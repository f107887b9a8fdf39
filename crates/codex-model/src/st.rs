//! Reading and writing safetensors files (Hugging Face weights, LoRA adapters).

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::{Path, PathBuf};

use burn::tensor::TensorData;
use safetensors::tensor::{Dtype, Metadata};

use crate::error::ModelError;

/// One tensor's place in a file.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) dtype: Dtype,
    pub(crate) shape: Vec<usize>,
    range: Range<usize>,
}

/// A safetensors file read into memory, header parsed once.
#[derive(Debug)]
pub(crate) struct SafeTensorsFile {
    pub(crate) path: PathBuf,
    bytes: Vec<u8>,
    data_start: usize,
    entries: BTreeMap<String, Entry>,
    metadata: HashMap<String, String>,
}

fn bad(path: &Path, message: impl Into<String>) -> ModelError {
    ModelError::Weights {
        path: path.to_owned(),
        message: message.into(),
    }
}

impl SafeTensorsFile {
    pub(crate) fn open(path: &Path) -> Result<Self, ModelError> {
        let bytes = std::fs::read(path)
            .map_err(|e| ModelError::Io(codex_core::Error::io("cannot read", path, e)))?;
        let (header_len, meta): (usize, Metadata) = safetensors::SafeTensors::read_metadata(&bytes)
            .map_err(|e| bad(path, format!("not a valid safetensors file: {e}")))?;
        let data_start = 8 + header_len;
        let mut entries = BTreeMap::new();
        for (name, info) in meta.tensors() {
            let (start, end) = info.data_offsets;
            entries.insert(
                name,
                Entry {
                    dtype: info.dtype,
                    shape: info.shape.clone(),
                    range: data_start + start..data_start + end,
                },
            );
        }
        Ok(Self {
            path: path.to_owned(),
            bytes,
            data_start,
            entries,
            metadata: meta.metadata().clone().unwrap_or_default(),
        })
    }

    pub(crate) fn metadata(&self, key: &str) -> Option<&str> {
        self.metadata.get(key).map(String::as_str)
    }

    pub(crate) fn entries(&self) -> &BTreeMap<String, Entry> {
        &self.entries
    }

    pub(crate) fn contains(&self, name: &str) -> bool {
        self.entries.contains_key(name)
    }

    /// Tensor `name` as f32, checked against `shape`.
    pub(crate) fn tensor(&self, name: &str, shape: &[usize]) -> Result<TensorData, ModelError> {
        let entry = self
            .entries
            .get(name)
            .ok_or_else(|| ModelError::MissingTensor {
                path: self.path.clone(),
                name: name.to_owned(),
            })?;
        if entry.shape != shape {
            return Err(ModelError::ShapeMismatch {
                path: self.path.clone(),
                name: name.to_owned(),
                expected: shape.to_vec(),
                found: entry.shape.clone(),
            });
        }
        let raw = &self.bytes[entry.range.clone()];
        let values = to_f32(raw, entry.dtype).ok_or_else(|| {
            bad(
                &self.path,
                format!(
                    "tensor `{name}` has dtype {:?}; supported: F32, F16, BF16, F64",
                    entry.dtype
                ),
            )
        })?;
        debug_assert!(self.data_start <= entry.range.start);
        Ok(TensorData::new(values, shape.to_vec()))
    }
}

fn to_f32(raw: &[u8], dtype: Dtype) -> Option<Vec<f32>> {
    Some(match dtype {
        Dtype::F32 => raw
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        Dtype::F16 => raw
            .chunks_exact(2)
            .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        Dtype::BF16 => raw
            .chunks_exact(2)
            .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        Dtype::F64 => raw
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")) as f32)
            .collect(),
        _ => return None,
    })
}

/// Write `tensors` (as f32) with `metadata` to `path`, atomically.
pub(crate) fn write(
    path: &Path,
    tensors: &BTreeMap<String, TensorData>,
    metadata: BTreeMap<String, String>,
) -> Result<(), ModelError> {
    let buffers: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|(name, data)| {
            let values: Vec<f32> = data
                .clone()
                .convert::<f32>()
                .try_into_vec::<f32>()
                .map_err(|e| bad(path, format!("tensor `{name}`: {e:?}")))?;
            let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
            Ok((name.clone(), data.shape().to_vec(), bytes))
        })
        .collect::<Result<_, ModelError>>()?;
    // The header is written here rather than by `safetensors::serialize`,
    // whose metadata is a `HashMap`: its order (and so the file's bytes)
    // would change from one process to the next. Keys are sorted; the
    // layout is the format's (length, JSON header padded with spaces to 8
    // bytes, then the data in header order).
    #[derive(serde::Serialize)]
    struct Entry<'a> {
        dtype: &'static str,
        shape: &'a [usize],
        data_offsets: [usize; 2],
    }
    let mut entries: Vec<String> = Vec::with_capacity(buffers.len() + 1);
    if !metadata.is_empty() {
        entries.push(format!(
            "\"__metadata__\":{}",
            serde_json::to_string(&metadata).expect("strings serialize")
        ));
    }
    let mut offset = 0usize;
    for (name, shape, bytes) in &buffers {
        if shape.iter().product::<usize>() * 4 != bytes.len() {
            return Err(bad(
                path,
                format!("tensor `{name}`: shape and data disagree"),
            ));
        }
        let entry = Entry {
            dtype: "F32",
            shape,
            data_offsets: [offset, offset + bytes.len()],
        };
        entries.push(format!(
            "{}:{}",
            serde_json::to_string(name).expect("a string serializes"),
            serde_json::to_string(&entry).expect("an entry serializes")
        ));
        offset += bytes.len();
    }
    let mut text = format!("{{{}}}", entries.join(",")).into_bytes();
    text.resize(text.len().div_ceil(8) * 8, b' ');
    let mut bytes = Vec::with_capacity(8 + text.len() + offset);
    bytes.extend_from_slice(&(text.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&text);
    for (_, _, data) in &buffers {
        bytes.extend_from_slice(data);
    }
    codex_core::write_bytes_atomic(path, &bytes).map_err(ModelError::Io)
}
