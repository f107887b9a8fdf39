//! `codex-train`: the training loop that makes codex runs exact and
//! resumable, and the jobs built on it.
//!
//! May depend on `codex-core`, `codex-model`, `codex-data`, `codex-tokenize`,
//! `codex-track` and `codex-eval`; never on `codex-safety` or `codex-audit`
//! (a safety filter comes in through [`FilterMaker`]), and it never prints:
//! progress goes to an [`Observer`] (or [`StepReport`]s) and metrics to
//! `codex_core::MetricSink`s.
//!
//! Read [`TrainJob`] first: the whole `codex train` job — run directory,
//! tokenizer, token shards, model, training, sample, summary, report — as one
//! call, from a [`Plan`] that [`plan`] resolves (new run or resume). The other
//! jobs: [`sweep::Sweep`] (a grid of training jobs), [`generate_text`] and
//! [`evaluate_lm`] (using a trained model), and [`load`] (a model from a run,
//! a checkpoint, a native file or a Hugging Face directory).
//!
//! The loop ([`train`]) is written on Burn's autodiff and its `ModuleOptimizer`
//! (AdamW, with a no-decay group for norms, biases and embeddings) rather than
//! burn-train's `Learner`, which checkpoints per epoch and restores neither the
//! data position nor the random state. A checkpoint ([`checkpoint`]) holds the
//! model, the optimizer state, the sampler cursor and the counters; the learning
//! rate is a pure function of the step ([`lr_at`]) and dropout is reseeded from
//! the step, so a resumed run continues on exactly the next batch.
//!
//! # Features
//!
//! `flex` (default), `ndarray`, `wgpu`, `cuda`: forwarded to `codex-model`.
//!
//! # Example
//!
//! A tiny run on the embedded default's synthetic corpus, watched by an
//! observer (the workspace's `train_tiny` example goes further):
//!
//! ```no_run
//! use codex_train::{ConfigSource, Event, Observer, TrainJob, plan};
//!
//! struct Print;
//! impl Observer for Print {
//!     fn event(&mut self, e: &Event<'_>) {
//!         if let Event::RunDir(dir) = e {
//!             eprintln!("run in {}", dir.display());
//!         }
//!     }
//! }
//!
//! let source = ConfigSource {
//!     overrides: vec!["train.max_steps=20".into(), "train.warmup_steps=2".into()],
//!     ..ConfigSource::default()
//! };
//! let build = codex_core::BuildInfo {
//!     version: "0.1.0".into(),
//!     git_commit: None,
//!     git_dirty: None,
//!     rustc: "rustc".into(),
//!     cargo_lock_blake3: None,
//!     target: "x86_64-unknown-linux-gnu".into(),
//!     profile: "release".into(),
//!     backends: vec!["flex".into()],
//! };
//! let outcome = TrainJob::new(plan(&source, None)?, build).run(&mut Print)?;
//! println!("{} steps", outcome.steps);
//! # Ok::<(), codex_train::TrainError>(())
//! ```
//!
//! The workspace's examples go further: `train_tiny` (an observer that
//! prints progress), `lora_finetune` (import, LoRA fine-tune, export) and
//! `plugins` (a custom metric sink and text filter plugged into a job).

mod chat;
pub mod checkpoint;
mod error;
mod infer;
mod job;
pub mod load;
mod schedule;
pub mod sweep;
pub mod tasks;
mod trainer;

pub use chat::{
    ChatFormat, ChatPrediction, ChatReply, ChatSession, answer_records, chat_format,
    end_of_turn_tokens, read_messages,
};
pub use error::TrainError;
pub use infer::{
    GenerateRequest, Generated, LmEvalRecord, LmEvalRequest, LmEvaluation, Sampling,
    WHOLE_FILE_SPLIT, evaluate_lm, generate_text,
};
pub use job::{
    ConfigSource, Event, FilterMaker, JobOutcome, Observer, Plan, Quiet, Summary, TrainJob,
    ValidationSummary, parameter_line, plan, unigram_entropy,
};
pub use schedule::lr_at;
pub use trainer::{
    EvalMetrics, ExampleInputs, StepReport, StopCause, TrainInputs, TrainOutcome, already_finished,
    evaluate, evaluate_examples, optimizer, train,
};
