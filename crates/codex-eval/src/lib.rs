//! `codex-eval`: evaluation metrics that match the references the field reports with.
//!
//! May depend on `codex-core`; never on a tensor backend. Language-model metrics
//! that need a model (perplexity of a checkpoint) are computed by `codex-train`
//! and handed here as numbers.
//!
//! Status: the evaluation issue builds this crate (BLEU, chrF, ROUGE, EM/F1,
//! bootstrap); it has no API yet, and `codex eval` says so instead of pretending.
//! No cargo features yet.
