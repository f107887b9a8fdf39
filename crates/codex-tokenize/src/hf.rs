//! Hugging Face `tokenizer.json` files through the `tokenizers` library.

use std::path::Path;

use tokenizers::{
    PaddingDirection, PaddingParams, PaddingStrategy, TruncationDirection, TruncationParams,
    TruncationStrategy,
};

use crate::encoding::{EncodeOptions, Encoding, PadTo, Side};
use crate::error::TokenizeError;

/// A tokenizer loaded from (or trained into) a `tokenizer.json`.
#[derive(Debug, Clone)]
pub struct HfTokenizer {
    inner: tokenizers::Tokenizer,
    /// Set while truncation is configured: the same pipeline without
    /// truncation, padding or post-processor.
    ///
    /// tokenizers 0.23.2 stops tokenizing at `max_length` tokens inside the model
    /// step ("early truncation"), so it never produces the overflowing windows a
    /// stride asks for; the Python package (0.23.3) does. Encoding in full with
    /// this copy and then running the library's own `post_process` (truncate,
    /// post-process, pad) restores the windows and matches Python's output.
    raw: Option<Box<tokenizers::Tokenizer>>,
    /// An exact, faster encoder for byte-level BPE files (see `fast_bpe`), used
    /// for ids when no padding or truncation is configured.
    fast: Option<std::sync::Arc<crate::fast_bpe::FastBpe>>,
}

fn convert(e: tokenizers::Encoding) -> Encoding {
    Encoding {
        ids: e.get_ids().to_vec(),
        tokens: e.get_tokens().to_vec(),
        offsets: e.get_offsets().to_vec(),
        attention_mask: e.get_attention_mask().to_vec(),
        special_tokens_mask: e.get_special_tokens_mask().to_vec(),
        overflowing: e.get_overflowing().iter().cloned().map(convert).collect(),
    }
}

