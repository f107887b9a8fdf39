//! `codex-safety`: detectors and policies behind the `codex_core::TextFilter` trait.
//!
//! May depend on `codex-core` and matching libraries; never on a tensor backend,
//! and no other codex crate depends on it except the binary, which plugs it into
//! data preparation and generation through the trait.
//!
//! Status: the safety issue builds this crate (detectors, policy files, redaction,
//! audit trail); it has no API yet, and `codex safety` says so instead of
//! pretending. No cargo features yet.
