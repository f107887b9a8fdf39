//! An exact, faster encoder for GPT-2-style byte-level BPE `tokenizer.json`
//! files: no normalizer, a `ByteLevel` pre-tokenizer with its regex, a BPE
//! model without dropout, prefixes, suffixes or byte fallback, and special
//! tokens matched verbatim. Anything else is left to the `tokenizers` library.
//!
//! Ids equal the library's (tested on corpora and edge cases): the GPT-2
//! pre-tokenization pattern
//! `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
//! is matched by hand, with the same leftmost, ordered-alternative semantics;
//! merges are applied lowest rank first, leftmost on ties, as the library's
//! queue does. Speed comes from working on bytes, from a per-thread cache of
//! encoded words, and from skipping the offsets the library always computes.

use std::cell::RefCell;
use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use rustc_hash::FxHashMap;
use serde_json::Value;

/// Character classes of the pre-tokenization pattern.
const OTHER: u8 = 0;
const LETTER: u8 = 1;
const NUMBER: u8 = 2;
const SPACE: u8 = 3;

/// The class of every Unicode scalar value, computed once.
static CLASSES: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let letter = regex::Regex::new(r"^\p{L}$").expect("valid");
    let number = regex::Regex::new(r"^\p{N}$").expect("valid");
    let mut table = vec![OTHER; 0x11_0000];
    let mut buf = [0u8; 4];
    for (cp, slot) in table.iter_mut().enumerate() {
        let Some(c) = char::from_u32(cp as u32) else {
            continue;
        };
        *slot = if c.is_whitespace() {
            SPACE
        } else if c.is_ascii() {
            if c.is_ascii_alphabetic() {
                LETTER
            } else if c.is_ascii_digit() {
                NUMBER
            } else {
                OTHER
            }
        } else {
            let s = c.encode_utf8(&mut buf);
            if letter.is_match(s) {
                LETTER
            } else if number.is_match(s) {
                NUMBER
            } else {
                OTHER
            }
        };
    }
    table
});

fn class(c: char) -> u8 {
    CLASSES[c as usize]
}

/// The end of the pre-token starting at byte `i` of `s`.
fn next_piece(s: &str, i: usize) -> usize {
    let rest = &s[i..];
    let b = rest.as_bytes();
    // 's 't 're 've 'm 'll 'd
    if b[0] == b'\'' && b.len() >= 2 {
        match b[1] {
            b's' | b't' | b'm' | b'd' => return i + 2,
            b'r' | b'v' if b.get(2) == Some(&b'e') => return i + 3,
            b'l' if b.get(2) == Some(&b'l') => return i + 3,
            _ => {}
        }
    }
    let mut chars = rest.char_indices().peekable();
    let (_, first) = chars.next().expect("a non-empty rest");
    let mut cls = class(first);
    let mut start_run = first.len_utf8();
    if first == ' ' {
        // ` ?X+`: a space followed by a run of a non-space class.
        if let Some(&(_, second)) = chars.peek() {
            let c2 = class(second);
            if c2 != SPACE {
                cls = c2;
                start_run = 1 + second.len_utf8();
                chars.next();
            }
        }
    }
    if cls != SPACE {
        let mut end = start_run;
        for (j, c) in chars {
            if class(c) != cls {
                break;
            }
            end = j + c.len_utf8();
        }
        return i + end;
    }
    // `\s+(?!\S)|\s+`: a run of whitespace, less its last character when a
    // non-space follows and the run is longer than one.
    let mut end = first.len_utf8();
    let mut last_len = end;
    let mut followed = false;
    for (j, c) in chars {
        if class(c) != SPACE {
            followed = true;
            break;
        }
        end = j + c.len_utf8();
        last_len = c.len_utf8();
    }
    if followed && end > last_len {
        i + end - last_len
    } else {
        i + end
    }
}

/// An exact encoder for one byte-level BPE tokenizer.
#[derive(Debug, Clone)]
pub(crate) struct FastBpe {
    byte_ids: [u32; 256],
    merges: FxHashMap<(u32, u32), (u32, u32)>,
    added: Option<(AhoCorasick, Vec<u32>)>,
    add_prefix_space: bool,
    instance: u64,
}

/// GPT-2's byte-to-character table.
fn byte_chars() -> [char; 256] {
    let mut table = ['\0'; 256];
    let mut n = 0u32;
    for b in 0..=255u8 {
        let printable =
            (b'!'..=b'~').contains(&b) || (0xa1..=0xac).contains(&b) || (0xae..=0xff).contains(&b);
        table[b as usize] = if printable {
            char::from(b)
        } else {
            n += 1;
            char::from_u32(255 + n).expect("valid")
        };
    }
    table
}

/// Encoded words, by their bytes.
type WordCache = FxHashMap<Box<[u8]>, Box<[u32]>>;

thread_local! {
    /// Encoded words of the encoder (by instance number) this thread last served.
    static CACHE: RefCell<(u64, WordCache)> = RefCell::new((0, WordCache::default()));
}

/// Instance numbers, so that a thread's cache never serves another vocabulary.
static INSTANCES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Cached words per thread before the cache is cleared.
const CACHE_LIMIT: usize = 1 << 20;