impl HfTokenizer {
    /// Loads a `tokenizer.json`; a corrupt file is an error naming it.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, TokenizeError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| TokenizeError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_bytes(&bytes).map_err(|e| match e {
            TokenizeError::Library { message, .. } => TokenizeError::Load {
                path: path.to_path_buf(),
                message,
            },
            other => other,
        })
    }

    /// Parses `tokenizer.json` content. Malformed content is an error, never
    /// a panic: the tokenizers library panics on some (a syntax error inside
    /// `decoder` reaches an `expect`), so the JSON is checked first and the
    /// library's parse is fenced.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, TokenizeError> {
        // The library panics on a decoder that is not JSON it can read, so
        // the whole file is checked first as strictly as `serde_json::Value`
        // reads it (UTF-8, syntax, numbers in range), without building it.
        if let Err(e) = std::str::from_utf8(bytes) {
            return Err(TokenizeError::library(
                "load",
                format!("not UTF-8 (invalid byte at offset {})", e.valid_up_to()),
            ));
        }
        serde_json::from_slice::<StrictJson>(bytes)
            .map_err(|e| TokenizeError::library("load", format!("not valid JSON: {e}")))?;
        let inner = std::panic::catch_unwind(|| tokenizers::Tokenizer::from_bytes(bytes))
            .map_err(|_| TokenizeError::library("load", "the tokenizers library failed on it"))?
            .map_err(|e| TokenizeError::library("load", e))?;
        // The library writes a vocabulary out by walking every id up to the
        // largest and listing the missing ones, so one absurd id makes saving
        // (and codex's own look at the model) run out of memory.
        if let Some((token, id)) = inner
            .get_vocab(true)
            .into_iter()
            .filter(|(_, id)| *id > MAX_TOKEN_ID)
            .max_by_key(|(_, id)| *id)
        {
            return Err(TokenizeError::library(
                "load",
                format!(
                    "token {token:?} has id {id}, beyond the largest codex accepts ({MAX_TOKEN_ID}; \
                     the largest real vocabularies have about 262,000 tokens)"
                ),
            ));
        }
        let truncation = inner.get_truncation().cloned();
        let mut t = Self::from_inner(inner);
        // The library does not check a file's truncation when it reads it.
        t.set_truncation(truncation)
            .map_err(|e| TokenizeError::library("load", format!("truncation: {e}")))?;
        Ok(t)
    }

    pub(crate) fn from_inner(mut inner: tokenizers::Tokenizer) -> Self {
        // A tokenizer.json may carry its own truncation; route it through `raw` too.
        let truncation = inner.get_truncation().cloned();
        let fast = inner
            .to_string(false)
            .ok()
            .and_then(|json| serde_json::from_str::<serde_json::Value>(&json).ok())
            .and_then(|v| crate::fast_bpe::FastBpe::from_json(&v))
            .map(std::sync::Arc::new);
        let mut t = Self {
            raw: None,
            fast,
            inner: {
                inner
                    .with_truncation(None)
                    .expect("removing truncation cannot fail");
                inner
            },
        };
        // A file's truncation is checked by `from_bytes`; a trained
        // tokenizer has none.
        if t.set_truncation(truncation).is_err() {
            let _ = t.set_truncation(None);
        }
        t
    }

    fn set_truncation(
        &mut self,
        truncation: Option<TruncationParams>,
    ) -> Result<(), TokenizeError> {
        self.inner
            .with_truncation(truncation.clone())
            .map_err(|e| TokenizeError::Options {
                what: "truncation",
                message: e.to_string(),
            })?;
        self.raw = match truncation {
            None => None,
            Some(_) => {
                let mut raw = self.inner.clone();
                raw.with_truncation(None)
                    .expect("removing truncation cannot fail");
                raw.with_padding(None);
                raw.with_post_processor(None::<tokenizers::PostProcessorWrapper>);
                Some(Box::new(raw))
            }
        };
        Ok(())
    }

    /// Encodes as the library does, with working overflow windows (see `raw`).
    fn encode_inner(
        &self,
        text: &str,
        add_special_tokens: bool,
    ) -> tokenizers::Result<tokenizers::Encoding> {
        match &self.raw {
            None => self.inner.encode(text, add_special_tokens),
            Some(raw) => {
                let full = raw.encode(text, false)?;
                self.inner.post_process(full, None, add_special_tokens)
            }
        }
    }

    /// The `tokenizer.json` text.
    pub fn to_json(&self, pretty: bool) -> Result<String, TokenizeError> {
        self.inner
            .to_string(pretty)
            .map_err(|e| TokenizeError::library("save", e))
    }

    /// Sets padding and truncation; they then apply to every encode call.
    pub fn configure(&mut self, options: &EncodeOptions) -> Result<(), TokenizeError> {
        let padding = match &options.padding {
            None => None,
            Some(p) => {
                let pad_id =
                    self.inner
                        .token_to_id(&p.token)
                        .ok_or_else(|| TokenizeError::Options {
                            what: "padding",
                            message: format!("pad token `{}` is not in the vocabulary", p.token),
                        })?;
                Some(PaddingParams {
                    strategy: match p.to {
                        PadTo::Longest => PaddingStrategy::BatchLongest,
                        PadTo::Fixed(n) => PaddingStrategy::Fixed(n),
                    },
                    direction: match p.side {
                        Side::Left => PaddingDirection::Left,
                        Side::Right => PaddingDirection::Right,
                    },
                    pad_to_multiple_of: p.multiple_of,
                    pad_id,
                    pad_type_id: 0,
                    pad_token: p.token.clone(),
                })
            }
        };
        let truncation = options.truncation.as_ref().map(|t| TruncationParams {
            direction: match t.side {
                Side::Left => TruncationDirection::Left,
                Side::Right => TruncationDirection::Right,
            },
            max_length: t.max_length,
            strategy: TruncationStrategy::LongestFirst,
            stride: t.stride,
        });
        self.inner.with_padding(padding);
        self.set_truncation(truncation)
    }

    /// The ids of the added tokens marked special, sorted.
    pub fn special_ids(&self) -> Vec<u32> {
        let mut ids: Vec<u32> = self
            .inner
            .get_added_tokens_decoder()
            .into_iter()
            .filter(|(_, t)| t.special)
            .map(|(id, _)| id)
            .collect();
        ids.sort_unstable();
        ids
    }

    /// Encodes one text.
    pub fn encode(&self, text: &str, add_special_tokens: bool) -> Result<Encoding, TokenizeError> {
        self.encode_inner(text, add_special_tokens)
            .map(convert)
            .map_err(|e| TokenizeError::library("encode", e))
    }

    /// Encodes many texts in parallel (and pads them together when padding is set).
    pub fn encode_batch(
        &self,
        texts: &[&str],
        add_special_tokens: bool,
    ) -> Result<Vec<Encoding>, TokenizeError> {
        let encodings = if self.raw.is_none() {
            self.inner.encode_batch(texts.to_vec(), add_special_tokens)
        } else {
            use rayon::prelude::*;
            texts
                .par_iter()
                .map(|t| self.encode_inner(t, add_special_tokens))
                .collect::<tokenizers::Result<Vec<_>>>()
                .and_then(|mut v| {
                    if let Some(params) = self.inner.get_padding() {
                        tokenizers::pad_encodings(&mut v, params)?;
                    }
                    Ok(v)
                })
        };
        encodings
            .map(|v| v.into_iter().map(convert).collect())
            .map_err(|e| TokenizeError::library("encode", e))
    }

    /// Ids only, in parallel, without building offsets and masks for the caller.
    pub fn encode_batch_ids(
        &self,
        texts: &[&str],
        add_special_tokens: bool,
    ) -> Result<Vec<Vec<u32>>, TokenizeError> {
        if self.raw.is_some() {
            return Ok(self
                .encode_batch(texts, add_special_tokens)?
                .into_iter()
                .map(|e| e.ids)
                .collect());
        }
        if let Some(fast) = self
            .fast
            .as_deref()
            .filter(|_| self.inner.get_padding().is_none())
        {
            use rayon::prelude::*;
            return Ok(texts.par_iter().map(|t| fast.encode(t)).collect());
        }
        self.inner
            .encode_batch_fast(texts.to_vec(), add_special_tokens)
            .map(|v| v.into_iter().map(|e| e.get_ids().to_vec()).collect())
            .map_err(|e| TokenizeError::library("encode", e))
    }

    /// Decodes ids.
    pub fn decode(&self, ids: &[u32], skip_special_tokens: bool) -> Result<String, TokenizeError> {
        let n = self.vocab_size();
        if let Some(&id) = ids.iter().find(|&&id| id as usize >= n) {
            return Err(TokenizeError::IdOutOfRange { id, vocab_size: n });
        }
        self.inner
            .decode(ids, skip_special_tokens)
            .map_err(|e| TokenizeError::library("decode", e))
    }

    /// Vocabulary size including added tokens.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// Id of a token.
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// Token of an id.
    pub fn id_to_token(&self, id: u32) -> Option<String> {
        self.inner.id_to_token(id)
    }

    /// Model type, special tokens and the normalizer and pre-tokenizer chain, read
    /// from the serialized form so every component type is named as in the file.
    pub fn describe(&self) -> Result<crate::TokenizerInfo, TokenizeError> {
        let json: serde_json::Value = serde_json::from_str(&self.to_json(false)?)
            .map_err(|e| TokenizeError::library("describe", e))?;
        let chain = |key: &str| -> Vec<String> {
            fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
                let Some(t) = v.get("type").and_then(|t| t.as_str()) else {
                    return;
                };
                if t == "Sequence" {
                    for key in [
                        "normalizers",
                        "pretokenizers",
                        "pre_tokenizers",
                        "decoders",
                        "processors",
                    ] {
                        if let Some(items) = v.get(key).and_then(|i| i.as_array()) {
                            items.iter().for_each(|i| walk(i, out));
                        }
                    }
                } else {
                    out.push(t.to_owned());
                }
            }
            let mut out = Vec::new();
            walk(&json[key], &mut out);
            out
        };
        let mut special: Vec<(u32, String)> = self
            .inner
            .get_added_tokens_decoder()
            .into_iter()
            .filter(|(_, t)| t.special)
            .map(|(id, t)| (id, t.content))
            .collect();
        special.sort();
        Ok(crate::TokenizerInfo {
            format: "huggingface".into(),
            model: json["model"]["type"]
                .as_str()
                .unwrap_or("unknown")
                .to_owned(),
            vocab_size: self.vocab_size(),
            special_tokens: special,
            normalizers: chain("normalizer"),
            pre_tokenizers: chain("pre_tokenizer"),
            decoders: chain("decoder"),
            byte_fallback: json["model"]["byte_fallback"].as_bool().unwrap_or(false),
        })
    }
}

