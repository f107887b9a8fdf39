//! The tokenizer seam: `codex-tokenize` implements it; data, training and generation use it
//! without seeing the tokenizer library.

/// Error type for tokenizer implementations, whose failures come from their libraries.
pub type TokenizerError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Text to token ids and back.
pub trait Tokenizer: Send + Sync {
    /// Encodes one text; `add_special_tokens` applies the tokenizer's post-processor (bos/eos).
    fn encode(&self, text: &str, add_special_tokens: bool) -> Result<Vec<u32>, TokenizerError>;

    /// Encodes many texts; implementations override this to encode in parallel.
    fn encode_batch(
        &self,
        texts: &[&str],
        add_special_tokens: bool,
    ) -> Result<Vec<Vec<u32>>, TokenizerError> {
        texts
            .iter()
            .map(|t| self.encode(t, add_special_tokens))
            .collect()
    }

    /// Decodes ids back to text.
    fn decode(&self, ids: &[u32], skip_special_tokens: bool) -> Result<String, TokenizerError>;

    /// Number of ids the tokenizer can produce, special tokens included.
    fn vocab_size(&self) -> usize;

    /// The id of a token string, if it is in the vocabulary.
    fn token_to_id(&self, token: &str) -> Option<u32>;

    /// The token string of an id, if the id is in range.
    fn id_to_token(&self, id: u32) -> Option<String>;
}
