//! Python's string semantics where the reference implementations depend on them.
//!
//! sacreBLEU and rouge-score are Python: `str.split()` with no argument splits on
//! Python's whitespace set (which adds the ASCII separators U+001C..U+001F to
//! Unicode's `White_Space`), `str.rstrip()` strips the same set, and `\w` in a
//! `str` pattern means a letter, a number or `_`. Reproducing them here is what
//! makes the scores equal, not merely close.

use std::sync::LazyLock;

use regex::Regex;

/// Whether Python's `str.isspace()` holds for `c`.
pub(crate) fn is_py_space(c: char) -> bool {
    matches!(
        c,
        '\t'..='\r'
            | '\u{1c}'..='\u{1f}'
            | ' '
            | '\u{85}'
            | '\u{a0}'
            | '\u{1680}'
            | '\u{2000}'..='\u{200a}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202f}'
            | '\u{205f}'
            | '\u{3000}'
    )
}

/// Python's `s.split()`: the non-empty runs between whitespace.
pub(crate) fn py_split(s: &str) -> impl Iterator<Item = &str> {
    s.split(is_py_space).filter(|t| !t.is_empty())
}

/// Python's `s.rstrip()`.
pub(crate) fn py_rstrip(s: &str) -> &str {
    s.trim_end_matches(is_py_space)
}

/// Python's `' '.join(s.split())`.
pub(crate) fn py_normalize_space(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for token in py_split(s) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(token);
    }
    out
}

/// Letters and numbers in every script: Python's `str.isalnum()` by category.
static WORD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[\p{L}\p{N}_]$").expect("a valid pattern"));

/// Whether `c` matches `\w` in a Python `str` pattern.
pub(crate) fn is_py_word(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric() || c == '_'
    } else {
        let mut buf = [0u8; 4];
        WORD.is_match(c.encode_utf8(&mut buf))
    }
}

/// Python's `str.lower()`: full Unicode case mapping with the final-sigma rule,
/// which Rust's `str::to_lowercase` also implements.
pub(crate) fn py_lower(s: &str) -> String {
    if s.is_ascii() {
        s.to_ascii_lowercase()
    } else {
        s.to_lowercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_uses_pythons_whitespace_set() {
        let s = "a\u{1c}b\u{a0}c\u{3000}d \t e\u{200b}f";
        let parts: Vec<_> = py_split(s).collect();
        // U+200B ZERO WIDTH SPACE is not whitespace in Python.
        assert_eq!(parts, ["a", "b", "c", "d", "e\u{200b}f"]);
        assert_eq!(py_rstrip("x \u{1f}\n"), "x");
        assert_eq!(py_normalize_space("  a   b "), "a b");
    }

    #[test]
    fn word_characters_are_letters_numbers_and_underscore() {
        for c in ['a', 'Z', '7', '_', 'é', 'ß', '中', '٣', '²'] {
            assert!(is_py_word(c), "{c:?}");
        }
        // A combining mark is not a word character in Python's `re`.
        for c in [' ', '-', '\u{301}', '€', '。'] {
            assert!(!is_py_word(c), "{c:?}");
        }
    }

    #[test]
    fn lower_applies_the_final_sigma_rule() {
        assert_eq!(
            py_lower("\u{39f}\u{394}\u{39f}\u{3a3} X"),
            "\u{3bf}\u{3b4}\u{3bf}\u{3c2} x"
        );
        assert_eq!(py_lower("ABC"), "abc");
    }
}