/// The largest token id a loaded tokenizer may use (2^24 − 1).
const MAX_TOKEN_ID: u32 = (1 << 24) - 1;

/// Any JSON value, read as strictly as `serde_json::Value` (every string's
/// UTF-8, every number's range) and thrown away.
struct StrictJson;

impl<'de> serde::Deserialize<'de> for StrictJson {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictJsonVisitor)
    }
}

struct StrictJsonVisitor;

impl<'de> serde::de::Visitor<'de> for StrictJsonVisitor {
    type Value = StrictJson;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<StrictJson, E> {
        Ok(StrictJson)
    }
    fn visit_i64<E>(self, _: i64) -> Result<StrictJson, E> {
        Ok(StrictJson)
    }
    fn visit_u64<E>(self, _: u64) -> Result<StrictJson, E> {
        Ok(StrictJson)
    }
    fn visit_f64<E>(self, _: f64) -> Result<StrictJson, E> {
        Ok(StrictJson)
    }
    fn visit_str<E>(self, _: &str) -> Result<StrictJson, E> {
        Ok(StrictJson)
    }
    fn visit_unit<E>(self) -> Result<StrictJson, E> {
        Ok(StrictJson)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<StrictJson, A::Error> {
        while seq.next_element::<StrictJson>()?.is_some() {}
        Ok(StrictJson)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<StrictJson, A::Error> {
        while map.next_entry::<StrictJson, StrictJson>()?.is_some() {}
        Ok(StrictJson)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = include_str!("../../../fuzz/corpus/tokenizer_json/bpe-384.json");

    // Found by the fuzz sweep: a syntax error inside `decoder` made the
    // tokenizers library panic (`expect("Helper")`) instead of failing.
    #[test]
    fn a_syntax_error_inside_the_decoder_is_an_error_not_a_panic() {
        assert!(HfTokenizer::from_bytes(GOOD.as_bytes()).is_ok());
        let bad = GOOD.replacen(
            "\"add_prefix_space\": true,",
            "\"add_prefix_space\": true \"x\",",
            1,
        );
        assert_ne!(bad, GOOD);
        let err = HfTokenizer::from_bytes(bad.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("not valid JSON"), "{err}");
    }

    // Found by `cargo xtask fuzz tokenizer_json` (10 s in): a byte that is
    // not UTF-8 inside the decoder passed the syntax check, which skips over
    // strings without validating them, and the library panicked on it.
    #[test]
    fn invalid_utf8_inside_the_decoder_is_an_error_not_a_panic() {
        let at = GOOD.find("\"decoder\"").unwrap();
        let key = at + GOOD[at..].find("use_regex").unwrap();
        let mut bad = GOOD.as_bytes().to_vec();
        bad[key + 7] = 0xE5;
        let err = HfTokenizer::from_bytes(&bad).unwrap_err();
        assert!(err.to_string().contains("not UTF-8"), "{err}");
    }

    // Found by the same fuzz target's second run (5 min in): a number out of
    // f64's range inside the decoder, which the library's decoder reader
    // also panicked on.
    #[test]
    fn a_number_out_of_range_inside_the_decoder_is_an_error_not_a_panic() {
        let at = GOOD.find("\"decoder\"").unwrap();
        let bad = format!(
            "{}{}",
            &GOOD[..at],
            GOOD[at..].replacen("\"use_regex\": true", "\"use_regex\": 1e999", 1)
        );
        assert_ne!(bad, GOOD);
        let err = HfTokenizer::from_bytes(bad.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("number out of range"), "{err}");
    }

    // Found by the same fuzz target's third run (4 min in): a vocabulary id of
    // 3,706,009,431 made the library's serializer list 3.7 billion missing ids.
    #[test]
    fn an_absurd_token_id_is_an_error_not_an_out_of_memory() {
        let bad = GOOD.replacen("\"!\": 2,", "\"!\": 3706009431,", 1);
        assert_ne!(bad, GOOD);
        let err = HfTokenizer::from_bytes(bad.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("3706009431"), "{err}");
        let fine = GOOD.replacen("\"!\": 2,", "\"!\": 5000,", 1);
        assert!(HfTokenizer::from_bytes(fine.as_bytes()).is_ok());
    }

    #[test]
    fn a_truncation_the_library_would_refuse_is_an_error() {
        let bad = GOOD.replacen(
            "\"truncation\": null",
            "\"truncation\": {\"direction\": \"Right\", \"max_length\": 4, \"strategy\": \"LongestFirst\", \"stride\": 9}",
            1,
        );
        assert_ne!(bad, GOOD);
        assert!(HfTokenizer::from_bytes(bad.as_bytes()).is_err());
    }
}
