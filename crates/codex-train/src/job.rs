//! The main job, `codex train`, as a library API: configuration → run
//! directory → tokenizer → token shards → model → training → sample →
//! summary and report.
//!
//! [`plan`] resolves what to run (a new run, or `--resume` of an existing one
//! with the run's own configuration under the caller's layers); [`TrainJob`]
//! carries it with the caller's pieces (build facts for provenance, the
//! safety filter, extra metric sinks, a stop flag) and [`TrainJob::run`]
//! runs it, telling an [`Observer`] what happens. Nothing here prints.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use codex_core::config::{AppConfig, ConfigLoader};
use codex_core::{BuildInfo, MetricSink, PassThrough, RunDir, Seeds, Stage, TextFilter, Verdict};
use codex_data::{Manifest, PrepareInputs, TokenStore};
use codex_model::{DeviceSpec, GenerateOptions, ModelConfig, Transformer};
use codex_tokenize::AnyTokenizer;
use codex_track::{MlflowReport, SinkHealth, Tracking};
use serde::Serialize;

use crate::checkpoint::{self, BaseRef};
use crate::error::TrainError;
use crate::load;
use crate::trainer::{EvalMetrics, ExampleInputs, StepReport, StopCause, TrainInputs, train};

/// Where a configuration comes from, above the embedded default: a file,
/// the process environment (`CODEX_*`), and `key=value` overrides.
#[derive(Debug, Clone, Default)]
pub struct ConfigSource {
    /// `--config FILE`.
    pub file: Option<PathBuf>,
    /// `key.path=value` overrides, applied last.
    pub overrides: Vec<String>,
    /// Whether `CODEX_*` environment variables form a layer.
    pub env: bool,
}

impl ConfigSource {
    /// The loader for these layers over `base` (the embedded default, or a
    /// run's `config.yaml` when resuming).
    fn loader(&self, base: Option<&Path>) -> ConfigLoader {
        let mut l = ConfigLoader::new();
        if let Some(b) = base {
            l = l.file(b);
        }
        if self.env {
            l = l.process_env();
        }
        if let Some(f) = &self.file {
            l = l.file(f);
        }
        l.overrides(self.overrides.iter().cloned())
    }

    /// The resolved configuration.
    pub fn load(&self) -> Result<AppConfig, TrainError> {
        Ok(self.loader(None).load()?.config)
    }
}

/// What a job will do: the resolved configuration and, when resuming, the
/// run and the checkpoint to continue from.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The configuration the run uses.
    pub config: AppConfig,
    /// `(run directory, checkpoint)` when resuming.
    pub resume: Option<(PathBuf, PathBuf)>,
    /// Keys this invocation set itself (above the embedded default, or above
    /// the run's own `config.yaml` when resuming), with the layer that set
    /// each: a model loaded from `train.init_from` must agree with them.
    pub explicit: std::collections::BTreeMap<String, String>,
    /// Defaults the loader fitted to the user's values, in words; the job
    /// reports each as a warning.
    pub adjustments: Vec<String>,
}

impl Plan {
    /// A plan for `config` as it is (no resume, nothing set explicitly).
    pub fn new(config: AppConfig) -> Self {
        Self {
            config,
            resume: None,
            explicit: Default::default(),
            adjustments: Vec::new(),
        }
    }
}

/// The keys of `loaded` set by a layer other than the embedded default and
/// `base` (a run's own `config.yaml`), with the layer's description.
fn explicit_keys(
    loaded: &codex_core::config::LoadedConfig,
    base: Option<&Path>,
) -> std::collections::BTreeMap<String, String> {
    use codex_core::config::Origin;
    loaded
        .leaves()
        .into_iter()
        .filter(|(_, _, origin)| match origin {
            Origin::Embedded => false,
            Origin::File(f) => base != Some(f.as_path()),
            _ => true,
        })
        .map(|(key, _, origin)| (key, origin.to_string()))
        .collect()
}

/// Resolves a job: with `resume` (`latest`, a run directory or a
/// checkpoint), the run's own `config.yaml` is the base layer and the
/// caller's layers go on top (e.g. a larger `train.max_steps`); `latest`
/// means the newest run under `run.runs_dir` with a valid checkpoint.
pub fn plan(source: &ConfigSource, resume: Option<&str>) -> Result<Plan, TrainError> {
    let Some(target) = resume else {
        let loaded = source.loader(None).load()?;
        return Ok(Plan {
            explicit: explicit_keys(&loaded, None),
            adjustments: loaded.adjustments().to_vec(),
            config: loaded.config,
            resume: None,
        });
    };
    let (run, ck) = if target == "latest" {
        // Only where runs live matters here; the rest may not validate alone
        // (a `train.max_steps` below the run's own warmup).
        let only_run = ConfigSource {
            overrides: source
                .overrides
                .iter()
                .filter(|o| o.starts_with("run."))
                .cloned()
                .collect(),
            ..source.clone()
        };
        latest_run(&only_run.load()?.run.runs_dir)?
    } else {
        resume_target(Path::new(target))?
    };
    let base = run.join("config.yaml");
    let loaded = source.loader(Some(&base)).load()?;
    Ok(Plan {
        explicit: explicit_keys(&loaded, Some(&base)),
        adjustments: loaded.adjustments().to_vec(),
        config: loaded.config,
        resume: Some((run, ck)),
    })
}

/// The newest run under `runs_dir` with a valid checkpoint.
fn latest_run(runs_dir: &Path) -> Result<(PathBuf, PathBuf), TrainError> {
    let entries = std::fs::read_dir(runs_dir)
        .map_err(|e| TrainError::input(runs_dir.display(), format!("cannot list runs: {e}")))?;
    let mut runs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("checkpoints").is_dir())
        .collect();
    runs.sort();
    for run in runs.iter().rev() {
        if let (Some(ck), _) = load::latest_checkpoint(run)? {
            return Ok((run.clone(), ck));
        }
    }
    Err(TrainError::input(
        runs_dir.display(),
        "no run here has a valid checkpoint to resume",
    ))
}

