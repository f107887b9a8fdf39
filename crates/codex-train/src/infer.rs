//! Using a trained model: `codex generate` (a prompt through the safety
//! filter, the model and the filter again) and `codex eval lm` (loss,
//! perplexity and token accuracy of a checkpoint on a dataset), as library
//! calls.

use std::path::{Path, PathBuf};

use codex_core::config::{AppConfig, ConfigLoader};
use codex_core::{MetricRecord, Seeds, Stage, apply_filter};
use codex_data::{PrepareInputs, TokenStore};
use codex_model::GenerateOptions;
use codex_model::burn::tensor::Device;
use serde::Serialize;

use crate::error::TrainError;
use crate::job::FilterMaker;
use crate::load::{InferenceModel, load_for_inference};
use crate::trainer::{EvalMetrics, evaluate};

/// The run's configuration, or the embedded default for a bare model.
pub(crate) fn config_of(loaded: &InferenceModel) -> Result<AppConfig, TrainError> {
    Ok(match &loaded.config {
        Some(c) => c.clone(),
        None => ConfigLoader::new().load()?.config,
    })
}

/// The filter for a loaded model: the caller's, fed the run's configuration
/// and audit trail (`<run>/safety/events.ndjson`), or pass-through.
pub(crate) fn filter_of(
    loaded: &InferenceModel,
    cfg: &AppConfig,
    filter: Option<&FilterMaker<'_>>,
    log: bool,
) -> Result<Box<dyn codex_core::TextFilter>, TrainError> {
    let events = log
        .then(|| {
            loaded
                .run
                .as_ref()
                .map(|r| r.join("safety").join("events.ndjson"))
        })
        .flatten();
    match filter {
        Some(make) => make(cfg, events.as_deref()),
        None => Ok(Box::new(codex_core::PassThrough)),
    }
}

/// What `codex generate` asks for.
#[derive(Debug, Clone)]
pub struct GenerateRequest {
    /// A run, checkpoint, native model or Hugging Face directory.
    pub model: PathBuf,
    /// The prompt.
    pub prompt: String,
    /// Tokens to generate at most (fewer if the context fills up); `None`:
    /// the model's `generation_config.json`, else 128.
    pub max_new_tokens: Option<usize>,
    /// Sampling settings the caller chose.
    pub sampling: Sampling,
}

/// Sampling settings of a generation. Each `None` takes the model's
/// `generation_config.json` value where it sets one (`do_sample: false`
/// meaning greedy), else codex's default: temperature 1, no top-k or top-p,
/// no repetition penalty.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sampling {
    /// Temperature; 0 is greedy.
    pub temperature: Option<f64>,
    /// Keep the k most likely tokens (0: all, as in transformers).
    pub top_k: Option<usize>,
    /// Keep the smallest set of tokens whose probability reaches p.
    pub top_p: Option<f64>,
    /// Penalize tokens already in the text (1 disables).
    pub repetition_penalty: Option<f64>,
    /// The sampler's seed.
    pub seed: u64,
}

impl Sampling {
    /// The options this asks for, the model's defaults `d` filling what the
    /// caller left open.
    pub fn resolve(&self, d: &crate::load::GenerationDefaults) -> GenerateOptions {
        let greedy = d.do_sample == Some(false);
        let temperature = self
            .temperature
            .or(if greedy { Some(0.0) } else { d.temperature })
            .unwrap_or(1.0);
        GenerateOptions {
            temperature,
            top_k: self.top_k.or(d.top_k).filter(|&k| k > 0),
            top_p: self.top_p.or(d.top_p),
            repetition_penalty: self
                .repetition_penalty
                .or(d.repetition_penalty)
                .unwrap_or(1.0),
            seed: self.seed,
            ..GenerateOptions::default()
        }
    }
}

/// A generation.
#[derive(Debug, Clone)]
pub struct Generated {
    /// Prompt and continuation, decoded, after the output filter.
    pub text: String,
    /// Whether the prompt was changed by the filter before the model saw it.
    pub prompt_redacted: bool,
    /// Tokens generated.
    pub new_tokens: usize,
    /// Checkpoints skipped on the way (they did not verify).
    pub warnings: Vec<String>,
}

