//! `codex-tokenize`: text to token ids behind the `codex_core::Tokenizer` trait.
//!
//! May depend on `codex-core` and the Hugging Face `tokenizers` library; never on
//! a tensor backend, nor on data, model or training crates. The rest of the
//! workspace sees tokenizers through [`AnyTokenizer`] and `codex_core::Tokenizer`,
//! never through the library's types.
//!
//! Read [`AnyTokenizer`] first: it loads a Hugging Face `tokenizer.json`
//! ([`HfTokenizer`]) or a SentencePiece `.model` ([`SpmModel`], decoded and run in
//! pure Rust with the reference's exact semantics). [`train`] builds new
//! tokenizers from streamed corpora and writes a manifest; [`unigram_to_spm`]
//! writes a Unigram tokenizer as a SentencePiece `.model`.
//!
//! # Features
//!
//! `sentencepiece` (off by default) adds `NativeSpm`, Google's C++ library via the
//! `sentencepiece` crate (needs cmake), used to check the pure-Rust path against it.
//!
//! ```no_run
//! use codex_tokenize::AnyTokenizer;
//!
//! let tok = AnyTokenizer::from_file("tokenizer/tokenizer.json")?;
//! let ids = tok.encode("Hello world", false)?;
//! assert_eq!(tok.decode(&ids, true)?, "Hello world");
//! # Ok::<(), codex_tokenize::TokenizeError>(())
//! ```
//!
//! The workspace's `tokenizer` example trains a tokenizer and uses it.

mod analyze;
mod chat;
mod encoding;
mod error;
mod fast_bpe;
mod hf;
#[cfg(feature = "sentencepiece")]
mod native;
mod special;
mod spm;
pub mod train;

use std::path::Path;

use serde::Serialize;

pub use analyze::{CorpusStats, Mismatch, RoundTrip, corpus_stats, round_trip};
pub use chat::{
    BUILTIN_CHAT_TEMPLATES, ChatEncoding, ChatTemplate, LossOn, RenderOptions, Rendered,
};
pub use encoding::{
    EncodeOptions, Encoding, PadTo, Padding, Side, Truncation, documents_from_bytes, parse_ids,
};
pub use error::TokenizeError;
pub use hf::HfTokenizer;
#[cfg(feature = "sentencepiece")]
pub use native::NativeSpm;
pub use special::SpecialTokens;
pub use spm::{SpmModel, SpmPiece, unigram_to_spm};

/// What `codex tokenizer inspect` shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenizerInfo {
    /// `huggingface` or `sentencepiece`.
    pub format: String,
    /// Model type: `BPE`, `Unigram`, `WordPiece`, `WordLevel`, `unigram`, `bpe`.
    pub model: String,
    /// Vocabulary size, special tokens included.
    pub vocab_size: usize,
    /// Special tokens by id.
    pub special_tokens: Vec<(u32, String)>,
    /// Normalizer chain, outermost first.
    pub normalizers: Vec<String>,
    /// Pre-tokenizer chain.
    pub pre_tokenizers: Vec<String>,
    /// Decoder chain.
    pub decoders: Vec<String>,
    /// Whether unknown characters fall back to byte tokens.
    pub byte_fallback: bool,
}

impl TokenizerInfo {
    /// Format, model, chains and special tokens as `key value` lines.
    pub fn to_text(&self) -> String {
        let info = self;
        let join = |items: &[String]| {
            if items.is_empty() {
                "(none)".into()
            } else {
                items.join(" → ")
            }
        };
        let mut r = codex_core::TextReport::new(15);
        r.kv("format", &info.format)
            .kv("model", &info.model)
            .kv("vocabulary", info.vocab_size)
            .kv("byte fallback", info.byte_fallback)
            .kv("normalizers", join(&info.normalizers))
            .kv("pre-tokenizers", join(&info.pre_tokenizers))
            .kv("decoders", join(&info.decoders))
            .line("special tokens");
        for (id, t) in &info.special_tokens {
            r.line(format_args!("  {id:>6}  {t}"));
        }
        r.finish()
    }
}

/// A tokenizer of either supported format.
#[derive(Debug, Clone)]
pub enum AnyTokenizer {
    /// A Hugging Face `tokenizer.json` (boxed, like the other variant: both are large).
    Hf(Box<HfTokenizer>),
    /// A SentencePiece `.model`.
    Spm(Box<SpmModel>),
}

