//! `codex-eval`: evaluation metrics that match the references the field reports with.
//!
//! - BLEU ([`bleu`]) and chrF/chrF++ ([`chrf`]) reproduce sacreBLEU 2.x, its
//!   tokenizers ([`tokenize`]) and its signature strings;
//! - ROUGE-N/L/Lsum ([`rouge`]) reproduce Google's `rouge-score` 0.1.2, including
//!   NLTK's Porter stemmer ([`porter`]);
//! - exact match and token F1 follow SQuAD v1.1 ([`squad`]); accuracy,
//!   distinct-n and corpus perplexity complete the set;
//! - every metric implements one trait ([`Metric`]) and is listed in a
//!   [`registry`] so that a plugin can add more;
//! - [`bootstrap`] adds seeded percentile intervals and sacreBLEU's paired test;
//! - [`runner`] reads inputs ([`input`]) and writes `metrics.ndjson`,
//!   `metrics.csv`, `summary.json` and per-example records;
//! - [`job`]: the `codex eval text` and `codex eval ppl` jobs as calls;
//! - [`tasks`]: lm-evaluation-harness tasks (YAML, prompts, few-shot,
//!   requests, metrics, `results.json`) on any [`tasks::LanguageModel`].
//!
//! ```
//! use codex_eval::{Corpus, MetricSettings, registry};
//!
//! let corpus = Corpus {
//!     hyps: vec!["the cat sat on the mat".into()],
//!     refs: vec![vec!["the cat sat on the mat".into()]],
//! };
//! let bleu = (registry().get("bleu")?.value)(&MetricSettings::default());
//! let scored = bleu.score(&corpus)?;
//! assert_eq!(scored.names()[0], "bleu");
//! assert!((scored.corpus(&[1])[0] - 100.0).abs() < 1e-9);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The workspace's `score_text` example scores BLEU, chrF and ROUGE from
//! strings in memory.
//!
//! May depend on `codex-core`; never on a tensor backend. Language-model metrics
//! that need a model are computed by `codex-train` and handed here as numbers.
//! No cargo features.

pub mod bleu;
pub mod bootstrap;
pub mod chrf;
mod error;
pub mod input;
pub mod job;
pub mod metric;
mod ngram;
pub mod porter;
pub mod rouge;
pub mod runner;
pub mod squad;
pub mod tasks;
mod text;
pub mod tokenize;

pub use error::EvalError;
pub use metric::{Corpus, Metric, MetricSettings, Scored, registry};