/// The run and checkpoint a `--resume` path names.
fn resume_target(path: &Path) -> Result<(PathBuf, PathBuf), TrainError> {
    if path.join("state.json").is_file() {
        checkpoint::verify(path)?;
        let run = path.parent().and_then(Path::parent).ok_or_else(|| {
            TrainError::input(path.display(), "a checkpoint lives in <run>/checkpoints/")
        })?;
        return Ok((run.to_owned(), path.to_owned()));
    }
    if path.join("checkpoints").is_dir() {
        let (ck, _) = load::latest_checkpoint(path)?;
        let ck =
            ck.ok_or_else(|| TrainError::input(path.display(), "the run has no valid checkpoint"))?;
        return Ok((path.to_owned(), ck));
    }
    Err(TrainError::input(
        path.display(),
        "neither a run directory nor a checkpoint (give `latest`, <run> or <run>/checkpoints/step-N)",
    ))
}

/// Makes the text filter of a run from where its decisions are logged
/// (`<run>/safety/events.ndjson`). The CLI builds codex-safety's policy
/// filter here; a Rust caller can plug in any [`TextFilter`].
pub type FilterMaker<'a> =
    dyn Fn(&AppConfig, Option<&Path>) -> Result<Box<dyn TextFilter>, TrainError> + 'a;

