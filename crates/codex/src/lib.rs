//! `codex`: the whole toolkit as one dependency.
//!
//! Each codex crate is re-exported under its own name and a feature of the
//! same name (all on by default, with the `flex` CPU backend):
//!
//! | module | crate | what it is for |
//! |---|---|---|
//! | [`core`] | `codex-core` | configuration, run directories, atomic writes, hashing, seeds, provenance, redaction, the seams ([`core::TextFilter`], [`core::MetricSink`], [`core::Tokenizer`]) |
//! | `tokenize` | `codex-tokenize` | Hugging Face `tokenizer.json` and SentencePiece `.model`, training tokenizers |
//! | `data` | `codex-data` | corpora to token shards, samplers |
//! | `model` | `codex-model` | transformers on Burn, devices, Hugging Face import/export, LoRA, generation |
//! | `train` | `codex-train` | the training loop and the jobs: `train::TrainJob`, sweeps, generation, LM evaluation, model loading |
//! | `eval` | `codex-eval` | BLEU, chrF, ROUGE, EM/F1 as sacreBLEU and rouge-score compute them |
//! | `safety` | `codex-safety` | secrets, PII and prompt-injection policies |
//! | `track` | `codex-track` | NDJSON, CSV, TensorBoard and MLflow sinks, reports, run directories read back |
//! | `audit` | `codex-audit` | repository audits |
//!
//! Backends: `flex` (default), `ndarray`, `wgpu`, `cuda`, forwarded to the
//! model and training crates.
//!
//! The examples beside this crate run from the workspace root with
//! `cargo run --release --example NAME`: `train_tiny` (a training job with a
//! custom observer), `lora_finetune` (import a Hugging Face model, LoRA
//! fine-tune, export), `score_text` (BLEU, chrF, ROUGE from strings),
//! `tokenizer` (train and use a tokenizer), `safety_policy` (scan with a
//! custom policy), `audit_repo` (audit a repository) and `plugins` (a custom
//! metric sink and text filter plugged into a job).
//!
//! ```
//! let loaded = codex::core::config::ConfigLoader::new()
//!     .overrides(["train.max_steps=100"])
//!     .load()?;
//! assert_eq!(loaded.config.train.max_steps, 100);
//! # Ok::<(), codex::core::Error>(())
//! ```

pub use codex_core as core;

#[cfg(feature = "audit")]
pub use codex_audit as audit;
#[cfg(feature = "data")]
pub use codex_data as data;
#[cfg(feature = "eval")]
pub use codex_eval as eval;
#[cfg(feature = "model")]
pub use codex_model as model;
#[cfg(feature = "safety")]
pub use codex_safety as safety;
#[cfg(feature = "tokenize")]
pub use codex_tokenize as tokenize;
#[cfg(feature = "track")]
pub use codex_track as track;
#[cfg(feature = "train")]
pub use codex_train as train;

/// Build facts for the provenance of runs started from a Rust program (the
/// `codex` binary fills in its git commit and compiler; a library cannot).
pub fn build_info() -> codex_core::BuildInfo {
    codex_core::BuildInfo {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        git_commit: None,
        git_dirty: None,
        rustc: "unknown (library build)".to_owned(),
        cargo_lock_blake3: None,
        target: format!("{}-{}", std::env::consts::ARCH, std::env::consts::OS),
        profile: if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
        .to_owned(),
        #[cfg(feature = "model")]
        backends: codex_model::compiled_backends()
            .iter()
            .map(|b| b.feature().to_owned())
            .collect(),
        #[cfg(not(feature = "model"))]
        backends: Vec::new(),
    }
}
