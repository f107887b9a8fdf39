//! `codex-data`: how text becomes training batches, reproducibly.
//!
//! May depend on `codex-core` and `codex-tokenize`; never on a tensor backend
//! (batches leave this crate as plain `u32` arrays) and never on `codex-safety`:
//! documents pass through the `codex_core::TextFilter` trait, which the binary
//! fills with the safety crate's policy.
//!
//! Status: the data issue builds this crate (sources, synthetic corpus, splits,
//! shards with hashed manifests, resumable samplers); it has no API yet, and
//! `codex data` says so instead of pretending. No cargo features yet.