/// Something that happened in a job, for progress displays and logs.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Event<'a> {
    /// The run directory is ready.
    RunDir(&'a Path),
    /// The tokenizer is loaded (or trained).
    Tokenizer {
        /// Its file.
        path: &'a Path,
        /// Its vocabulary size.
        vocab: usize,
    },
    /// Data preparation found something worth saying (a malformed record).
    Diagnostic(&'a codex_core::Diagnostic),
    /// The token shards are ready.
    Data {
        /// Training tokens.
        train_tokens: u64,
        /// Validation tokens.
        validation_tokens: u64,
    },
    /// Fine-tuning starts from these weights.
    FineTuning(&'a Path),
    /// LoRA adapters are attached; only they train.
    Lora {
        /// Their rank.
        rank: u32,
        /// The projections they adapt.
        targets: &'a [String],
    },
    /// Training continues from a checkpoint.
    Resuming {
        /// The checkpoint.
        checkpoint: &'a Path,
        /// Its step.
        step: u64,
    },
    /// The model is built.
    Model {
        /// Its parameters.
        parameters: usize,
        /// The parameters training updates (the adapters alone under LoRA).
        trainable: usize,
        /// The device it trains on.
        device: String,
    },
    /// Training starts.
    Training {
        /// The step limit.
        max_steps: u64,
    },
    /// Something the caller should know that does not stop the job.
    Warning(&'a str),
    /// Something worth telling that needs no action (what the safety
    /// filter did to the data, for one).
    Note(&'a str),
}

/// Receives what a job does. Every method has a default that ignores it.
pub trait Observer {
    /// A phase of the job.
    fn event(&mut self, _event: &Event<'_>) {}
    /// An optimizer step.
    fn step(&mut self, _report: &StepReport) {}
}

/// An observer that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct Quiet;

impl Observer for Quiet {}

/// Validation metrics as `summary.json` records them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ValidationSummary {
    /// Mean cross-entropy (nats per token).
    pub loss: f64,
    /// `exp(loss)`.
    pub perplexity: f64,
    /// Share of tokens predicted exactly.
    pub token_accuracy: f64,
    /// Tokens evaluated.
    pub tokens: u64,
}

impl From<EvalMetrics> for ValidationSummary {
    fn from(e: EvalMetrics) -> Self {
        Self {
            loss: e.loss,
            perplexity: e.perplexity,
            token_accuracy: e.token_accuracy,
            tokens: e.tokens,
        }
    }
}

/// `summary.json` of a finished run.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// The run directory.
    pub run_dir: PathBuf,
    /// Steps completed in total.
    pub steps: u64,
    /// Training tokens consumed in total.
    pub tokens: u64,
    /// Training loss of the last step.
    pub train_loss: f64,
    /// Validation metrics at the end.
    pub validation: Option<ValidationSummary>,
    /// Unigram entropy of the training split (the loss of a context-free model).
    pub unigram_entropy: f64,
    /// `exp(unigram_entropy)`.
    pub unigram_perplexity: f64,
    /// The step this invocation started from (0 for a new run).
    pub started_at_step: u64,
    /// Steps trained in this invocation.
    pub invocation_steps: u64,
    /// Tokens trained in this invocation.
    pub invocation_tokens: u64,
    /// Training tokens per second in this invocation.
    pub tokens_per_second: f64,
    /// Model FLOP/s in this invocation.
    pub flops_per_second: f64,
    /// Model FLOP utilisation, when `train.peak_flops` is set.
    pub mfu: Option<f64>,
    /// Seconds of training in this invocation.
    pub train_seconds: f64,
    /// Seconds of the whole job.
    pub wall_seconds: f64,
    /// Parameters of the model (the base's and any adapters').
    pub parameters: usize,
    /// Parameters training updated: the adapters alone under LoRA.
    pub trainable_parameters: usize,
    /// The last checkpoint.
    pub checkpoint: Option<PathBuf>,
    /// The adapters saved alone, for a LoRA run.
    pub adapter: Option<PathBuf>,
    /// Why training stopped: `max_steps`, `max_seconds`, `max_tokens`,
    /// `max_epochs`, `early_stopping` or `interrupted`.
    pub stop: String,
    /// The same in words, with the limit reached.
    pub stopped_because: String,
    /// Compute precision.
    pub precision: codex_core::config::Precision,
    /// How GPU metrics were sampled, or why not.
    pub gpu_metrics: String,
    /// A sample generation, after the safety filter.
    pub sample: String,
    /// Whether the run fine-tuned on chat examples (`data.format: chat`).
    pub chat: bool,
    /// How the secondary sinks fared.
    pub sinks: Vec<SinkHealth>,
    /// What reached MLflow.
    pub mlflow: Option<MlflowReport>,
}

/// What a job did.
#[derive(Debug)]
pub struct JobOutcome {
    /// The run directory.
    pub run_dir: PathBuf,
    /// Why training stopped.
    pub stop: StopCause,
    /// Steps completed in total.
    pub steps: u64,
    /// The last checkpoint written.
    pub checkpoint: Option<PathBuf>,
    /// `summary.json`, for a run that finished (`None` when interrupted).
    pub summary: Option<Summary>,
    /// Where later checkpoints went when resuming started a branch.
    pub abandoned: Option<PathBuf>,
    /// Resuming found the run already complete and changed nothing.
    pub already_complete: bool,
}

impl JobOutcome {
    /// The summary table of a finished run, or how to resume an interrupted one.
    pub fn to_text(&self) -> String {
        let outcome = self;
        if outcome.already_complete {
            return format!(
                "{} is complete: step {} ({}); nothing was changed\nto train further, raise the limit, e.g. codex train --resume {} train.max_steps={}\n",
                outcome.run_dir.display(),
                outcome.steps,
                outcome.stop.name(),
                outcome.run_dir.display(),
                outcome.steps * 2
            );
        }
        let Some(s) = &outcome.summary else {
            let checkpoint = outcome.checkpoint.as_ref().map(|p| p.display().to_string());
            return format!(
                "interrupted after step {}; checkpoint {}\nresume with: codex train --resume {}\n",
                outcome.steps,
                checkpoint.as_deref().unwrap_or("none"),
                outcome.run_dir.display()
            );
        };
        let mfu = s
            .mfu
            .map_or_else(String::new, |m| format!(", MFU {:.1}%", 100.0 * m));
        let mut r = codex_core::TextReport::new(10);
        r.kv("run", s.run_dir.display()).kv(
            "trained",
            format_args!(
                "{} steps, {} tokens in {:.1}s ({:.0} tokens/s, {:.2} GFLOP/s{mfu})",
                s.invocation_steps,
                s.invocation_tokens,
                s.train_seconds,
                s.tokens_per_second,
                s.flops_per_second / 1e9
            ),
        );
        r.kv("stopped", &s.stopped_because);
        if s.started_at_step > 0 {
            r.kv(
                "whole run",
                format_args!(
                    "{} steps, {} tokens (resumed at step {})",
                    s.steps, s.tokens, s.started_at_step
                ),
            );
        }
        if let Some(v) = s.validation {
            r.line(format_args!(
                "validation loss {:.4} (perplexity {:.2}), token accuracy {:.1}%",
                v.loss,
                v.perplexity,
                100.0 * v.token_accuracy
            ));
        }
        r.kv(
            "baseline",
            format_args!(
                "unigram entropy {:.4} (perplexity {:.2})",
                s.unigram_entropy, s.unigram_perplexity
            ),
        )
        .kv(
            "parameters",
            parameter_line(s.parameters, s.trainable_parameters),
        )
        .opt("checkpoint", s.checkpoint.as_ref().map(|p| p.display()))
        .opt(
            "adapter",
            s.adapter
                .as_ref()
                .map(|p| format!("{} (LoRA adapters alone)", p.display())),
        )
        .kv("sample", &s.sample)
        .kv("report", s.run_dir.join("report.md").display());
        if let Some(m) = &s.mlflow {
            let unsent = if m.metrics_unsent > 0 {
                format!(
                    ", {} unsent: replay with `codex runs sync-mlflow {}`",
                    m.metrics_unsent,
                    s.run_dir.display()
                )
            } else {
                String::new()
            };
            let run = m.run_id.as_deref().unwrap_or("not created");
            r.kv(
                "mlflow",
                format_args!(
                    "{} run {run} ({} metrics sent{unsent})",
                    m.uri, m.metrics_sent
                ),
            );
        }
        for h in s.sinks.iter().filter(|h| h.failures > 0) {
            let last = h.last_error.as_deref().unwrap_or("");
            r.kv(
                "warning",
                format_args!("sink {} failed {} times: {last}", h.sink, h.failures),
            );
        }
        r.opt(
            "branch",
            outcome.abandoned.as_ref().map(|a| {
                format!(
                    "resumed from an earlier checkpoint; the later ones moved to {}",
                    a.display()
                )
            }),
        )
        .kv("wall time", format_args!("{:.1}s", s.wall_seconds))
        .line("")
        .kv(
            "next",
            if s.chat {
                format!("codex chat {}", s.run_dir.display())
            } else {
                format!("codex generate {} --prompt \"The\"", s.run_dir.display())
            },
        )
        .kv(
            "",
            format_args!("the report: {}", s.run_dir.join("report.md").display()),
        )
        .kv(
            "",
            "your own data: codex train data.sources=notes.txt (a text, JSONL or CSV file, or a directory)",
        )
        .finish()
    }
}

/// One training job: what to run and the caller's pieces.
pub struct TrainJob<'a> {
    /// What to run.
    pub plan: Plan,
    /// The binary's build facts, for `provenance.json`.
    pub build: BuildInfo,
    /// The command line, for provenance and the tokenizer manifest (redacted there).
    pub command_line: Vec<String>,
    /// The safety filter for data and the sample; `None` passes everything.
    pub filter: Option<&'a FilterMaker<'a>>,
    /// Sinks that receive every metric besides the configured ones.
    pub sinks: Vec<Box<dyn MetricSink>>,
    /// Set to stop after the current step, with a checkpoint.
    pub stop: Option<&'a AtomicBool>,
}

impl std::fmt::Debug for TrainJob<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrainJob")
            .field("plan", &self.plan)
            .finish_non_exhaustive()
    }
}

