//! `codex-core`: the shared vocabulary of the codex workspace.
//!
//! Every other codex crate depends on this one, and this one depends on no
//! tensor framework (no Burn crate) and no tokenizer library. It holds:
//!
//! - the error vocabulary ([`Error`]) and the finding type ([`Diagnostic`]);
//! - the run directory ([`RunDir`]) and atomic file writes ([`AtomicFile`], [`write_atomic`]);
//! - BLAKE3 hashing ([`Digest`], [`hash_file`]) and seeding ([`Seeds`]);
//! - provenance capture ([`Provenance`]) and secret redaction ([`redact`]);
//! - reading untrusted trees: no link followed, only regular files, capped ([`untrusted`]);
//! - named registries ([`Registry`]);
//! - layered configuration ([`config::ConfigLoader`] → [`config::AppConfig`]);
//! - the cross-crate seams: [`TextFilter`], [`MetricSink`] and [`Tokenizer`].
//!
//! Read [`config::AppConfig`] first: it is the shape every run starts from.
//! The crate has no cargo features.
//!
//! ```
//! use codex_core::config::ConfigLoader;
//!
//! let loaded = ConfigLoader::new().overrides(["train.lr=1e-3"]).load()?;
//! assert_eq!(loaded.config.train.lr, 1e-3);
//! # Ok::<(), codex_core::Error>(())
//! ```
//!
//! The workspace's `plugins` example implements [`MetricSink`] and
//! [`TextFilter`] and plugs them into a training job.

mod atomic;
pub mod config;
mod diagnostic;
mod error;
mod filter;
mod hash;
mod metrics;
mod provenance;
pub mod redact;
mod registry;
mod rng;
mod rundir;
mod seed;
pub mod text;
mod tokenizer;
pub mod untrusted;

pub use atomic::{AtomicFile, replace_dir, write_atomic, write_bytes_atomic};
pub use diagnostic::{Diagnostic, Location, Severity};
pub use error::{Error, Result};
pub use filter::{
    Blocked, Filtered, Finding, PassThrough, Stage, TextFilter, Verdict, apply_filter,
};
pub use hash::{Digest, Hasher, ParseDigestError, hash_file, hash_reader};
pub use metrics::{MetricRecord, MetricSink, SinkError};
pub use provenance::{
    BuildInfo, ENV_ALLOW_LIST, GitState, HostInfo, Provenance, git_state, host_info,
    memory_available, nvidia_gpus,
};
pub use redact::REDACTED;
pub use registry::{Entry, Registry, catalog_json, catalog_text, nearest};
pub use rng::Rng;
pub use rundir::RunDir;
pub use seed::Seeds;
pub use text::{TextReport, group_digits};
pub use tokenizer::{Tokenizer, TokenizerError};
