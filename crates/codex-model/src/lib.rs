//! `codex-model`: decoder-only transformers on Burn, and the choice of device they run on.
//!
//! This is the only library crate (with `codex-train`, which builds on it) that
//! compiles a tensor backend. It depends on `codex-core` and `burn`; it never
//! depends on tokenizer, data or tracking crates.
//!
//! Read [`DeviceSpec`] first: every tensor codex creates lives on the device it
//! selects. Then [`ModelConfig`] (one shape for the GPT-2 and Llama families,
//! named ones in [`architectures`]), [`Transformer`] (built from a
//! [`ParamSource`]: [`RandomInit`], a Hugging Face checkpoint through
//! [`import_hf`], or a Burn record through [`load_native`]), [`generate`] (KV
//! cache, sampling, batches) and the LoRA methods on [`Transformer`]
//! ([`LoraConfig`]). [`export_hf`] writes what `transformers` loads.
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
//!
//! The workspace's `lora_finetune` example imports a Hugging Face model,
//! fine-tunes it with LoRA adapters and exports it back.

/// The Burn version codex-model is built on, for crates that pass tensors and devices through.
pub use burn;

mod config;
mod device;
mod error;
#[cfg(feature = "flex")]
mod fused;
mod generate;
mod hf;
mod inspect;
#[cfg(feature = "flex")]
pub mod kernels;
mod lora;
mod model;
mod norm;
mod optim;
mod params;
mod st;
mod system;

pub use config::{ModelConfig, ParamCounts, RopeScaling, Variant, architectures, families};
pub use device::{
    Backend, DeviceSpec, VisibleDevice, backend_registry, compiled_backends, visible_devices,
};
pub use error::ModelError;
pub use generate::{GenerateOptions, Generation, StopReason, generate};
pub use hf::{
    SUPPORTED_MODEL_TYPES, WeightsSummary, export_hf, hf_config_json, import_hf, load_native,
    read_hf_config, save_native, summarize_hf,
};
pub use inspect::{
    Imported, Inspection, NATIVE_FILE, TOKENIZER_FILES, copy_tokenizer_files, import_to_native,
    inspect, native_path,
};
pub use lora::{LORA_TARGET_NAMES, LoraAdapter, LoraConfig, LoraTarget};
pub use model::{
    Attention, Block, ForwardOptions, KvCache, LossOutput, Mlp, Norm, Proj, Transformer,
    cross_entropy,
};
pub use norm::squared_norm;
pub use optim::{AdamW, AdamWMoments};
pub use params::{Init, ParamSource, Placeholder, RandomInit};
pub use system::SystemReport;
