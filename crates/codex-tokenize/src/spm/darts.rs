//! Read-only lookups in a Darts-clone double-array trie, the structure SentencePiece
//! stores its precompiled normalization rules in.
//!
//! Each unit is a little-endian `u32`: bits 0–7 the label, bit 8 "has a leaf",
//! bit 9 selects an offset scale, bits 10–31 the offset to the children; a leaf
//! unit holds its value in bits 0–30.

pub(crate) struct DoubleArray<'a> {
    units: &'a [u8],
}

impl<'a> DoubleArray<'a> {
    pub(crate) fn new(units: &'a [u8]) -> Self {
        Self { units }
    }

    fn unit(&self, i: usize) -> Option<u32> {
        let b = self.units.get(i * 4..i * 4 + 4)?;
        Some(u32::from_le_bytes(b.try_into().expect("4 bytes")))
    }

    /// The longest key that is a prefix of `key`: `(length in bytes, value)`.
    /// Out-of-range indices (a corrupt trie) end the search instead of panicking.
    pub(crate) fn longest_prefix(&self, key: &[u8]) -> Option<(usize, u32)> {
        let offset = |u: u32| ((u >> 10) << ((u & (1 << 9)) >> 6)) as usize;
        let mut node = offset(self.unit(0)?);
        let mut best = None;
        for (i, &c) in key.iter().enumerate() {
            node ^= usize::from(c);
            let u = self.unit(node)?;
            if u & (0x8000_0000 | 0xff) != u32::from(c) {
                break;
            }
            node ^= offset(u);
            if (u >> 8) & 1 == 1 {
                let leaf = self.unit(node)?;
                best = Some((i + 1, leaf & 0x7fff_ffff));
            }
        }
        best
    }
}

impl DoubleArray<'_> {
    /// Whether some key starts with `prefix`.
    pub(crate) fn has_prefix(&self, prefix: &[u8]) -> bool {
        let offset = |u: u32| ((u >> 10) << ((u & (1 << 9)) >> 6)) as usize;
        let Some(root) = self.unit(0) else {
            return false;
        };
        let mut node = offset(root);
        for &c in prefix {
            node ^= usize::from(c);
            match self.unit(node) {
                Some(u) if u & (0x8000_0000 | 0xff) == u32::from(c) => node ^= offset(u),
                _ => return false,
            }
        }
        true
    }
}