impl<'a> TrainJob<'a> {
    /// A job for `plan` with nothing plugged in.
    pub fn new(plan: Plan, build: BuildInfo) -> Self {
        Self {
            plan,
            build,
            command_line: Vec::new(),
            filter: None,
            sinks: Vec::new(),
            stop: None,
        }
    }

    fn filter(
        &self,
        cfg: &AppConfig,
        events: Option<&Path>,
    ) -> Result<Box<dyn TextFilter>, TrainError> {
        match self.filter {
            Some(make) => make(cfg, events),
            None => Ok(Box::new(PassThrough)),
        }
    }

    /// Runs the job.
    pub fn run(self, observer: &mut dyn Observer) -> Result<JobOutcome, TrainError> {
        let started = std::time::Instant::now();
        let cfg = self.plan.config.clone();
        // Benchmark tasks are read (and every prompt rendered) before the run
        // directory exists: a bad task file stops nothing half-made.
        let task_set = match &cfg.train.eval_tasks {
            Some(et) => Some(crate::tasks::load_checked(&et.tasks, &task_options(et))?),
            None => None,
        };
        let runs_dir_existed = cfg.run.runs_dir.exists();
        let (run, resume_from) = match &self.plan.resume {
            None => {
                let run = RunDir::create(&cfg.run.runs_dir, &cfg.run.name, chrono::Local::now())?;
                codex_core::write_bytes_atomic(run.config(), cfg.to_yaml().as_bytes())?;
                (run, None)
            }
            Some((root, ck)) => {
                // A run that already reached its limits is left as it is:
                // no provenance, no truncated metrics, no rewritten summary.
                let state = checkpoint::read_state(ck)?;
                if let Some(stop) = crate::trainer::already_finished(&cfg.train, &state) {
                    return Ok(JobOutcome {
                        run_dir: root.clone(),
                        stop,
                        steps: state.step,
                        checkpoint: Some(ck.clone()),
                        summary: None,
                        abandoned: None,
                        already_complete: true,
                    });
                }
                (RunDir::open(root)?, Some(ck.clone()))
            }
        };
        let root = run.root().to_owned();
        let fresh = resume_from.is_none();
        let runs_dir = cfg.run.runs_dir.clone();
        let result = self.execute(observer, started, cfg, run, resume_from, task_set.as_ref());
        if let Err(e) = &result {
            record_failure(&root, fresh, e);
            if fresh && !runs_dir_existed {
                // The directory this run made for runs, if nothing is left
                // in it (remove_dir refuses one that is not empty).
                let _ = std::fs::remove_dir(&runs_dir);
            }
        }
        result
    }

