//! Token shards: a 16-byte header and little-endian `u16` or `u32` tokens.
//!
//! Layout: magic `CDXSHRD1` (8 bytes), element width in bytes (1 byte: 1, 2
//! or 4), 7 reserved zero bytes, then the elements; the count follows from
//! the file size. Documents are separated by the end-of-text token, appended
//! after each document. Chat data adds two series in the same layout: the
//! loss mask (`u8`, one per token) and the examples' lengths (`u32`).

use std::io::Write;
use std::path::{Path, PathBuf};

use codex_core::{AtomicFile, Digest, Hasher};
use serde::{Deserialize, Serialize};

use crate::error::DataError;

pub(crate) const MAGIC: &[u8; 8] = b"CDXSHRD1";
pub(crate) const HEADER: usize = 16;

/// Element width of a shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dtype {
    /// Bytes: the loss mask of chat data.
    U8,
    /// Vocabularies of at most 65,536 tokens.
    U16,
    /// Larger vocabularies.
    U32,
}

impl Dtype {
    /// The width that holds every id of a vocabulary of `vocab_size`.
    pub fn for_vocab(vocab_size: usize) -> Self {
        if vocab_size <= 1 << 16 {
            Self::U16
        } else {
            Self::U32
        }
    }

    /// Bytes per token.
    pub fn width(self) -> usize {
        match self {
            Self::U8 => 1,
            Self::U16 => 2,
            Self::U32 => 4,
        }
    }
}

/// One shard as recorded in the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardRecord {
    /// Path relative to the dataset directory.
    pub path: PathBuf,
    /// Tokens in the shard.
    pub tokens: u64,
    /// BLAKE3 of the whole file.
    pub blake3: Digest,
}

/// Writes tokens into a sequence of shards of at most `max_tokens` each.
#[derive(Debug)]
pub(crate) struct ShardWriter {
    dir: PathBuf,
    prefix: String,
    dtype: Dtype,
    max_tokens: u64,
    current: Option<(AtomicFile, Hasher, u64, PathBuf)>,
    done: Vec<ShardRecord>,
    buf: Vec<u8>,
}

impl ShardWriter {
    pub(crate) fn new(dir: &Path, prefix: &str, dtype: Dtype, max_tokens: u64) -> Self {
        Self {
            dir: dir.to_path_buf(),
            prefix: prefix.to_owned(),
            dtype,
            max_tokens: max_tokens.max(1),
            current: None,
            done: Vec::new(),
            buf: Vec::new(),
        }
    }

    fn io(path: &Path, e: impl Into<std::io::Error>) -> DataError {
        DataError::Io {
            path: path.to_path_buf(),
            source: e.into(),
        }
    }

    fn open_next(&mut self) -> Result<(), DataError> {
        let name = PathBuf::from(format!("{}-{:05}.bin", self.prefix, self.done.len()));
        let path = self.dir.join(&name);
        let mut file = AtomicFile::create(&path).map_err(|e| DataError::Core(Box::new(e)))?;
        let mut header = [0u8; HEADER];
        header[..8].copy_from_slice(MAGIC);
        header[8] = self.dtype.width() as u8;
        file.write_all(&header).map_err(|e| Self::io(&path, e))?;
        let mut hasher = Hasher::new();
        hasher.update(&header);
        self.current = Some((file, hasher, 0, name));
        Ok(())
    }

    /// Appends tokens, starting new shards as they fill up.
    pub(crate) fn write(&mut self, mut tokens: &[u32]) -> Result<(), DataError> {
        while !tokens.is_empty() {
            if self.current.is_none() {
                self.open_next()?;
            }
            let (_, _, count, _) = self.current.as_ref().expect("open shard");
            let room = (self.max_tokens - count) as usize;
            let (now, later) = tokens.split_at(room.min(tokens.len()));
            self.buf.clear();
            match self.dtype {
                Dtype::U8 => now.iter().for_each(|&t| self.buf.push(t as u8)),
                Dtype::U16 => now
                    .iter()
                    .for_each(|&t| self.buf.extend_from_slice(&(t as u16).to_le_bytes())),
                Dtype::U32 => now
                    .iter()
                    .for_each(|&t| self.buf.extend_from_slice(&t.to_le_bytes())),
            }
            let (file, hasher, count, _) = self.current.as_mut().expect("open shard");
            file.write_all(&self.buf)
                .map_err(|e| Self::io(file.dest(), e))?;
            hasher.update(&self.buf);
            *count += now.len() as u64;
            if *count == self.max_tokens {
                self.close_current()?;
            }
            tokens = later;
        }
        Ok(())
    }

    fn close_current(&mut self) -> Result<(), DataError> {
        let Some((file, hasher, tokens, name)) = self.current.take() else {
            return Ok(());
        };
        file.commit().map_err(|e| DataError::Core(Box::new(e)))?;
        self.done.push(ShardRecord {
            path: name,
            tokens,
            blake3: hasher.finalize(),
        });
        Ok(())
    }

    /// Closes the last shard and returns every shard written.
    pub(crate) fn finish(mut self) -> Result<Vec<ShardRecord>, DataError> {
        self.close_current()?;
        Ok(self.done)
    }
}
