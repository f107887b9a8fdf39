//! Writing a SentencePiece `.model` from a Unigram tokenizer trained here.
//!
//! Pieces keep their ids and scores; the unknown token becomes an UNKNOWN piece,
//! other special tokens CONTROL pieces, `<0xXX>` pieces BYTE pieces under byte
//! fallback. The normalizer is `identity` with a dummy prefix and escaped
//! whitespace, and extra whitespace is kept, which reproduces the Metaspace
//! pre-tokenizer codex trains Unigram with. What differs, both checked by tests:
//! codex's Unigram pipeline applies NFKC first, and the exported model carries no
//! precompiled NFKC table, so text that NFKC changes encodes differently; and for
//! text that starts with whitespace SentencePiece always adds its dummy prefix
//! while the Metaspace pre-tokenizer does not, giving one more leading `▁`.
//! Elsewhere both find a best-scoring segmentation, but where two segmentations
//! score the same they may break the tie differently (Hugging Face sums f64
//! scores word by word, SentencePiece mixes f32 and f64 over the whole text),
//! so ids can differ while scores and decoded text agree.

use crate::error::TokenizeError;
use crate::hf::HfTokenizer;

pub(super) fn varint(mut v: u64, out: &mut Vec<u8>) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

pub(super) fn key(number: u64, wire: u64, out: &mut Vec<u8>) {
    varint(number << 3 | wire, out);
}

pub(super) fn bytes_field(number: u64, payload: &[u8], out: &mut Vec<u8>) {
    key(number, 2, out);
    varint(payload.len() as u64, out);
    out.extend_from_slice(payload);
}

pub(super) fn int_field(number: u64, value: i64, out: &mut Vec<u8>) {
    key(number, 0, out);
    // Protobuf encodes negative int32 values as 10-byte two's-complement varints.
    varint(value as u64, out);
}

/// Serializes `tokenizer` (which must be a Unigram model) as a SentencePiece `ModelProto`.
pub fn unigram_to_spm(tokenizer: &HfTokenizer) -> Result<Vec<u8>, TokenizeError> {
    let json: serde_json::Value = serde_json::from_str(&tokenizer.to_json(false)?)
        .map_err(|e| TokenizeError::library("export", e))?;
    let model = &json["model"];
    if model["type"] != "Unigram" {
        return Err(TokenizeError::Options {
            what: "export",
            message: format!(
                "only Unigram tokenizers can be written as SentencePiece models, this one is {}",
                model["type"]
            ),
        });
    }
    let byte_fallback = model["byte_fallback"].as_bool().unwrap_or(false);
    let unk_id = model["unk_id"].as_u64().ok_or(TokenizeError::Options {
        what: "export",
        message: "SentencePiece needs an unknown token and this Unigram model has none".into(),
    })?;
    let specials: std::collections::HashSet<&str> = json["added_tokens"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| t["special"] == true)
        .filter_map(|t| t["content"].as_str())
        .collect();
    let vocab = model["vocab"].as_array().ok_or(TokenizeError::Options {
        what: "export",
        message: "the Unigram model has no vocabulary".into(),
    })?;

    let mut out = Vec::new();
    for (id, entry) in vocab.iter().enumerate() {
        let piece = entry[0].as_str().unwrap_or_default();
        let score = entry[1].as_f64().unwrap_or(0.0) as f32;
        let is_byte = piece.len() == 6 && piece.starts_with("<0x") && piece.ends_with('>');
        let kind = if id as u64 == unk_id {
            2
        } else if specials.contains(piece) {
            3
        } else if byte_fallback && is_byte {
            6
        } else {
            1
        };
        let mut p = Vec::new();
        bytes_field(1, piece.as_bytes(), &mut p);
        key(2, 5, &mut p);
        p.extend_from_slice(&score.to_bits().to_le_bytes());
        int_field(3, kind, &mut p);
        bytes_field(1, &p, &mut out);
    }

    let mut trainer = Vec::new();
    int_field(3, 1, &mut trainer); // model_type = UNIGRAM
    int_field(4, vocab.len() as i64, &mut trainer);
    int_field(35, i64::from(byte_fallback), &mut trainer);
    int_field(40, unk_id as i64, &mut trainer);
    int_field(41, -1, &mut trainer); // bos_id: none
    int_field(42, -1, &mut trainer); // eos_id: none
    int_field(43, -1, &mut trainer); // pad_id: none
    let unk_piece = vocab[unk_id as usize][0].as_str().unwrap_or("<unk>");
    bytes_field(45, unk_piece.as_bytes(), &mut trainer);
    bytes_field(2, &trainer, &mut out);

    let mut normalizer = Vec::new();
    bytes_field(1, b"identity", &mut normalizer);
    int_field(3, 1, &mut normalizer); // add_dummy_prefix
    int_field(4, 0, &mut normalizer); // remove_extra_whitespaces: keep them, as Metaspace does
    int_field(5, 1, &mut normalizer); // escape_whitespaces
    bytes_field(3, &normalizer, &mut out);
    Ok(out)
}