/// Generates from a prompt: the prompt passes the filter's prompt stage, the
/// model continues it (stopping at the document separator or an
/// `eos_token_id` of `generation_config.json`), and the text passes the
/// output stage.
pub fn generate_text(
    request: &GenerateRequest,
    device: &Device,
    filter: Option<&FilterMaker<'_>>,
) -> Result<Generated, TrainError> {
    let loaded = load_for_inference(&request.model, device)?;
    let cfg = config_of(&loaded)?;
    let filter = filter_of(&loaded, &cfg, filter, true)?;
    let prompt = apply_filter(&*filter, request.prompt.clone(), Stage::Prompt, "prompt")?;
    let prompt_redacted = prompt != request.prompt;
    let ids = loaded.tokenizer.encode(&prompt, false)?;
    if ids.is_empty() {
        return Err(TrainError::input(
            "the prompt",
            "is empty after tokenization; give some text",
        ));
    }
    let defaults = loaded.generation_defaults()?;
    let options = request.sampling.resolve(&defaults);
    let wanted = request
        .max_new_tokens
        .or(defaults.max_new_tokens)
        .unwrap_or(128);
    let context = loaded.model.config().context_length;
    let room = context.saturating_sub(ids.len());
    let max_new = wanted.min(room);
    if max_new == 0 {
        return Err(TrainError::input(
            "the prompt",
            format!(
                "has {} tokens, which fills the model's context of {context}",
                ids.len()
            ),
        ));
    }
    let stop_tokens = loaded.stop_tokens()?;
    let out = codex_model::generate(
        &loaded.model,
        std::slice::from_ref(&ids),
        &GenerateOptions {
            max_new_tokens: max_new,
            stop_tokens,
            vocab_limit: Some(loaded.tokenizer.vocab_size()),
            ..options
        },
    )?;
    let new_tokens = out[0].tokens.len();
    let mut all = ids;
    all.extend(&out[0].tokens);
    let text = loaded.tokenizer.decode(&all, true)?;
    let text = apply_filter(&*filter, text, Stage::Output, "generated text")?;
    Ok(Generated {
        text,
        prompt_redacted,
        new_tokens,
        warnings: loaded.warnings,
    })
}

/// What `codex eval lm` asks for.
#[derive(Debug, Clone)]
pub struct LmEvalRequest {
    /// A run, checkpoint, native model or Hugging Face directory.
    pub model: PathBuf,
    /// A prepared dataset (with `manifest.json`) or a text file.
    pub data: PathBuf,
    /// The split of a prepared dataset (a text file is evaluated whole).
    pub split: String,
    /// Batches to evaluate at most.
    pub batches: usize,
}

/// One row of `eval/lm.ndjson`: a metric row with what it measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LmEvalRecord {
    /// The metric, with the checkpoint's step.
    #[serde(flatten)]
    pub metric: MetricRecord,
    /// The checkpoint or model evaluated.
    pub checkpoint: PathBuf,
    /// The dataset directory or text file.
    pub dataset: PathBuf,
    /// BLAKE3 of the dataset: the text file, or the manifest of a prepared one.
    pub dataset_blake3: String,
}

/// What an LM evaluation measured.
#[derive(Debug, Clone)]
pub struct LmEvaluation {
    /// Loss, perplexity, accuracy and tokens.
    pub metrics: EvalMetrics,
    /// The rows, as written.
    pub records: Vec<LmEvalRecord>,
    /// `<run>/eval/lm.ndjson`, when the model belongs to a run.
    pub written: Option<PathBuf>,
    /// The checkpoint or model evaluated.
    pub source: PathBuf,
    /// Its step, when it is a checkpoint.
    pub step: Option<u64>,
    /// The dataset as given.
    pub data: PathBuf,
}

impl LmEvaluation {
    /// What was evaluated and the results, one `key value` line each.
    pub fn to_text(&self) -> String {
        let split = self.records.first().map_or("", |r| r.metric.split.as_str());
        let step = self
            .step
            .map_or_else(String::new, |s| format!(" (step {s})"));
        codex_core::TextReport::new(10)
            .opt("records", self.written.as_ref().map(|p| p.display()))
            .kv("model", format_args!("{}{step}", self.source.display()))
            .kv(
                "data",
                format_args!(
                    "{} split `{split}`, {} tokens evaluated",
                    self.data.display(),
                    self.metrics.tokens
                ),
            )
            .kv("loss", format_args!("{:.4}", self.metrics.loss))
            .kv("perplexity", format_args!("{:.3}", self.metrics.perplexity))
            .kv(
                "accuracy",
                format_args!("{:.2}%", 100.0 * self.metrics.token_accuracy),
            )
            .finish()
    }
}

/// The split name recorded for a text file evaluated whole.
pub const WHOLE_FILE_SPLIT: &str = "all";

