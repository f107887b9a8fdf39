//! sacreBLEU's BLEU tokenizers: `13a` (mteval-v13a, the default), `intl`
//! (mteval-v14 international), `char` and `none`.
//!
//! Each regular-expression pass of the reference is reproduced with Python's
//! `re.sub` semantics: leftmost, non-overlapping matches, scanning on after the
//! end of each match.

use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::text::py_normalize_space;

/// A BLEU tokenizer, named as sacreBLEU names it in its signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum BleuTokenizer {
    /// mteval-v13a: the WMT standard and sacreBLEU's default.
    #[default]
    #[serde(rename = "13a")]
    Thirteen,
    /// mteval-v14 international: splits on Unicode punctuation and symbols.
    #[serde(rename = "intl")]
    Intl,
    /// Every character is a token.
    #[serde(rename = "char")]
    Char,
    /// The text is already tokenized: split on whitespace only.
    #[serde(rename = "none")]
    None,
}

impl BleuTokenizer {
    /// Every tokenizer, for listings and error messages.
    pub const ALL: [Self; 4] = [Self::Thirteen, Self::Intl, Self::Char, Self::None];

    /// The name in sacreBLEU's signature (`tok:13a`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Thirteen => "13a",
            Self::Intl => "intl",
            Self::Char => "char",
            Self::None => "none",
        }
    }

    /// Tokenizes one segment; tokens are separated by single spaces
    /// (except for `none`, which returns the text unchanged).
    pub fn tokenize(self, line: &str) -> String {
        match self {
            Self::Thirteen => tokenize_13a(line),
            Self::Intl => tokenize_intl(line),
            Self::Char => {
                let mut out = String::with_capacity(line.len() * 2);
                for (i, c) in line.chars().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    out.push(c);
                }
                out
            }
            Self::None => line.to_owned(),
        }
    }
}

impl fmt::Display for BleuTokenizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for BleuTokenizer {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| {
                format!("unknown BLEU tokenizer `{s}`: expected 13a, intl, char or none")
            })
    }
}

/// The characters the first 13a pass surrounds with spaces: ASCII punctuation
/// except `'`, `,`, `-` and `.`, plus the space itself.
fn is_13a_split(c: char) -> bool {
    matches!(c, '{'..='~' | '['..='`' | ' '..='&' | '('..='+' | ':'..='@' | '/')
}

fn tokenize_13a(line: &str) -> String {
    let mut line = line
        .replace("<skipped>", "")
        .replace("-\n", "")
        .replace('\n', " ");
    if line.contains('&') {
        line = line
            .replace("&quot;", "\"")
            .replace("&amp;", "&")
            .replace("&lt;", "<")
            .replace("&gt;", ">");
    }
    // Every class of the four passes is ASCII except `[^0-9]`, which any byte of a
    // multi-byte character also satisfies, so working on bytes gives the same
    // matches as working on characters, and spaces are only ever inserted next
    // to an ASCII character.
    let bytes = line.as_bytes();

    // Pass 1: ([\{-\~\[-\` -\&\(-\+\:-\@\/]) -> " \1 "
    let mut a = Vec::with_capacity(bytes.len() * 2 + 2);
    for &c in b" ".iter().chain(bytes).chain(b" ") {
        if c.is_ascii() && is_13a_split(char::from(c)) {
            a.extend([b' ', c, b' ']);
        } else {
            a.push(c);
        }
    }
    let is_period_comma = |c: u8| c == b'.' || c == b',';
    // Pass 2: ([^0-9])([\.,]) -> "\1 \2 "
    let b = sub_pair(
        &a,
        |x, y| !x.is_ascii_digit() && is_period_comma(y),
        |x, y, out| {
            out.extend([x, b' ', y, b' ']);
        },
    );
    // Pass 3: ([\.,])([^0-9]) -> " \1 \2"
    let c = sub_pair(
        &b,
        |x, y| is_period_comma(x) && !y.is_ascii_digit(),
        |x, y, out| {
            out.extend([b' ', x, b' ', y]);
        },
    );
    // Pass 4: ([0-9])(-) -> "\1 \2 "
    let d = sub_pair(
        &c,
        |x, y| x.is_ascii_digit() && y == b'-',
        |x, y, out| {
            out.extend([x, b' ', y, b' ']);
        },
    );
    let d = String::from_utf8(d).expect("spaces are only inserted next to ASCII characters");
    py_normalize_space(&d)
}

/// `re.sub` for a pattern of exactly two single-character classes: scans left
/// to right, and after a match resumes behind both characters.
fn sub_pair(
    s: &[u8],
    matches: impl Fn(u8, u8) -> bool,
    replace: impl Fn(u8, u8, &mut Vec<u8>),
) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() + s.len() / 2);
    let mut i = 0;
    while i < s.len() {
        if i + 1 < s.len() && matches(s[i], s[i + 1]) {
            replace(s[i], s[i + 1], &mut out);
            i += 2;
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    out
}

static INTL: LazyLock<[(Regex, &'static str); 3]> = LazyLock::new(|| {
    [
        (Regex::new(r"(\P{N})(\p{P})").expect("valid"), "$1 $2 "),
        (Regex::new(r"(\p{P})(\P{N})").expect("valid"), " $1 $2"),
        (Regex::new(r"(\p{S})").expect("valid"), " $1 "),
    ]
});

fn tokenize_intl(line: &str) -> String {
    let mut s = line.to_owned();
    for (re, rep) in INTL.iter() {
        s = re.replace_all(&s, *rep).into_owned();
    }
    py_normalize_space(&s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thirteen_a_separates_punctuation_but_not_inside_numbers() {
        let t = BleuTokenizer::Thirteen;
        assert_eq!(t.tokenize("Hello, world!"), "Hello , world !");
        assert_eq!(
            t.tokenize("It costs $1,000.50 today."),
            "It costs $ 1,000.50 today ."
        );
        assert_eq!(t.tokenize("pages 3-4 &amp; more"), "pages 3 - 4 & more");
        assert_eq!(t.tokenize("don't"), "don't");
        // Non-overlapping matches: the second period follows a consumed one.
        assert_eq!(t.tokenize("a..b"), "a . . b");
    }

    #[test]
    fn char_and_none_tokenizers() {
        assert_eq!(BleuTokenizer::Char.tokenize("ab c"), "a b   c");
        assert_eq!(BleuTokenizer::None.tokenize(" a,b "), " a,b ");
    }

    #[test]
    fn names_round_trip() {
        for t in BleuTokenizer::ALL {
            assert_eq!(t.name().parse::<BleuTokenizer>(), Ok(t));
        }
        assert!("13b".parse::<BleuTokenizer>().is_err());
    }
}