    fn execute(
        self,
        observer: &mut dyn Observer,
        started: std::time::Instant,
        mut cfg: AppConfig,
        run: RunDir,
        resume_from: Option<PathBuf>,
        task_set: Option<&codex_eval::tasks::TaskSet>,
    ) -> Result<JobOutcome, TrainError> {
        for a in &self.plan.adjustments {
            observer.event(&Event::Warning(a));
        }
        let seeds = Seeds::new(cfg.run.seed);
        let provenance = match &resume_from {
            None => run.provenance(),
            Some(ck) => run.root().join(format!(
                "provenance.resume-{}.json",
                ck.file_name().unwrap_or_default().to_string_lossy()
            )),
        };
        let env: Vec<(String, String)> = std::env::vars().collect();
        let mut record = codex_core::Provenance::capture(
            self.build.clone(),
            seeds,
            self.command_line.clone(),
            env,
            &std::env::current_dir().unwrap_or_default(),
        );
        record.write(&provenance)?;
        observer.event(&Event::RunDir(run.root()));

        let (tok, tok_path) = tokenizer(&cfg, &run, &seeds, &self.command_line)?;
        let vocab = tok.vocab_size();
        observer.event(&Event::Tokenizer {
            path: &tok_path,
            vocab,
        });
        let asked = cfg.tokenizer.vocab_size as usize;
        if cfg.tokenizer.path.is_none() && cfg.train.init_from.is_none() && vocab < asked {
            observer.event(&Event::Warning(&format!(
                "the tokenizer has {vocab} tokens, fewer than tokenizer.vocab_size {asked}: the corpus has no more to merge"
            )));
        }

        // Token shards.
        let eos_id = separator(&mut cfg, &self.plan.explicit, &tok, &tok_path)?;
        let (tokenizer_blake3, _) = codex_core::hash_file(&tok_path)?;
        let events = run.root().join("safety").join("events.ndjson");
        let filter = self.filter(&cfg, Some(&events))?;
        let (data_dir, prepared) = match &cfg.data.prepared {
            Some(dir) => (
                dir.clone(),
                prepared_dataset(dir, tokenizer_blake3, eos_id, &tok_path)?,
            ),
            None => {
                let data_dir = run.root().join("data");
                // Chat examples: the template, and the longest example the
                // model trains (its context, less nothing: n tokens train
                // n − 1 positions).
                let parts = match cfg.data.format {
                    codex_core::config::DataFormat::Chat => {
                        Some(codex_data::chat_parts(&cfg, &tok_path)?)
                    }
                    _ => None,
                };
                let max_length = match (cfg.data.max_length, &cfg.train.init_from) {
                    (Some(m), _) => m as usize,
                    (None, Some(base)) => load::model_config_of(base)?.context_length + 1,
                    (None, None) => codex_data::chat_max_length(&cfg),
                };
                let prepared = codex_data::prepare(&PrepareInputs {
                    data: &cfg.data,
                    seeds,
                    tokenizer: &tok,
                    tokenizer_blake3,
                    eos_id,
                    filter: &*filter,
                    out: &data_dir,
                    on_documents: &|_| {},
                    chat: parts.as_ref().map(|(template, tokenizer, special)| {
                        codex_data::ChatInputs {
                            template,
                            tokenizer,
                            special: special.clone(),
                            loss_on: cfg.train.loss_on,
                            max_length,
                            overlong: cfg.data.overlong,
                        }
                    }),
                })?;
                // A template the configuration named travels with the run's
                // tokenizer, so chat, generation and export use it.
                if let Some((template, _, _)) = &parts
                    && cfg.data.chat_template.is_some()
                {
                    let dir = run.root().join("tokenizer");
                    if dir.join("tokenizer.json").is_file() {
                        codex_core::write_bytes_atomic(
                            dir.join("chat_template.jinja"),
                            template.source().as_bytes(),
                        )?;
                    }
                }
                (data_dir, prepared)
            }
        };
        for d in &prepared.diagnostics {
            observer.event(&Event::Diagnostic(d));
        }
        let manifest: Manifest = prepared.manifest;
        let train_split = manifest.split("train");
        let val_split = manifest.split("validation");
        let train_store = TokenStore::open(&data_dir, &train_split.shards, true)?;
        let val_store = if val_split.tokens > 0 {
            Some(TokenStore::open(&data_dir, &val_split.shards, true)?)
        } else {
            None
        };
        // Chat data trains on its examples, each with its loss mask.
        let (train_examples, val_examples) = match &manifest.chat {
            None => (None, None),
            Some(_) => (
                Some(codex_data::ExampleStore::open(
                    &data_dir,
                    &train_split,
                    true,
                )?),
                if val_split.tokens > 0 {
                    Some(codex_data::ExampleStore::open(&data_dir, &val_split, true)?)
                } else {
                    None
                },
            ),
        };
        observer.event(&Event::Data {
            train_tokens: train_split.tokens,
            validation_tokens: val_split.tokens,
        });
        if manifest.chat.is_some() {
            let stats = train_split.chat.unwrap_or_default();
            observer.event(&Event::Note(&format!(
                "chat: {} training and {} validation examples, {} training tokens in the loss; {} cut to data.max_length, {} longer ones dropped, {} with no reply left dropped, {} refused by the template",
                train_split.documents,
                val_split.documents,
                stats.masked_tokens,
                stats.truncated,
                stats.dropped_overlong,
                stats.dropped_no_loss,
                stats.refused
            )));
        }
        if let Some(line) = manifest.filter.summary_line() {
            observer.event(&Event::Note(&format!(
                "{line} (each is in safety/events.ndjson)"
            )));
        }
        if val_split.tokens == 0 {
            observer.event(&Event::Warning(&format!(
                "the validation split is empty (data.validation_fraction {} of {} documents): no validation loss will be measured",
                cfg.data.validation_fraction,
                train_split.documents + val_split.documents
            )));
        }

        // Model.
        let spec: DeviceSpec = cfg.run.device.parse()?;
        let device = spec.device()?;
        let train_device = device.clone().autodiff();
        let (model, base_model, base_ref) = model(&cfg, vocab, &seeds, &train_device, observer)?;
        if let Some(base) = cfg.train.init_from.clone() {
            // The run records the model it trains, not the default shape.
            let loaded = base_model.config().section();
            check_loaded_shape(&self.plan.explicit, &cfg.model, &loaded, &base)?;
            cfg.model = loaded;
        }
        if let Some(chat) = &manifest.chat {
            let context = base_model.config().context_length as u64;
            if chat.max_length > context + 1 {
                return Err(TrainError::input(
                    "data.max_length",
                    format!(
                        "the chat examples were prepared up to {} tokens, longer than the model's context_length {context} + 1; set data.max_length to at most {}",
                        chat.max_length,
                        context + 1
                    ),
                ));
            }
        }
        // Provenance names the model that trains: its shape and its origin.
        record.model = Some(serde_json::json!({
            "config": base_model.config(),
            "init_from": cfg.train.init_from,
            "lora": cfg.train.lora,
        }));
        record.write(&provenance)?;
        if resume_from.is_none() && cfg != self.plan.config {
            // What ran, not what was asked for: the loaded model's shape and
            // the tokenizer's own separator.
            codex_core::write_bytes_atomic(run.config(), cfg.to_yaml().as_bytes())?;
        }
        let config_hash = codex_core::Hasher::new()
            .update(cfg.to_yaml().as_bytes())
            .finalize();
        let resume_from = match resume_from {
            Some(ck) => {
                let loaded =
                    checkpoint::load(&ck, &train_device, |_| Ok::<_, TrainError>(base_model))?;
                observer.event(&Event::Resuming {
                    checkpoint: &ck,
                    step: loaded.state.step,
                });
                Some(loaded)
            }
            None => None,
        };
        let trained_model = resume_from.as_ref().map_or(&model, |l| &l.model);
        let parameters = codex_model::burn::module::Module::num_params(trained_model);
        let trainable = trained_model.trainable_params();
        observer.event(&Event::Model {
            parameters,
            trainable,
            device: spec.resolve_auto().to_string(),
        });

        let (start_step, start_tokens) = resume_from
            .as_ref()
            .map_or((0, 0), |l| (l.state.step, l.state.tokens));

        // Train.
        let mut sink = Tracking::start(
            &cfg,
            run.root(),
            resume_from.as_ref().map(|l| l.state.step),
            self.sinks,
        )?;
        if codex_core::redact::is_redacted(cfg.track.mlflow.uri.as_deref().unwrap_or("")) {
            observer.event(&Event::Warning(
                "track.mlflow.uri had credentials, which are never stored: pass them again through MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME/PASSWORD",
            ));
        }
        observer.event(&Event::Training {
            max_steps: cfg.train.max_steps,
        });
        let outcome = train(
            model,
            resume_from,
            TrainInputs {
                train: &cfg.train,
                data: &train_store,
                validation: val_store.as_ref(),
                sampler_seed: seeds.derive("data.sampler"),
                dropout_seed: seeds.derive("train.dropout"),
                checkpoints: &run.root().join("checkpoints"),
                config_hash: config_hash.to_string(),
                base: base_ref,
                sink: &mut sink,
                on_step: &mut |r| observer.step(r),
                stop: self.stop,
                examples: train_examples.as_ref().map(|train| ExampleInputs {
                    train,
                    validation: val_examples.as_ref(),
                    packing: cfg.train.packing,
                }),
                tasks: match (task_set, &cfg.train.eval_tasks) {
                    (Some(set), Some(et)) => Some(crate::tasks::TrainingTasks {
                        set,
                        tokenizer: &tok,
                        prefix_token: crate::tasks::prefix_token(&tok, &tok_path, Some(eos_id))?
                            .unwrap_or(eos_id),
                        stop_tokens: vec![eos_id],
                        options: task_options(et),
                        batch_size: et.batch_size as usize,
                    }),
                    _ => None,
                },
            },
        )?;
        if outcome.stop == StopCause::Interrupted {
            sink.finish(run.root(), "killed")?;
            return Ok(JobOutcome {
                run_dir: run.root().to_owned(),
                stop: outcome.stop,
                steps: outcome.steps,
                checkpoint: outcome.checkpoint,
                summary: None,
                abandoned: outcome.abandoned,
                already_complete: false,
            });
        }

        // Sample, with the filter's output stage.
        let baseline = unigram_entropy(&train_store, vocab);
        let sample = sample(&outcome.model, &tok, eos_id, &seeds, &*filter)?;
        let mut trained = outcome.model;
        let adapter = if trained.lora_config().is_some() {
            let path = run.root().join("adapter.safetensors");
            trained.save_lora(&path)?;
            Some(path)
        } else {
            None
        };
        let mut summary = Summary {
            run_dir: run.root().to_owned(),
            steps: outcome.steps,
            tokens: outcome.tokens,
            train_loss: outcome.train_loss,
            validation: outcome.eval.map(Into::into),
            unigram_entropy: baseline,
            unigram_perplexity: baseline.exp(),
            started_at_step: start_step,
            invocation_steps: outcome.steps - start_step,
            invocation_tokens: outcome.tokens - start_tokens,
            tokens_per_second: outcome.tokens_per_second,
            flops_per_second: outcome.flops_per_second,
            mfu: cfg.train.peak_flops.map(|p| outcome.flops_per_second / p),
            train_seconds: outcome.seconds,
            wall_seconds: started.elapsed().as_secs_f64(),
            parameters,
            trainable_parameters: trainable,
            checkpoint: outcome.checkpoint.clone(),
            adapter,
            stop: outcome.stop.name().to_owned(),
            stopped_because: outcome.stop.describe(&cfg.train),
            precision: cfg.train.precision,
            gpu_metrics: sink
                .gpu_note()
                .map_or_else(|| "sampled through NVML".to_owned(), str::to_owned),
            sample,
            chat: manifest.chat.is_some(),
            sinks: Vec::new(),
            mlflow: None,
        };
        let summary_path = run.root().join("summary.json");
        write_summary(&summary_path, &summary)?;
        // Close the sinks (MLflow gets the summary and report as artifacts),
        // then record how they fared.
        let (health, mlflow) = sink.finish(run.root(), "finished")?;
        summary.sinks = health;
        summary.mlflow = mlflow;
        write_summary(&summary_path, &summary)?;
        codex_track::report::write_report(run.root())?;
        Ok(JobOutcome {
            run_dir: run.root().to_owned(),
            stop: outcome.stop,
            steps: outcome.steps,
            checkpoint: outcome.checkpoint,
            summary: Some(summary),
            abandoned: outcome.abandoned,
            already_complete: false,
        })
    }
}

