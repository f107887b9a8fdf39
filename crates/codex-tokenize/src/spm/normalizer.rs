//! SentencePiece normalization: user-defined symbols kept whole, precompiled
//! character-map rules, whitespace trimming and collapsing, the dummy prefix and `▁`.

use super::darts::DoubleArray;
use super::trie::ByteTrie;

pub(crate) const SPACE_SYMBOL: &str = "\u{2581}";

/// What the normalizer does with one ASCII byte when no longer rule can start at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AsciiRule {
    /// A user-defined symbol may start here: take the general path.
    Slow,
    /// Copied unchanged.
    Copy,
    /// Replaced by `replacements[start..start + len]`.
    Replace(u32, u32),
}

#[derive(Debug, Clone)]
pub(crate) struct Normalizer {
    /// User-defined symbols, which are never normalized.
    user: ByteTrie,
    /// The outcome for each ASCII byte on its own.
    ascii: Vec<AsciiRule>,
    /// `pair_ok[b * 128 + c]`: no rule or symbol starts with ASCII bytes `b c`,
    /// so `b` followed by `c` can take its single-byte outcome.
    pair_ok: Vec<bool>,
    /// The trie part of the precompiled charsmap (little-endian u32 units).
    trie: Vec<u8>,
    /// NUL-terminated replacement strings the trie's values point into.
    replacements: Vec<u8>,
    pub(crate) add_dummy_prefix: bool,
    pub(crate) remove_extra_whitespaces: bool,
    pub(crate) escape_whitespaces: bool,
    pub(crate) treat_whitespace_as_suffix: bool,
}

impl Normalizer {
    /// Splits a precompiled charsmap blob: `<u32 trie size><trie><replacements>`.
    pub(crate) fn new(
        user: ByteTrie,
        charsmap: &[u8],
        add_dummy_prefix: bool,
        remove_extra_whitespaces: bool,
        escape_whitespaces: bool,
        treat_whitespace_as_suffix: bool,
    ) -> Result<Self, String> {
        let (trie, replacements) = if charsmap.is_empty() {
            (Vec::new(), Vec::new())
        } else {
            if charsmap.len() <= 4 {
                return Err("precompiled charsmap is shorter than its header".into());
            }
            let size = u32::from_le_bytes(charsmap[..4].try_into().expect("4 bytes")) as usize;
            if size >= charsmap.len() - 4 || !size.is_multiple_of(4) {
                return Err(format!(
                    "precompiled charsmap declares a trie of {size} bytes in a blob of {}",
                    charsmap.len()
                ));
            }
            (
                charsmap[4..4 + size].to_vec(),
                charsmap[4 + size..].to_vec(),
            )
        };
        let darts = DoubleArray::new(&trie);
        let ascii = (0u8..128)
            .map(|b| {
                if user.has_prefix(&[b]) {
                    return AsciiRule::Slow;
                }
                // Exactly the general path's rule: a value past the replacement
                // strings (a corrupt charsmap) falls back to copying the byte.
                match darts
                    .longest_prefix(&[b])
                    .and_then(|(_, v)| Some((v, replacements.get(v as usize..)?)))
                {
                    Some((v, rest)) => {
                        let len = rest.iter().position(|&x| x == 0).unwrap_or(rest.len());
                        AsciiRule::Replace(v, len as u32)
                    }
                    None => AsciiRule::Copy,
                }
            })
            .collect();
        let pair_ok = (0..128 * 128)
            .map(|i| {
                let pair = [(i / 128) as u8, (i % 128) as u8];
                !darts.has_prefix(&pair) && !user.has_prefix(&pair)
            })
            .collect();
        Ok(Self {
            user,
            ascii,
            pair_ok,
            trie,
            replacements,
            add_dummy_prefix,
            remove_extra_whitespaces,
            escape_whitespaces,
            treat_whitespace_as_suffix,
        })
    }