impl AnyTokenizer {
    /// Loads `.model` files as SentencePiece and anything else as `tokenizer.json`.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, TokenizeError> {
        let path = path.as_ref();
        if path.extension().is_some_and(|e| e == "model") {
            SpmModel::from_file(path).map(|m| Self::Spm(Box::new(m)))
        } else {
            HfTokenizer::from_file(path).map(|t| Self::Hf(Box::new(t)))
        }
    }

    /// Encodes one text to ids.
    pub fn encode(&self, text: &str, add_special_tokens: bool) -> Result<Vec<u32>, TokenizeError> {
        match self {
            Self::Hf(t) => Ok(t.encode(text, add_special_tokens)?.ids),
            Self::Spm(m) => Ok(m.encode(text)),
        }
    }

    /// Encodes many texts to ids, in parallel.
    pub fn encode_batch(
        &self,
        texts: &[&str],
        add_special_tokens: bool,
    ) -> Result<Vec<Vec<u32>>, TokenizeError> {
        use rayon::prelude::*;
        match self {
            Self::Hf(t) => t.encode_batch_ids(texts, add_special_tokens),
            Self::Spm(m) => Ok(texts.par_iter().map(|t| m.encode(t)).collect()),
        }
    }

    /// Decodes ids to text.
    pub fn decode(&self, ids: &[u32], skip_special_tokens: bool) -> Result<String, TokenizeError> {
        match self {
            Self::Hf(t) => t.decode(ids, skip_special_tokens),
            Self::Spm(m) => m.decode(ids),
        }
    }

    /// Vocabulary size.
    pub fn vocab_size(&self) -> usize {
        match self {
            Self::Hf(t) => t.vocab_size(),
            Self::Spm(m) => m.vocab_size(),
        }
    }

    /// Id of a token string.
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        match self {
            Self::Hf(t) => t.token_to_id(token),
            Self::Spm(m) => m.piece_to_id(token),
        }
    }

    /// Token string of an id.
    pub fn id_to_token(&self, id: u32) -> Option<String> {
        match self {
            Self::Hf(t) => t.id_to_token(id),
            Self::Spm(m) => m.id_to_piece(id).map(str::to_owned),
        }
    }

    /// The id unknown text maps to, if the model has one.
    pub fn unk_id(&self) -> Option<u32> {
        match self {
            Self::Hf(t) => ["<unk>", "[UNK]", "<|unk|>"]
                .iter()
                .find_map(|u| t.token_to_id(u)),
            Self::Spm(m) => Some(m.unk_id()),
        }
    }

    /// Model type, vocabulary, special tokens and processing chain.
    pub fn describe(&self) -> Result<TokenizerInfo, TokenizeError> {
        match self {
            Self::Hf(t) => t.describe(),
            Self::Spm(m) => Ok(TokenizerInfo {
                format: "sentencepiece".into(),
                model: m.model_type().into(),
                vocab_size: m.vocab_size(),
                special_tokens: m
                    .special_pieces()
                    .into_iter()
                    .map(|(id, piece, kind)| (id, format!("{piece} ({kind})")))
                    .collect(),
                normalizers: vec![format!("precompiled charsmap `{}`", m.normalizer_name())],
                pre_tokenizers: vec!["whitespace to \u{2581} with dummy prefix".into()],
                decoders: vec!["\u{2581} to space".into()],
                byte_fallback: m.byte_fallback(),
            }),
        }
    }
}

impl codex_core::Tokenizer for AnyTokenizer {
    fn encode(
        &self,
        text: &str,
        add_special_tokens: bool,
    ) -> Result<Vec<u32>, codex_core::TokenizerError> {
        Ok(AnyTokenizer::encode(self, text, add_special_tokens)?)
    }

    fn encode_batch(
        &self,
        texts: &[&str],
        add_special_tokens: bool,
    ) -> Result<Vec<Vec<u32>>, codex_core::TokenizerError> {
        Ok(AnyTokenizer::encode_batch(self, texts, add_special_tokens)?)
    }

    fn decode(
        &self,
        ids: &[u32],
        skip_special_tokens: bool,
    ) -> Result<String, codex_core::TokenizerError> {
        Ok(AnyTokenizer::decode(self, ids, skip_special_tokens)?)
    }

    fn vocab_size(&self) -> usize {
        AnyTokenizer::vocab_size(self)
    }

    fn token_to_id(&self, token: &str) -> Option<u32> {
        AnyTokenizer::token_to_id(self, token)
    }

    fn id_to_token(&self, id: u32) -> Option<String> {
        AnyTokenizer::id_to_token(self, id)
    }
}

/// The tokenizer kinds codex trains and the formats it loads, by the names a
/// configuration uses (`tokenizer.kind`), for `codex registry list`.
pub fn registry() -> codex_core::Registry<()> {
    use codex_core::config::TokenizerKind;
    let mut r = codex_core::Registry::new("tokenizer");
    for (kind, description) in [
        (TokenizerKind::Bpe, "byte-level BPE (GPT-2 style)"),
        (
            TokenizerKind::Unigram,
            "Unigram language model (SentencePiece style, codex's own trainer), exportable as .model",
        ),
        (
            TokenizerKind::Wordpiece,
            "WordPiece (BERT style, upstream merges in a fixed order)",
        ),
        (TokenizerKind::Wordlevel, "whole-word vocabulary"),
    ] {
        r.register(train::kind_name(kind), description, ())
            .expect("kind names are distinct");
    }
    r.register(
        "sentencepiece",
        "load Google SentencePiece .model files (Unigram, BPE) in pure Rust",
        (),
    )
    .expect("names are distinct");
    r
}