/// `N` when every parameter trains, `N (trainable M, x.xx%)` otherwise.
pub fn parameter_line(total: usize, trainable: usize) -> String {
    if trainable == total {
        return codex_core::group_digits(total as u64);
    }
    format!(
        "{} (trainable {}, {:.2}%)",
        codex_core::group_digits(total as u64),
        codex_core::group_digits(trainable as u64),
        100.0 * trainable as f64 / total.max(1) as f64
    )
}

/// A dataset prepared earlier (`data.prepared`), checked against its
/// manifest (every shard verified) and against this run's tokenizer and
/// document separator.
fn prepared_dataset(
    dir: &Path,
    tokenizer_blake3: codex_core::Digest,
    eos_id: u32,
    tok_path: &Path,
) -> Result<codex_data::Prepared, TrainError> {
    let manifest = codex_data::verify(dir)?;
    if manifest.tokenizer_blake3 != tokenizer_blake3 {
        return Err(TrainError::input(
            "data.prepared",
            format!(
                "`{}` was tokenized with tokenizer {}, but this run's tokenizer {} is {tokenizer_blake3}; set tokenizer.path to the one it was prepared with",
                dir.display(),
                manifest.tokenizer_blake3,
                tok_path.display()
            ),
        ));
    }
    if manifest.eos_id != eos_id {
        return Err(TrainError::input(
            "data.prepared",
            format!(
                "`{}` separates documents with id {}, but this run's separator is id {eos_id}",
                dir.display(),
                manifest.eos_id
            ),
        ));
    }
    Ok(codex_data::Prepared {
        manifest,
        cached: true,
        diagnostics: Vec::new(),
    })
}

/// After a failed job: a new run that wrote no checkpoint holds nothing
/// worth keeping and is removed; any other keeps its files and gains an
/// `errors.ndjson` record of the failure (redacted), which `codex runs list`
/// shows as a failed status. Cleaning up never hides the original error.
fn record_failure(root: &Path, fresh: bool, error: &TrainError) {
    if fresh && !root.join("checkpoints").exists() {
        let _ = std::fs::remove_dir_all(root);
        return;
    }
    let path = root.join("errors.ndjson");
    let record = serde_json::json!({
        "time": chrono::Utc::now().to_rfc3339(),
        "kind": "failed",
        "message": codex_core::redact::redact_text(&error.to_string()),
    });
    let mut text = std::fs::read_to_string(&path).unwrap_or_default();
    text.push_str(&format!("{record}\n"));
    let _ = codex_core::write_bytes_atomic(&path, text.as_bytes());
}

