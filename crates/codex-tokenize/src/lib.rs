//! `codex-tokenize`: text to token ids behind the `codex_core::Tokenizer` trait.
//!
//! May depend on `codex-core` and tokenizer libraries (Hugging Face `tokenizers`,
//! optionally `sentencepiece`); never on a tensor backend, nor on data, model or
//! training crates. The rest of the workspace sees tokenizers only through
//! `codex_core::Tokenizer`, never through the library types.
//!
//! Status: the tokenization issue builds this crate (loading and training
//! Hugging Face tokenizers, pure-Rust SentencePiece, manifests); it has no API yet,
//! and `codex tokenizer` says so instead of pretending. No cargo features yet.
