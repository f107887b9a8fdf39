//! Encodings and the options that shape them: special tokens, padding, truncation.

use serde::Serialize;

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