    /// [`Self::normalize_prefix`] with a shortcut for ASCII bytes that no longer
    /// rule can extend.
    #[inline]
    fn prefix<'a>(&'a self, input: &'a [u8]) -> (&'a [u8], usize) {
        let b = input[0];
        if b < 0x80 {
            let alone = match input.get(1) {
                None => true,
                Some(&c) if c < 0x80 => self.pair_ok[usize::from(b) * 128 + usize::from(c)],
                Some(_) => false,
            };
            if alone {
                match self.ascii[usize::from(b)] {
                    AsciiRule::Copy => return (&input[..1], 1),
                    AsciiRule::Replace(start, len) => {
                        let start = start as usize;
                        return (&self.replacements[start..start + len as usize], 1);
                    }
                    AsciiRule::Slow => {}
                }
            }
        }
        self.normalize_prefix(input)
    }

    /// The normalized form of the longest rule or symbol at the start of `input`,
    /// and how many input bytes it consumes.
    fn normalize_prefix<'a>(&'a self, input: &'a [u8]) -> (&'a [u8], usize) {
        if let Some(len) = self.user.longest_prefix(input) {
            return (&input[..len], len);
        }
        if let Some((len, value)) = DoubleArray::new(&self.trie).longest_prefix(input)
            && let Some(rest) = self.replacements.get(value as usize..)
        {
            let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
            return (&rest[..end], len);
        }
        let len = super::char_len(input[0]).min(input.len());
        (&input[..len], len)
    }

    /// Normalizes `input`, returning the text and, when `with_map`, for every byte
    /// of it plus one, the offset in `input` it came from (else an empty map).
    #[cfg(test)]
    pub(crate) fn normalize(&self, input: &str, with_map: bool) -> (String, Vec<usize>) {
        let mut out = Vec::new();
        let mut map = Vec::new();
        self.normalize_into(input, &mut out, &mut map, with_map);
        (
            String::from_utf8(out).expect("normalized text is UTF-8"),
            map,
        )
    }

    /// Normalizes `input` into `out` (cleared first) and, when `with_map`, fills
    /// `map` with, for every byte of `out` plus one, the offset in `input` it came from.
    pub(crate) fn normalize_into(
        &self,
        input: &str,
        out: &mut Vec<u8>,
        map: &mut Vec<usize>,
        with_map: bool,
    ) {
        let mut input = input.as_bytes();
        out.clear();
        map.clear();
        let mut consumed = 0usize;
        if input.is_empty() {
            if with_map {
                map.push(0);
            }
            return;
        }
        if self.remove_extra_whitespaces {
            while !input.is_empty() {
                let (norm, len) = self.prefix(input);
                if norm != b" " {
                    break;
                }
                input = &input[len..];
                consumed += len;
            }
        }
        if input.is_empty() {
            if with_map {
                map.push(consumed);
            }
            return;
        }
        let space: &[u8] = if self.escape_whitespaces {
            SPACE_SYMBOL.as_bytes()
        } else {
            b" "
        };
        let add_ws = |out: &mut Vec<u8>, map: &mut Vec<usize>, consumed: usize| {
            out.extend_from_slice(space);
            if with_map {
                map.extend(std::iter::repeat_n(consumed, space.len()));
            }
        };
        if !self.treat_whitespace_as_suffix && self.add_dummy_prefix {
            add_ws(out, map, consumed);
        }
        let mut is_prev_space = self.remove_extra_whitespaces;
        while !input.is_empty() {
            let (mut sp, len) = self.prefix(input);
            while is_prev_space && sp.first() == Some(&b' ') {
                sp = &sp[1..];
            }
            if !sp.is_empty() {
                for &b in sp {
                    if self.escape_whitespaces && b == b' ' {
                        add_ws(out, map, consumed);
                    } else {
                        out.push(b);
                        if with_map {
                            map.push(consumed);
                        }
                    }
                }
                is_prev_space = sp.last() == Some(&b' ');
            }
            consumed += len;
            input = &input[len..];
            if !self.remove_extra_whitespaces {
                is_prev_space = false;
            }
        }
        if self.remove_extra_whitespaces {
            while out.ends_with(space) {
                let len = out.len() - space.len();
                if with_map {
                    consumed = map[len];
                    map.truncate(len);
                }
                out.truncate(len);
            }
        }
        if self.treat_whitespace_as_suffix && self.add_dummy_prefix {
            add_ws(out, map, consumed);
        }
        if with_map {
            map.push(consumed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(input: &str, expect: &str) {
        let n = Normalizer::new(
            super::super::trie::TrieBuilder::new().build(),
            &[],
            true,
            true,
            true,
            false,
        )
        .unwrap();
        let (text, map) = n.normalize(input, true);
        assert_eq!(text, expect);
        assert_eq!(map.len(), text.len() + 1);
    }

    /// Found by the `spm_model` fuzz target: a charsmap whose trie maps `a` to an
    /// offset past the replacement strings must fall back to copying, on the
    /// ASCII fast path as on the general one.
    #[test]
    fn out_of_range_replacement_copies_instead_of_panicking() {
        let mut units = vec![0u32; 354];
        units[0] = 256 << 10; // root: children at 256 ^ byte
        units[256 ^ 0x61] = 0x61 | 1 << 8 | 353; // label 'a', has a leaf, value 353
        let mut blob = ((units.len() * 4) as u32).to_le_bytes().to_vec();
        blob.extend(units.iter().flat_map(|u| u.to_le_bytes()));
        blob.extend_from_slice(b"x\0");
        let empty = super::super::trie::TrieBuilder::new().build();
        let n = Normalizer::new(empty, &blob, true, true, true, false).unwrap();
        assert_eq!(n.normalize("banana", false).0, "\u{2581}banana");
        assert_eq!(n.normalize("a\u{301}a", false).0, "\u{2581}a\u{301}a");
    }

    #[test]
    fn whitespace_rules_without_charsmap() {
        check("", "");
        check("   ", "");
        check("hello", "▁hello");
        check("  hello   world  ", "▁hello▁world");
        check("a b", "▁a▁b");
        // Tabs are not spaces without the charsmap's rules.
        check("a\tb", "▁a\tb");
    }
}
