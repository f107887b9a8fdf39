//! Normalization for phrase matching: lowercase, common character
//! substitutions inside words (`1gn0re` → `ignore`), zero-width characters
//! removed, every run of other characters one space, and letters spelled out
//! one by one (`i g n o r e`) joined.
//!
//! The normalized text is words separated by single spaces; each word
//! remembers the original bytes it came from, which is all a phrase match
//! (whole words only) needs to be mapped back. One pass over the bytes, runs
//! of plain ASCII copied in bulk; the join of spelled-out letters runs only
//! when the text has such a run.

use std::ops::Range;

/// One normalized word: where it starts in the normalized text and the
/// original bytes it covers.
#[derive(Debug, Clone, Copy)]
struct Word {
    at: usize,
    start: usize,
    end: usize,
}

/// A normalized text and its words' original spans.
#[derive(Debug)]
pub(crate) struct Normalized {
    pub(crate) text: String,
    words: Vec<Word>,
}

impl Normalized {
    /// The original byte span of normalized bytes `r`, which start and end on
    /// word boundaries.
    pub(crate) fn original(&self, r: Range<usize>) -> Range<usize> {
        let first = self.words.partition_point(|w| w.at <= r.start) - 1;
        let last = self.words.partition_point(|w| w.at < r.end) - 1;
        self.words[first].start..self.words[last].end
    }
}

fn is_lookalike(c: char) -> bool {
    matches!(c, '0' | '1' | '!' | '|' | '3' | '4' | '@' | '5' | '$' | '7')
}

/// The letter a look-alike stands for when it sits inside a word (followed by
/// a letter, or between a letter and a letter or digit); `None` for characters
/// that vanish.
fn substitute(c: char, prev: Option<char>, next: Option<char>) -> Option<char> {
    if is_lookalike(c) {
        let letter = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphabetic());
        let in_word =
            letter(next) || (letter(prev) && next.is_some_and(|c| c.is_ascii_alphanumeric()));
        if !in_word {
            return Some(c);
        }
    }
    Some(match c {
        '0' => 'o',
        '1' | '!' | '|' => 'i',
        '3' => 'e',
        '4' | '@' => 'a',
        '5' | '$' => 's',
        '7' => 't',
        '\u{200b}'..='\u{200d}' | '\u{2060}' | '\u{feff}' | '\u{ad}' => return None,
        c => c,
    })
}

struct Builder {
    text: Vec<u8>,
    words: Vec<Word>,
    /// Characters in the current word (0: between words).
    chars: usize,
    /// Consecutive one-character words just before.
    singles: usize,
    needs_join: bool,
}

impl Builder {
    fn extend(&mut self, bytes: impl Iterator<Item = u8>, chars: usize, start: usize, end: usize) {
        if self.chars == 0 {
            if !self.text.is_empty() {
                self.text.push(b' ');
            }
            self.words.push(Word {
                at: self.text.len(),
                start,
                end,
            });
        }
        self.text.extend(bytes);
        self.chars += chars;
        self.words.last_mut().expect("a word was opened").end = end;
    }

    fn separator(&mut self) {
        if self.chars > 0 {
            self.singles = if self.chars == 1 { self.singles + 1 } else { 0 };
            self.needs_join |= self.singles >= 3;
            self.chars = 0;
        }
    }
}

