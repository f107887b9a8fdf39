//! Memory-mapped token shards, checked against the manifest when opened.

use std::fs::File;
use std::path::Path;

use codex_core::Digest;

use crate::error::DataError;
use crate::shard::{Dtype, HEADER, MAGIC, ShardRecord};

#[derive(Debug)]
struct Loaded {
    map: memmap2::Mmap,
    dtype: Dtype,
    tokens: u64,
}

/// The shards of one split, mapped read-only.
#[derive(Debug)]
pub struct TokenStore {
    shards: Vec<Loaded>,
}

fn open_map(path: &Path) -> Result<memmap2::Mmap, DataError> {
    let file = File::open(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    #[expect(
        unsafe_code,
        reason = "mapping is the point of shards; they are opened read-only, checked against \
                  the manifest before use, and a file changed underneath a run is a corrupted run \
                  that the next verification names"
    )]
    // SAFETY: the map is read-only; codex never writes a shard after its manifest exists.
    let map = unsafe { memmap2::Mmap::map(&file) };
    map.map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })
}

impl TokenStore {
    /// Maps every shard of `records` under `dir`, checking header, size and, when
    /// `verify_hashes`, the BLAKE3 of each file. Any mismatch names the shard.
    pub fn open(
        dir: &Path,
        records: &[ShardRecord],
        verify_hashes: bool,
    ) -> Result<Self, DataError> {
        let mut shards = Vec::with_capacity(records.len());
        for r in records {
            let path = dir.join(&r.path);
            let map = open_map(&path)?;
            let bad = |problem: String| DataError::CorruptShard {
                path: path.clone(),
                problem,
            };
            if map.len() < HEADER || &map[..8] != MAGIC {
                return Err(bad("not a codex token shard (bad header)".into()));
            }
            let dtype = match map[8] {
                1 => Dtype::U8,
                2 => Dtype::U16,
                4 => Dtype::U32,
                w => return Err(bad(format!("unknown element width {w}"))),
            };
            let expected = HEADER as u64 + r.tokens * dtype.width() as u64;
            if map.len() as u64 != expected {
                return Err(bad(format!(
                    "size is {} bytes, the manifest expects {expected} ({} tokens)",
                    map.len(),
                    r.tokens
                )));
            }
            if verify_hashes {
                let digest = Digest::of(&map);
                if digest != r.blake3 {
                    return Err(bad(format!(
                        "BLAKE3 is {digest}, the manifest records {}",
                        r.blake3
                    )));
                }
            }
            shards.push(Loaded {
                map,
                dtype,
                tokens: r.tokens,
            });
        }
        Ok(Self { shards })
    }

    /// Number of shards.
    pub fn shards(&self) -> usize {
        self.shards.len()
    }

    /// Tokens in shard `i`.
    pub fn shard_tokens(&self, i: usize) -> u64 {
        self.shards[i].tokens
    }

    /// Tokens in all shards.
    pub fn total_tokens(&self) -> u64 {
        self.shards.iter().map(|s| s.tokens).sum()
    }

    /// Appends `len` elements starting at `start` counted over all shards
    /// in order (a range may span shards) to `out`.
    pub fn read_global(&self, mut start: u64, mut len: usize, out: &mut Vec<u32>) {
        for (i, s) in self.shards.iter().enumerate() {
            if len == 0 {
                break;
            }
            if start >= s.tokens {
                start -= s.tokens;
                continue;
            }
            let here = len.min((s.tokens - start) as usize);
            self.read(i, start, here, out);
            len -= here;
            start = 0;
        }
        assert_eq!(len, 0, "read past the end of the shards");
    }

    /// Appends `len` tokens of shard `shard` starting at token `start` to `out`.
    pub fn read(&self, shard: usize, start: u64, len: usize, out: &mut Vec<u32>) {
        let s = &self.shards[shard];
        let w = s.dtype.width();
        let from = HEADER + start as usize * w;
        let bytes = &s.map[from..from + len * w];
        match s.dtype {
            Dtype::U8 => out.extend(bytes.iter().map(|&b| u32::from(b))),
            Dtype::U16 => out.extend(
                bytes
                    .chunks_exact(2)
                    .map(|c| u32::from(u16::from_le_bytes([c[0], c[1]]))),
            ),
            Dtype::U32 => out.extend(
                bytes
                    .chunks_exact(4)
                    .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])),
            ),
        }
    }
}