/// Evaluates a model on a dataset: a prepared one as it is, or a text file
/// prepared now with the model's tokenizer (every document, no split). The
/// rows are appended to `<run>/eval/lm.ndjson` when the model has a run.
pub fn evaluate_lm(
    request: &LmEvalRequest,
    device: &Device,
    filter: Option<&FilterMaker<'_>>,
) -> Result<LmEvaluation, TrainError> {
    let loaded = load_for_inference(&request.model, device)?;
    let cfg = config_of(&loaded)?;
    let scratch = tempfile::tempdir()
        .map_err(|e| codex_core::Error::io("cannot create", std::env::temp_dir(), e))?;
    let data = &request.data;
    let (dir, split, digest) = if data.join("manifest.json").is_file() {
        let (d, _) = codex_core::hash_file(data.join("manifest.json"))?;
        (data.to_owned(), request.split.clone(), d)
    } else if data.is_file() {
        let mut section = cfg.data.clone();
        section.sources = vec![data.to_owned()];
        section.validation_fraction = 0.0;
        section.test_fraction = 0.0;
        section.dedup = false;
        let eos = loaded.separator().ok_or_else(|| {
            TrainError::input(
                loaded.tokenizer_path.display(),
                "the tokenizer has no document separator (tokenizer.special_tokens[0])",
            )
        })?;
        let (tokenizer_blake3, _) = codex_core::hash_file(&loaded.tokenizer_path)?;
        let filter = filter_of(&loaded, &cfg, filter, false)?;
        codex_data::prepare(&PrepareInputs {
            data: &section,
            seeds: Seeds::new(cfg.run.seed),
            tokenizer: &loaded.tokenizer,
            tokenizer_blake3,
            eos_id: eos,
            filter: &*filter,
            out: scratch.path(),
            on_documents: &|_| {},
            chat: None,
        })?;
        let (d, _) = codex_core::hash_file(data)?;
        (scratch.path().to_owned(), WHOLE_FILE_SPLIT.to_owned(), d)
    } else {
        return Err(TrainError::input(
            data.display(),
            "neither a prepared dataset (with manifest.json) nor a text file",
        ));
    };
    let manifest = codex_data::Manifest::load(&dir)?;
    // A text file was prepared into the training split of the scratch dataset.
    let stored = if split == WHOLE_FILE_SPLIT {
        "train"
    } else {
        &split
    };
    let record = manifest.split(stored);
    if record.tokens == 0 {
        return Err(TrainError::input(
            data.display(),
            format!("split `{split}` has no tokens"),
        ));
    }
    let store = TokenStore::open(&dir, &record.shards, true)?;
    let metrics = evaluate(
        &loaded.model,
        &store,
        cfg.train.batch_size as usize,
        request.batches,
    )?;
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let records: Vec<LmEvalRecord> = [
        ("loss", metrics.loss),
        ("perplexity", metrics.perplexity),
        ("token_accuracy", metrics.token_accuracy),
        ("tokens", metrics.tokens as f64),
    ]
    .into_iter()
    .map(|(name, value)| LmEvalRecord {
        metric: MetricRecord {
            step: loaded.step.unwrap_or(0),
            epoch: 0,
            split: split.clone(),
            name: name.to_owned(),
            value,
            wall_time: wall,
        },
        checkpoint: std::path::absolute(&loaded.source).unwrap_or_else(|_| loaded.source.clone()),
        dataset: std::path::absolute(data).unwrap_or_else(|_| data.clone()),
        dataset_blake3: digest.to_string(),
    })
    .collect();
    let written = match &loaded.run {
        Some(run) => Some(append_rows(run, &records)?),
        None => None,
    };
    Ok(LmEvaluation {
        metrics,
        records,
        written,
        source: loaded.source,
        step: loaded.step,
        data: data.clone(),
    })
}

/// Appends rows to `<run>/eval/lm.ndjson` (rewritten atomically).
fn append_rows(run: &Path, rows: &[LmEvalRecord]) -> Result<PathBuf, TrainError> {
    let dir = run.join("eval");
    std::fs::create_dir_all(&dir).map_err(|e| codex_core::Error::io("cannot create", &dir, e))?;
    let path = dir.join("lm.ndjson");
    let mut text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(codex_core::Error::io("cannot read", &path, e).into()),
    };
    for r in rows {
        text.push_str(&serde_json::to_string(r).expect("a row serializes"));
        text.push('\n');
    }
    codex_core::write_bytes_atomic(&path, text.as_bytes())?;
    Ok(path)
}