fn write_summary(path: &Path, summary: &Summary) -> Result<(), TrainError> {
    let text = serde_json::to_string_pretty(summary).expect("the summary serializes") + "\n";
    Ok(codex_core::write_bytes_atomic(path, text.as_bytes())?)
}

/// The run's tokenizer: `tokenizer.path`; the one a resumed run trained;
/// the base model's, when fine-tuning (copied into the run); else one trained
/// now on `tokenizer.inputs`, `data.sources` or the synthetic corpus.
fn tokenizer(
    cfg: &AppConfig,
    run: &RunDir,
    seeds: &Seeds,
    command_line: &[String],
) -> Result<(AnyTokenizer, PathBuf), TrainError> {
    if let Some(path) = &cfg.tokenizer.path {
        return Ok((AnyTokenizer::from_file(path)?, path.clone()));
    }
    let trained = run.root().join("tokenizer/tokenizer.json");
    if trained.is_file() {
        return Ok((AnyTokenizer::from_file(&trained)?, trained));
    }
    if let Some(base) = &cfg.train.init_from {
        let candidates = [
            base.join("tokenizer.json"),
            base.join("tokenizer/tokenizer.json"),
            base.join("../../tokenizer/tokenizer.json"),
            base.with_file_name("tokenizer.json"),
        ];
        let found = candidates
            .into_iter()
            .find(|p| p.is_file())
            .ok_or_else(|| {
                TrainError::input(
                    format!("train.init_from `{}`", base.display()),
                    "has no tokenizer.json beside it; set tokenizer.path",
                )
            })?;
        // A copy travels with the run, byte for byte with the files beside
        // it (tokenizer_config.json and the rest), so generation, resume and
        // export find the same tokenizer and special tokens.
        let dir = run.subdir("tokenizer")?;
        let bytes =
            std::fs::read(&found).map_err(|e| codex_core::Error::io("cannot read", &found, e))?;
        codex_core::write_bytes_atomic(dir.join("tokenizer.json"), &bytes)?;
        if let Some(from) = found.parent() {
            codex_model::copy_tokenizer_files(from, &dir)?;
        }
        return Ok((AnyTokenizer::from_file(&trained)?, trained));
    }
    let inputs: Vec<PathBuf> = if !cfg.tokenizer.inputs.is_empty() {
        cfg.tokenizer.inputs.clone()
    } else if !cfg.data.sources.is_empty() {
        cfg.data.sources.clone()
    } else {
        // The same synthetic corpus data preparation will use (same size and seed).
        let dir = run.subdir("data")?;
        let path = dir.join("synthetic.txt");
        let seed = seeds.derive("data.synth");
        codex_core::write_atomic(&path, |f| {
            codex_data::synth::write_corpus(f, cfg.data.synthetic_bytes, seed)
                .map(|_| ())
                .map_err(|e| TrainError::from(codex_core::Error::io("cannot write", &path, e)))
        })?;
        codex_core::write_bytes_atomic(
            dir.join("synthetic.json"),
            serde_json::to_string(&(cfg.data.synthetic_bytes, seed))
                .expect("a pair serializes")
                .as_bytes(),
        )?;
        vec![path]
    };
    let config = codex_tokenize::train::TrainConfig::from_config(cfg, command_line.to_vec());
    let trained = codex_tokenize::train::train_with_progress(&config, &inputs, &|_| {})?;
    let out = run.root().join("tokenizer");
    trained.write(&out)?;
    // Its roles, as transformers reads them.
    let roles = codex_tokenize::SpecialTokens::from_specials(&cfg.tokenizer.special_tokens);
    let config = roles.tokenizer_config(cfg.model.context_length as usize);
    codex_core::write_bytes_atomic(
        out.join("tokenizer_config.json"),
        (serde_json::to_string_pretty(&config).expect("JSON serializes") + "\n").as_bytes(),
    )?;
    let path = out.join("tokenizer.json");
    Ok((AnyTokenizer::from_file(&path)?, path))
}

/// The document separator's id. A tokenizer whose directory declares an
/// `eos_token` (an imported one) separates documents with it, and
/// `tokenizer.special_tokens` is set to match unless this invocation set it
/// to something else (an error naming both); otherwise the first of
/// `tokenizer.special_tokens` separates them.
fn separator(
    cfg: &mut AppConfig,
    explicit: &std::collections::BTreeMap<String, String>,
    tok: &AnyTokenizer,
    tok_path: &Path,
) -> Result<u32, TrainError> {
    let dir = tok_path.parent().unwrap_or(Path::new("."));
    let declared = codex_tokenize::SpecialTokens::read(dir)?.and_then(|s| s.eos);
    if let Some(eos) = declared {
        let key = "tokenizer.special_tokens";
        match (explicit.get(key), cfg.tokenizer.special_tokens.first()) {
            (Some(origin), Some(first)) if *first != eos => {
                return Err(TrainError::input(
                    key,
                    format!(
                        "names `{first}` first ({origin}), but the tokenizer {} declares eos_token `{eos}` in tokenizer_config.json; drop the setting or name `{eos}` first",
                        tok_path.display()
                    ),
                ));
            }
            (Some(_), _) => {}
            (None, _) => {
                let mut specials = vec![eos.clone()];
                specials.extend(
                    cfg.tokenizer
                        .special_tokens
                        .iter()
                        .filter(|t| **t != eos && tok.token_to_id(t).is_some())
                        .cloned(),
                );
                cfg.tokenizer.special_tokens = specials;
            }
        }
    }
    let eos = cfg.tokenizer.special_tokens.first().ok_or_else(|| {
        TrainError::input(
            "tokenizer.special_tokens",
            "is empty: the first one separates documents",
        )
    })?;
    tok.token_to_id(eos).ok_or_else(|| {
        TrainError::input(
            "tokenizer.special_tokens[0]",
            format!(
                "the document separator `{eos}` is not in the tokenizer {}; name one of its special tokens first",
                tok_path.display()
            ),
        )
    })
}