/// Normalizes one phrase or text.
pub(crate) fn normalize(s: &str) -> Normalized {
    let bytes = s.as_bytes();
    let mut b = Builder {
        text: Vec::with_capacity(s.len()),
        words: Vec::new(),
        chars: 0,
        singles: 0,
        needs_join: false,
    };
    let mut prev: Option<char> = None;
    let mut i = 0;
    let plain =
        |x: u8| x.is_ascii_alphabetic() || (x.is_ascii_digit() && !is_lookalike(char::from(x)));
    while i < bytes.len() {
        let x = bytes[i];
        if plain(x) {
            // A run of plain ASCII letters and digits needs no context.
            let end = bytes[i..]
                .iter()
                .position(|&y| !plain(y))
                .map_or(bytes.len(), |p| i + p);
            b.extend(
                bytes[i..end].iter().map(u8::to_ascii_lowercase),
                end - i,
                i,
                end,
            );
            prev = Some(char::from(bytes[end - 1]));
            i = end;
            continue;
        }
        let (c, len) = if x < 0x80 {
            (char::from(x), 1)
        } else {
            let c = s[i..].chars().next().expect("i is on a character boundary");
            (c, c.len_utf8())
        };
        if x < 0x80 && !is_lookalike(c) {
            b.separator();
            prev = Some(c);
            i += 1;
            continue;
        }
        let next = match bytes.get(i + len) {
            None => None,
            Some(&n) if n < 0x80 => Some(char::from(n)),
            Some(_) => s[i + len..].chars().next(),
        };
        let mapped = substitute(c, prev, next);
        prev = Some(c);
        let at = i;
        i += len;
        match mapped {
            None => {}
            Some(m) if m.is_ascii_alphanumeric() => {
                b.extend(std::iter::once(m.to_ascii_lowercase() as u8), 1, at, i)
            }
            Some(m) if !m.is_ascii() && m.is_alphanumeric() => {
                let mut lower = String::new();
                lower.extend(m.to_lowercase());
                b.extend(lower.bytes(), 1, at, i);
            }
            Some(_) => b.separator(),
        }
    }
    b.separator();
    let (text, words) = if b.needs_join {
        join_spelled(&b.text, &b.words)
    } else {
        (b.text, b.words)
    };
    Normalized {
        text: String::from_utf8(text).expect("built from whole characters"),
        words,
    }
}

/// Joins runs of three or more one-character words (`i g n o r e` → `ignore`).
fn join_spelled(text: &[u8], words: &[Word]) -> (Vec<u8>, Vec<Word>) {
    let bytes_of = |k: usize| {
        let end = words.get(k + 1).map_or(text.len(), |w| w.at - 1);
        &text[words[k].at..end]
    };
    let one_char =
        |k: usize| std::str::from_utf8(bytes_of(k)).is_ok_and(|w| w.chars().count() == 1);
    let mut out = Vec::with_capacity(text.len());
    let mut out_words = Vec::with_capacity(words.len());
    let mut k = 0;
    while k < words.len() {
        let mut run = k;
        while run < words.len() && one_char(run) {
            run += 1;
        }
        let end = if run - k >= 3 { run } else { k + 1 };
        if !out.is_empty() {
            out.push(b' ');
        }
        out_words.push(Word {
            at: out.len(),
            start: words[k].start,
            end: words[end - 1].end,
        });
        for j in k..end {
            out.extend_from_slice(bytes_of(j));
        }
        k = end;
    }
    (out, out_words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_spacing_and_substitutions_normalize_away() {
        assert_eq!(
            normalize("IGNORE  previous\tInstructions!").text,
            "ignore previous instructions"
        );
        assert_eq!(normalize("in 2026 at 4 pm").text, "in 2026 at 4 pm");
        assert_eq!(normalize("1gn0re prev1ous").text, "ignore previous");
        assert_eq!(normalize("i g n o r e previous").text, "ignore previous");
        assert_eq!(normalize("ig\u{200b}nore, a b").text, "ignore a b");
        assert_eq!(normalize("Ünïcode É x").text, "ünïcode é x");
        assert_eq!(normalize("  ").text, "");
    }

    #[test]
    fn spans_point_into_the_original() {
        let s = "Say: I G N O R E it";
        let n = normalize(s);
        let at = n.text.find("ignore").unwrap();
        assert_eq!(&s[n.original(at..at + 6)], "I G N O R E");
        let s = "«Ünïcode» and 1gn0re, previous!";
        let n = normalize(s);
        assert_eq!(&s[n.original(0..n.text.find(' ').unwrap())], "Ünïcode");
        let at = n.text.find("ignore previous").unwrap();
        assert_eq!(&s[n.original(at..at + 15)], "1gn0re, previous");
    }
}
