//! `codex-model`: decoder-only transformers on Burn, and the choice of device they run on.
//!
//! This is the only library crate (with `codex-train`, which builds on it) that
//! compiles a tensor backend. It depends on `codex-core` and `burn`; it never
//! depends on tokenizer, data or tracking crates.
//!
//! Read [`DeviceSpec`] first: every tensor codex creates lives on the device it
//! selects. The transformer itself (GPT-2 and Llama families, KV-cache
//! generation, LoRA, Hugging Face import and export) is the modeling issue's work
//! and is not in this crate yet.
//!
//! # Features
//!
//! Backends are declared once here and forwarded by `codex-train` and `codex-cli`:
//! `flex` (default, pure-Rust CPU), `ndarray` (older CPU backend), `wgpu`, `cuda`.
//! Asking at run time for a backend that was not compiled in is an error, not a panic.
//!
//! ```
//! use codex_model::DeviceSpec;
//!
//! let spec: DeviceSpec = "cuda:1".parse()?;
//! assert_eq!(spec, DeviceSpec::Cuda(Some(1)));
//! # Ok::<(), codex_model::ModelError>(())
//! ```

mod device;
mod error;

pub use device::{Backend, DeviceSpec, compiled_backends};
pub use error::ModelError;
