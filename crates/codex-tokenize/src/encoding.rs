//! Encodings and the options that shape them: special tokens, padding, truncation.

use std::path::Path;

use serde::Serialize;

use crate::error::TokenizeError;

/// One encoded text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Encoding {
    /// Token ids.
    pub ids: Vec<u32>,
    /// Token strings.
    pub tokens: Vec<String>,
    /// Byte offsets of each token in the input (special and padding tokens get `(0, 0)`).
    pub offsets: Vec<(usize, usize)>,
    /// 1 for real tokens, 0 for padding.
    pub attention_mask: Vec<u32>,
    /// 1 for special tokens (bos, eos, pad), 0 otherwise.
    pub special_tokens_mask: Vec<u32>,
    /// Further windows when truncation with a stride split the input.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub overflowing: Vec<Encoding>,
}

/// Which end padding or truncation applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Side {
    /// The start of the sequence.
    Left,
    /// The end of the sequence.
    #[default]
    Right,
}

/// How long padded sequences become.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PadTo {
    /// The longest sequence in the batch.
    Longest,
    /// A fixed length.
    Fixed(usize),
}

/// Padding of encodings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Padding {
    /// Target length.
    pub to: PadTo,
    /// Which side receives padding.
    pub side: Side,
    /// Round the target length up to a multiple of this.
    pub multiple_of: Option<usize>,
    /// The padding token (must be in the vocabulary).
    pub token: String,
}

/// Truncation of long inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Truncation {
    /// Maximum tokens per window, special tokens included.
    pub max_length: usize,
    /// Tokens shared by consecutive overflowing windows.
    pub stride: usize,
    /// Which side is cut.
    pub side: Side,
}

/// Everything that shapes an encoding besides the text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EncodeOptions {
    /// Apply the tokenizer's post-processor (bos/eos and the like).
    pub add_special_tokens: bool,
    /// Pad, if set.
    pub padding: Option<Padding>,
    /// Truncate, if set.
    pub truncation: Option<Truncation>,
}

/// Documents from the bytes of a file (or stdin) named `source`, one per line
/// (`\r\n` or `\n`; the final newline does not start a document). A line that
/// is not UTF-8 is an error naming the source and the line.
pub fn documents_from_bytes(source: &Path, bytes: &[u8]) -> Result<Vec<String>, TokenizeError> {
    let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    bytes
        .split(|&b| b == b'\n')
        .enumerate()
        .map(|(i, line)| {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            std::str::from_utf8(line)
                .map(str::to_owned)
                .map_err(|_| TokenizeError::InvalidUtf8 {
                    path: source.to_owned(),
                    line: i as u64 + 1,
                })
        })
        .collect()
}

/// Token ids written as a JSON array or separated by whitespace or commas.
pub fn parse_ids(text: &str) -> Result<Vec<u32>, TokenizeError> {
    let trimmed = text.trim();
    let bad = |message: String| TokenizeError::Options {
        what: "token ids",
        message,
    };
    if trimmed.starts_with('[') {
        return serde_json::from_str(trimmed)
            .map_err(|e| bad(format!("not a JSON array of integers: {e}")));
    }
    trimmed
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<u32>()
                .map_err(|_| bad(format!("`{s}` is not a token id")))
        })
        .collect()
}

#[cfg(test)]
mod document_tests {
    use super::*;

    #[test]
    fn documents_are_lines_and_ids_parse_both_ways() {
        let p = Path::new("in.txt");
        assert_eq!(documents_from_bytes(p, b"a\r\nb\n").unwrap(), ["a", "b"]);
        assert_eq!(documents_from_bytes(p, b"a\n\nb").unwrap(), ["a", "", "b"]);
        assert!(documents_from_bytes(p, b"").unwrap().is_empty());
        let err = documents_from_bytes(p, b"ok\n\xff\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("in.txt") && err.contains("line 2"), "{err}");
        assert_eq!(parse_ids("[1, 2,3]").unwrap(), [1, 2, 3]);
        assert_eq!(parse_ids("4 5,6\n").unwrap(), [4, 5, 6]);
        assert!(parse_ids("7 x").unwrap_err().to_string().contains("`x`"));
    }
}
