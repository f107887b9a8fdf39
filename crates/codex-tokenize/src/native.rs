//! Google's SentencePiece library itself, through the `sentencepiece` crate
//! (feature `sentencepiece`; building it needs cmake and a C++ compiler).

use std::path::Path;

use crate::error::TokenizeError;

/// A SentencePiece model run by Google's C++ library.
#[derive(Debug)]
pub struct NativeSpm {
    inner: sentencepiece::SentencePieceProcessor,
}

impl NativeSpm {
    /// Loads a `.model` file with Google's library.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, TokenizeError> {
        let path = path.as_ref();
        sentencepiece::SentencePieceProcessor::open(path)
            .map(|inner| Self { inner })
            .map_err(|e| TokenizeError::Load {
                path: path.to_path_buf(),
                message: e.to_string(),
            })
    }

    /// Loads serialized `ModelProto` bytes with Google's library.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, TokenizeError> {
        sentencepiece::SentencePieceProcessor::from_serialized_proto(bytes)
            .map(|inner| Self { inner })
            .map_err(|e| TokenizeError::library("load", e))
    }

    /// Encodes text to ids.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, TokenizeError> {
        self.inner
            .encode(text)
            .map(|pieces| pieces.into_iter().map(|p| p.id).collect())
            .map_err(|e| TokenizeError::library("encode", e))
    }

    /// Decodes ids to text.
    pub fn decode(&self, ids: &[u32]) -> Result<String, TokenizeError> {
        self.inner
            .decode_piece_ids(ids)
            .map_err(|e| TokenizeError::library("decode", e))
    }
}
