//! Plain-text reports: `key value` lines with keys padded to one width, the
//! shape every crate's `to_text` uses, so a report reads the same from the
//! binary and from a Rust program.

use std::fmt::{Display, Write as _};

/// A report built line by line; keys are padded to one width.
#[derive(Debug, Default)]
pub struct TextReport {
    out: String,
    width: usize,
}

impl TextReport {
    /// A report whose keys are padded to `width` characters.
    pub fn new(width: usize) -> Self {
        Self {
            out: String::new(),
            width,
        }
    }

    /// `key value`.
    pub fn kv(&mut self, key: &str, value: impl Display) -> &mut Self {
        let _ = writeln!(self.out, "{key:<w$} {value}", w = self.width);
        self
    }

    /// `key value`, when there is a value.
    pub fn opt(&mut self, key: &str, value: Option<impl Display>) -> &mut Self {
        if let Some(v) = value {
            self.kv(key, v);
        }
        self
    }

    /// A line as it is.
    pub fn line(&mut self, text: impl Display) -> &mut Self {
        let _ = writeln!(self.out, "{text}");
        self
    }

    /// A histogram of `(upper bound, count)` buckets, one line each with a
    /// bar of `#` scaled to 40 characters.
    pub fn histogram(&mut self, buckets: &[(u64, u64)]) -> &mut Self {
        let max = buckets.iter().map(|b| b.1).max().unwrap_or(1).max(1);
        let mut lower = 1;
        for (upper, count) in buckets {
            let bar = "#".repeat(((count * 40).div_ceil(max)) as usize);
            let _ = writeln!(self.out, "  {lower:>6}-{upper:<6} {count:>9}  {bar}");
            lower = upper + 1;
        }
        self
    }

    /// The text so far.
    pub fn finish(&mut self) -> String {
        std::mem::take(&mut self.out)
    }
}

/// `1234567` as `1,234,567`.
pub fn group_digits(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_align_keys_and_group_digits() {
        let text = TextReport::new(6)
            .kv("run", "a")
            .opt("none", None::<u8>)
            .kv("tokens", 5)
            .histogram(&[(1, 1), (2, 4)])
            .finish();
        assert_eq!(
            text,
            "run    a\ntokens 5\n       1-1              1  ##########\n       2-2              4  ########################################\n"
        );
        assert_eq!(group_digits(1234567), "1,234,567");
        assert_eq!(group_digits(999), "999");
    }
}
