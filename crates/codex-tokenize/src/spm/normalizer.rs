//! SentencePiece normalization: user-defined symbols kept whole, precompiled
//! character-map rules, whitespace trimming and collapsing, the dummy prefix and `▁`.

use super::darts::DoubleArray;
use super::trie::ByteTrie;

pub(crate) const SPACE_SYMBOL: &str = "\u{2581}";

#[derive(Debug, Clone)]
pub(crate) struct Normalizer {
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
        Ok(Self {
            trie,
            replacements,
            add_dummy_prefix,
            remove_extra_whitespaces,
            escape_whitespaces,
            treat_whitespace_as_suffix,
        })
    }

    /// The normalized form of the longest rule or symbol at the start of `input`,
    /// and how many input bytes it consumes.
    fn normalize_prefix<'a>(&'a self, input: &'a [u8], user: &ByteTrie) -> (&'a [u8], usize) {
        if let Some(len) = user.longest_prefix(input) {
            return (&input[..len], len);
        }
        if let Some((len, value)) = DoubleArray::new(&self.trie).longest_prefix(input)
            && let Some(rest) = self.replacements.get(value as usize..)
        {
            let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
            return (&rest[..end], len);
        }
        // Input is valid UTF-8 (it came from a &str), so the lead byte gives the length.
        let len = match input[0] {
            b if b < 0x80 => 1,
            b if b >= 0xf0 => 4,
            b if b >= 0xe0 => 3,
            _ => 2,
        }
        .min(input.len());
        (&input[..len], len)
    }

    /// Normalizes `input`, returning the text and, for every byte of it plus one,
    /// the offset in `input` it came from.
    pub(crate) fn normalize(&self, input: &str, user: &ByteTrie) -> (String, Vec<usize>) {
        let mut input = input.as_bytes();
        let mut out: Vec<u8> = Vec::with_capacity(input.len() * 3 / 2 + 4);
        let mut map: Vec<usize> = Vec::with_capacity(input.len() * 3 / 2 + 5);
        let mut consumed = 0usize;
        if input.is_empty() {
            return (String::new(), vec![0]);
        }
        if self.remove_extra_whitespaces {
            while !input.is_empty() {
                let (norm, len) = self.normalize_prefix(input, user);
                if norm != b" " {
                    break;
                }
                input = &input[len..];
                consumed += len;
            }
        }
        if input.is_empty() {
            return (String::new(), vec![consumed]);
        }
        let space: &[u8] = if self.escape_whitespaces {
            SPACE_SYMBOL.as_bytes()
        } else {
            b" "
        };
        let add_ws = |out: &mut Vec<u8>, map: &mut Vec<usize>, consumed: usize| {
            out.extend_from_slice(space);
            map.extend(std::iter::repeat_n(consumed, space.len()));
        };
        if !self.treat_whitespace_as_suffix && self.add_dummy_prefix {
            add_ws(&mut out, &mut map, consumed);
        }
        let mut is_prev_space = self.remove_extra_whitespaces;
        while !input.is_empty() {
            let (mut sp, len) = self.normalize_prefix(input, user);
            while is_prev_space && sp.first() == Some(&b' ') {
                sp = &sp[1..];
            }
            if !sp.is_empty() {
                for &b in sp {
                    if self.escape_whitespaces && b == b' ' {
                        add_ws(&mut out, &mut map, consumed);
                    } else {
                        out.push(b);
                        map.push(consumed);
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
                consumed = map[len];
                out.truncate(len);
                map.truncate(len);
            }
        }
        if self.treat_whitespace_as_suffix && self.add_dummy_prefix {
            add_ws(&mut out, &mut map, consumed);
        }
        map.push(consumed);
        // Replacement strings in a valid charsmap are UTF-8; a corrupt one is
        // repaired rather than trusted.
        let text = String::from_utf8(out)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        (text, map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(input: &str, expect: &str) {
        let n = Normalizer::new(&[], true, true, true, false).unwrap();
        let (text, map) = n.normalize(input, &ByteTrie::new());
        assert_eq!(text, expect);
        assert_eq!(map.len(), text.len() + 1);
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
