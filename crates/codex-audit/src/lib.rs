//! `codex-audit`: an offline, deterministic audit of a repository treated as untrusted input.
//!
//! May depend on `codex-core` and parsing libraries; never on a tensor backend,
//! and nothing in the audited repository is ever executed.
//!
//! Status: the audit issue builds this crate (inventory, README summary,
//! placeholder scan, complexity, repo map); it has no API yet, and `codex audit`
//! says so instead of pretending. No cargo features yet.