/// The model to train: fresh, or loaded from `train.init_from`, with LoRA
/// adapters attached when `train.lora` asks; also the base (for checkpoints
/// of adapters alone) and the reference those checkpoints record.
/// A model loaded from `train.init_from` must agree with every `model.*`
/// key this invocation set itself; a conflict names the key, both values and
/// where each came from.
fn check_loaded_shape(
    explicit: &std::collections::BTreeMap<String, String>,
    configured: &codex_core::config::ModelSection,
    loaded: &codex_core::config::ModelSection,
    base: &Path,
) -> Result<(), TrainError> {
    let want = serde_json::to_value(configured).expect("a section serializes");
    let got = serde_json::to_value(loaded).expect("a section serializes");
    for (key, origin) in explicit {
        let Some(field) = key.strip_prefix("model.") else {
            continue;
        };
        if want.get(field) != got.get(field) {
            return Err(TrainError::input(
                key,
                format!(
                    "is {} ({origin}) but the model loaded from train.init_from `{}` has {}; drop the setting or load another model",
                    want[field],
                    base.display(),
                    got[field]
                ),
            ));
        }
    }
    Ok(())
}

fn model(
    cfg: &AppConfig,
    vocab: usize,
    seeds: &Seeds,
    device: &codex_model::burn::tensor::Device,
    observer: &mut dyn Observer,
) -> Result<(Transformer, Transformer, Option<BaseRef>), TrainError> {
    let (mut model, inherited) = match &cfg.train.init_from {
        None => {
            let mc = ModelConfig::from_section(&cfg.model, vocab)?;
            (
                Transformer::init(&mc, seeds.derive("model.init"), device)?,
                None,
            )
        }
        Some(base) => {
            let loaded = load::load_any_with_base(base, device)?;
            observer.event(&Event::FineTuning(base));
            loaded
        }
    };
    let base_model = model.clone();
    if vocab > model.config().vocab_size {
        return Err(TrainError::input(
            "tokenizer",
            format!(
                "has {vocab} tokens but the model's vocabulary is {}",
                model.config().vocab_size
            ),
        ));
    }
    if let Some(l) = &cfg.train.lora
        && model.lora_config().is_none()
    {
        let mut targets = Vec::new();
        for t in &l.targets {
            for target in codex_model::LoraTarget::parse_names(t)? {
                if !targets.contains(&target) {
                    targets.push(target);
                }
            }
        }
        let lora = codex_model::LoraConfig {
            rank: l.rank as usize,
            alpha: l.alpha,
            dropout: l.dropout,
            targets,
        };
        model = model.attach_lora(&lora, seeds.derive("model.init") ^ 0x4c6f_5241)?;
        observer.event(&Event::Lora {
            rank: l.rank,
            targets: &l.targets,
        });
    }
    // Adapters on a base loaded from elsewhere are checkpointed alone, naming
    // the base (the first one, when fine-tuning further from adapters).
    let base_ref = match (&cfg.train.init_from, model.lora_config()) {
        (Some(init), Some(_)) => Some(match inherited {
            Some(inherited) => inherited,
            None => BaseRef {
                source: std::path::absolute(init)
                    .map_err(|e| codex_core::Error::io("cannot resolve", init, e))?,
                fingerprint: base_model.base_fingerprint(),
            },
        }),
        _ => None,
    };
    Ok((model, base_model, base_ref))
}

/// A short generation from "The", through the filter's output stage.
fn sample(
    model: &Transformer,
    tok: &AnyTokenizer,
    eos_id: u32,
    seeds: &Seeds,
    filter: &dyn TextFilter,
) -> Result<String, TrainError> {
    let prompt = tok.encode("The", false)?;
    let len = 48.min(model.config().context_length.saturating_sub(prompt.len()));
    let generation = codex_model::generate(
        &codex_model::burn::module::Module::valid(model),
        std::slice::from_ref(&prompt),
        &GenerateOptions {
            max_new_tokens: len,
            temperature: 0.8,
            top_k: Some(50),
            stop_tokens: vec![eos_id],
            seed: seeds.derive("generate.sampling"),
            vocab_limit: Some(tok.vocab_size()),
            ..GenerateOptions::default()
        },
    )?;
    let mut all = prompt;
    all.extend(&generation[0].tokens);
    let text = tok.decode(&all, true)?;
    Ok(match filter.filter(&text, Stage::Output).verdict {
        Verdict::Keep => text,
        Verdict::Redact(redacted) => redacted,
        Verdict::Drop => "«BLOCKED by the safety policy»".to_owned(),
    })
}

/// Unigram entropy (nats per token) of a split: the loss of a model that
/// ignores context, which a trained model must beat.
pub fn unigram_entropy(store: &TokenStore, vocab: usize) -> f64 {
    let mut counts = vec![0u64; vocab];
    let mut buf = Vec::new();
    for shard in 0..store.shards() {
        let total = store.shard_tokens(shard);
        let mut at = 0;
        while at < total {
            let n = (total - at).min(1 << 20) as usize;
            buf.clear();
            store.read(shard, at, n, &mut buf);
            for &t in &buf {
                if let Some(c) = counts.get_mut(t as usize) {
                    *c += 1;
                }
            }
            at += n as u64;
        }
    }
    let sum: u64 = counts.iter().sum();
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / sum as f64;
            -p * p.ln()
        })
        .sum()
}

/// How `train.eval_tasks` runs: its limit and few-shot count, and no
/// bootstrap (training logs values, not their standard errors).
fn task_options(et: &codex_core::config::EvalTasks) -> codex_eval::tasks::RunOptions {
    codex_eval::tasks::RunOptions {
        num_fewshot: et.num_fewshot.map(|n| n as usize),
        limit: et.limit.map(|n| n as usize),
        bootstrap_iters: 0,
        ..codex_eval::tasks::RunOptions::default()
    }
}