impl FastBpe {
    /// The encoder for a parsed `tokenizer.json`, when its pipeline is one this
    /// encoder reproduces exactly.
    pub(crate) fn from_json(v: &Value) -> Option<Self> {
        if !v["normalizer"].is_null() {
            return None;
        }
        let pre = &v["pre_tokenizer"];
        if pre["type"] != "ByteLevel" || pre["use_regex"] != true {
            return None;
        }
        let add_prefix_space = pre["add_prefix_space"].as_bool()?;
        match v["post_processor"]["type"].as_str() {
            None | Some("ByteLevel") => {}
            Some(_) => return None,
        }
        let m = &v["model"];
        if m["type"] != "BPE"
            || !m["dropout"].is_null()
            || m["byte_fallback"] == true
            || m["ignore_merges"] == true
            || m["continuing_subword_prefix"]
                .as_str()
                .is_some_and(|s| !s.is_empty())
            || m["end_of_word_suffix"]
                .as_str()
                .is_some_and(|s| !s.is_empty())
        {
            return None;
        }
        let vocab = m["vocab"].as_object()?;
        let id = |t: &str| vocab.get(t).and_then(Value::as_u64).map(|i| i as u32);
        let mut byte_ids = [0u32; 256];
        for (b, c) in byte_chars().iter().enumerate() {
            byte_ids[b] = id(&c.to_string())?;
        }
        let mut merges = FxHashMap::default();
        for (rank, pair) in m["merges"].as_array()?.iter().enumerate() {
            let (a, b) = match pair {
                Value::Array(p) if p.len() == 2 => {
                    (p[0].as_str()?.to_owned(), p[1].as_str()?.to_owned())
                }
                Value::String(s) => {
                    let (a, b) = s.split_once(' ')?;
                    (a.to_owned(), b.to_owned())
                }
                _ => return None,
            };
            let new = id(&format!("{a}{b}"))?;
            merges
                .entry((id(&a)?, id(&b)?))
                .or_insert((rank as u32, new));
        }
        let mut contents = Vec::new();
        let mut ids = Vec::new();
        for t in v["added_tokens"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[])
        {
            if t["normalized"] != false
                || t["lstrip"] == true
                || t["rstrip"] == true
                || t["single_word"] == true
            {
                return None;
            }
            contents.push(t["content"].as_str()?.to_owned());
            ids.push(t["id"].as_u64()? as u32);
        }
        let added = (!contents.is_empty()).then(|| {
            let ac = AhoCorasickBuilder::new()
                .match_kind(MatchKind::LeftmostLongest)
                .build(&contents)
                .expect("builds");
            (ac, ids)
        });
        let instance = INSTANCES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Some(Self {
            byte_ids,
            merges,
            added,
            add_prefix_space,
            instance,
        })
    }

    /// BPE over one pre-token's bytes.
    fn merge_word(&self, bytes: &[u8], out: &mut Vec<u32>) {
        let mut symbols: Vec<u32> = bytes.iter().map(|&b| self.byte_ids[b as usize]).collect();
        loop {
            let mut best: Option<(u32, usize, u32)> = None;
            for i in 0..symbols.len().saturating_sub(1) {
                if let Some(&(rank, new)) = self.merges.get(&(symbols[i], symbols[i + 1]))
                    && best.is_none_or(|(r, _, _)| rank < r)
                {
                    best = Some((rank, i, new));
                }
            }
            let Some((_, i, new)) = best else { break };
            symbols[i] = new;
            symbols.remove(i + 1);
        }
        out.extend_from_slice(&symbols);
    }

    fn encode_segment(&self, s: &str, out: &mut Vec<u32>) {
        let owned;
        let s = if self.add_prefix_space && !s.starts_with(' ') {
            owned = format!(" {s}");
            owned.as_str()
        } else {
            s
        };
        CACHE.with(|cache| {
            let mut cache = cache.borrow_mut();
            let (owner, cache) = &mut *cache;
            if *owner != self.instance || cache.len() > CACHE_LIMIT {
                cache.clear();
                *owner = self.instance;
            }
            let mut i = 0;
            while i < s.len() {
                let end = next_piece(s, i);
                let piece = &s.as_bytes()[i..end];
                if let Some(ids) = cache.get(piece) {
                    out.extend_from_slice(ids);
                } else {
                    let at = out.len();
                    self.merge_word(piece, out);
                    cache.insert(piece.into(), out[at..].into());
                }
                i = end;
            }
        });
    }

    /// The ids of `text`, as the library's `encode(text, false)` gives them.
    pub(crate) fn encode(&self, text: &str) -> Vec<u32> {
        let mut out = Vec::with_capacity(text.len() / 3 + 4);
        match &self.added {
            None => {
                if !text.is_empty() {
                    self.encode_segment(text, &mut out);
                }
            }
            Some((ac, ids)) => {
                let mut at = 0;
                for m in ac.find_iter(text) {
                    if m.start() > at {
                        self.encode_segment(&text[at..m.start()], &mut out);
                    }
                    out.push(ids[m.pattern().as_usize()]);
                    at = m.end();
                }
                if at < text.len() {
                    self.encode_segment(&text[at..], &mut out);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(s: &str) -> Vec<&str> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < s.len() {
            let e = next_piece(s, i);
            out.push(&s[i..e]);
            i = e;
        }
        out
    }

    #[test]
    fn pre_tokenization_follows_the_gpt2_pattern() {
        assert_eq!(pieces("Hello world"), ["Hello", " world"]);
        assert_eq!(
            pieces("don't we'll I'm"),
            ["don", "'t", " we", "'ll", " I", "'m"]
        );
        assert_eq!(pieces("a  b"), ["a", " ", " b"]);
        assert_eq!(pieces("a\n\nb"), ["a", "\n", "\n", "b"]);
        assert_eq!(
            pieces("x 123 !!? end  "),
            ["x", " 123", " !!?", " end", "  "]
        );
        assert_eq!(pieces("café 東京 ½"), ["café", " 東京", " ½"]);
    }
}
