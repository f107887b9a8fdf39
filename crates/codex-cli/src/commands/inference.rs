//! `codex generate` and `codex eval lm`: a trained model from a run, a
//! checkpoint or a native model directory, with the tokenizer it was trained with.

use std::fmt::Write as _;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use codex_core::config::{AppConfig, ConfigLoader};
use codex_core::{MetricRecord, Seeds, Stage};
use codex_data::{PrepareInputs, TokenStore};
use codex_model::burn::tensor::Device;
use codex_model::{DeviceSpec, GenerateOptions, Transformer};
use codex_tokenize::AnyTokenizer;
use codex_train::checkpoint;

/// The newest checkpoint of a run whose checksums verify, warning about newer
/// corrupt ones.
pub(crate) fn latest_checkpoint(run: &Path) -> Result<Option<PathBuf>> {
    let (found, warnings) = checkpoint::latest_valid(&run.join("checkpoints"))?;
    for w in warnings {
        tracing::warn!("{w}");
    }
    Ok(found)
}

/// What a path names for loading: a checkpoint directory or a native model
/// file, and the run it belongs to. Accepts a run directory (its latest valid
/// checkpoint), a checkpoint, or a `model.bpk` (or the directory holding one).
pub(crate) fn model_source(path: &Path) -> Result<(ModelSource, Option<PathBuf>)> {
    if path.join("checkpoints").is_dir() {
        let ck = latest_checkpoint(path)?
            .with_context(|| format!("`{}` has no valid checkpoint", path.display()))?;
        return Ok((ModelSource::Checkpoint(ck), Some(path.to_owned())));
    }
    if path.join("state.json").is_file() {
        checkpoint::verify(path)?;
        let run = path.parent().and_then(Path::parent).map(Path::to_owned);
        return Ok((ModelSource::Checkpoint(path.to_owned()), run));
    }
    if let Some(native) = super::model::native_path(path) {
        return Ok((ModelSource::Native(native), None));
    }
    bail!(
        "`{}` is not a run directory, a checkpoint or a native model (model.bpk)",
        path.display()
    )
}

/// A model to load: a checkpoint (whole, or LoRA adapters on a recorded base)
/// or a native model file.
pub(crate) enum ModelSource {
    Checkpoint(PathBuf),
    Native(PathBuf),
}

impl ModelSource {
    /// The checkpoint directory or model file.
    pub(crate) fn path(&self) -> &Path {
        match self {
            ModelSource::Checkpoint(p) | ModelSource::Native(p) => p,
        }
    }

    /// Load the model on `device`; a checkpoint of adapters alone loads its
    /// base from where the run recorded it and checks the base's fingerprint.
    /// Also returns the base a checkpoint of adapters names.
    pub(crate) fn load(
        &self,
        device: &Device,
    ) -> Result<(Transformer, Option<checkpoint::BaseRef>)> {
        match self {
            ModelSource::Native(file) => Ok((codex_model::load_native(file, device)?, None)),
            ModelSource::Checkpoint(ck) => {
                let (model, state) = checkpoint::load_model(ck, device, |b| {
                    load_any(&b.source, device).with_context(|| {
                        format!(
                            "cannot load the base model `{}` of the LoRA checkpoint {}",
                            b.source.display(),
                            ck.display()
                        )
                    })
                })?;
                let base = if checkpoint::holds_adapters(ck) {
                    state.base
                } else {
                    None
                };
                Ok((model, base))
            }
        }
    }
}

/// Load any model codex can start from: a Hugging Face directory
/// (`config.json` with safetensors), a run, a checkpoint or a native model.
pub(crate) fn load_any(path: &Path, device: &Device) -> Result<Transformer> {
    Ok(load_any_with_base(path, device)?.0)
}

/// [`load_any`], with the base a checkpoint of LoRA adapters names.
pub(crate) fn load_any_with_base(
    path: &Path,
    device: &Device,
) -> Result<(Transformer, Option<checkpoint::BaseRef>)> {
    if path.join("config.json").is_file() {
        return Ok((codex_model::import_hf(path, device)?, None));
    }
    let (source, _) = model_source(path)?;
    source.load(device)
}

/// A model ready for inference and what came with it.
pub(crate) struct Loaded {
    pub(crate) model: Transformer,
    pub(crate) tokenizer: AnyTokenizer,
    pub(crate) tokenizer_path: PathBuf,
    /// The run's configuration, when the model came from a run.
    pub(crate) config: Option<AppConfig>,
    /// The run directory, when there is one.
    pub(crate) run: Option<PathBuf>,
    /// What was loaded, for messages.
    pub(crate) source: PathBuf,
}

fn device() -> Result<Device> {
    Ok(DeviceSpec::Auto.device()?)
}

/// Load from a run directory (its latest valid checkpoint), a checkpoint
/// directory, or a directory / file holding `model.bpk` with `tokenizer.json` beside it.
pub(crate) fn load(path: &Path) -> Result<Loaded> {
    let (source, run) = model_source(path)?;
    let (model, _) = source.load(&device()?)?;
    let model_file = source.path().to_owned();
    let beside_dir = match &source {
        ModelSource::Native(f) => f.parent().unwrap_or(Path::new(".")),
        ModelSource::Checkpoint(ck) => ck,
    };
    let beside = beside_dir.join("tokenizer.json");
    let tokenizer_path = match &run {
        Some(r) if r.join("tokenizer/tokenizer.json").is_file() => {
            r.join("tokenizer/tokenizer.json")
        }
        _ if beside.is_file() => beside,
        _ => bail!(
            "no tokenizer found for `{}`: expected <run>/tokenizer/tokenizer.json or tokenizer.json beside the model",
            path.display()
        ),
    };
    let tokenizer = AnyTokenizer::from_file(&tokenizer_path)?;
    if tokenizer.vocab_size() > model.config().vocab_size {
        bail!(
            "the tokenizer `{}` has {} tokens, more than the model's vocabulary of {}",
            tokenizer_path.display(),
            tokenizer.vocab_size(),
            model.config().vocab_size
        );
    }
    let config = match &run {
        Some(r) if r.join("config.yaml").is_file() => Some(
            ConfigLoader::new()
                .file(r.join("config.yaml"))
                .load()?
                .config,
        ),
        _ => None,
    };
    Ok(Loaded {
        model,
        tokenizer,
        tokenizer_path,
        config,
        run,
        source: model_file,
    })
}

pub(crate) fn generate(args: crate::cli::GenerateArgs) -> Result<String> {
    let loaded = load(&args.checkpoint)?;
    let prompt = match args.prompt {
        Some(p) => p,
        None => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .context("cannot read the prompt from stdin")?;
            s.trim_end_matches('\n').to_owned()
        }
    };
    // The run's safety settings (the defaults for a bare model), decisions
    // logged in the run's audit trail when there is a run.
    let cfg = match &loaded.config {
        Some(c) => c.clone(),
        None => ConfigLoader::new().load()?.config,
    };
    let events = loaded.run.as_deref().map(super::safety::events_path);
    let filter = super::safety::filter_for(&cfg, events.as_deref())?;
    let prompt = super::safety::apply(&*filter, prompt, Stage::Prompt, "the prompt")?;
    let ids = loaded.tokenizer.encode(&prompt, false)?;
    if ids.is_empty() {
        bail!("the prompt is empty after tokenization; give some text");
    }
    let room = loaded
        .model
        .config()
        .context_length
        .saturating_sub(ids.len());
    let max_new = (args.max_new_tokens as usize).min(room);
    if max_new == 0 {
        bail!(
            "the prompt has {} tokens, which fills the model's context of {}",
            ids.len(),
            loaded.model.config().context_length
        );
    }
    let stop_tokens: Vec<u32> = loaded
        .config
        .as_ref()
        .and_then(|c| c.tokenizer.special_tokens.first().cloned())
        .or_else(|| Some("<|endoftext|>".to_owned()))
        .and_then(|t| loaded.tokenizer.token_to_id(&t))
        .into_iter()
        .collect();
    let out = codex_model::generate(
        &loaded.model,
        std::slice::from_ref(&ids),
        &GenerateOptions {
            max_new_tokens: max_new,
            temperature: args.temperature,
            top_k: args.top_k.map(|k| k as usize),
            top_p: args.top_p,
            repetition_penalty: args.repetition_penalty,
            stop_tokens,
            seed: args.seed,
            ..GenerateOptions::default()
        },
    )?;
    let mut all = ids;
    all.extend(&out[0].tokens);
    let text = loaded.tokenizer.decode(&all, true)?;
    let mut text = super::safety::apply(&*filter, text, Stage::Output, "the generated text")?;
    text.push('\n');
    Ok(text)
}

pub(crate) fn eval_lm(
    checkpoint_path: &Path,
    data: &Path,
    split: &str,
    batches: u32,
) -> Result<String> {
    let loaded = load(checkpoint_path)?;
    let cfg = match &loaded.config {
        Some(c) => c.clone(),
        None => ConfigLoader::new().load()?.config,
    };
    // A prepared dataset (manifest.json), or text prepared now with this model's tokenizer.
    let scratch = tempfile::tempdir().context("cannot create a scratch directory")?;
    let (dir, split) = if data.join("manifest.json").is_file() {
        (data.to_owned(), split.to_owned())
    } else if data.is_file() {
        let mut section = cfg.data.clone();
        section.sources = vec![data.to_owned()];
        section.validation_fraction = 0.0;
        section.test_fraction = 0.0;
        section.dedup = false;
        let eos = cfg
            .tokenizer
            .special_tokens
            .first()
            .and_then(|t| loaded.tokenizer.token_to_id(t))
            .context("the tokenizer has no document separator (tokenizer.special_tokens[0])")?;
        let (digest, _) = codex_core::hash_file(&loaded.tokenizer_path)?;
        codex_data::prepare(&PrepareInputs {
            data: &section,
            seeds: Seeds::new(cfg.run.seed),
            tokenizer: &loaded.tokenizer,
            tokenizer_blake3: digest,
            eos_id: eos,
            filter: &*super::safety::filter_for(&cfg, None)?,
            out: scratch.path(),
            on_documents: &|_| {},
        })?;
        (scratch.path().to_owned(), "train".to_owned())
    } else {
        bail!(
            "`{}` is neither a prepared dataset (with manifest.json) nor a text file",
            data.display()
        );
    };
    let manifest = codex_data::Manifest::load(&dir)?;
    let record = manifest.split(&split);
    if record.tokens == 0 {
        bail!("split `{split}` of `{}` has no tokens", dir.display());
    }
    let store = TokenStore::open(&dir, &record.shards, true)?;
    let metrics = codex_train::evaluate(
        &loaded.model,
        &store,
        cfg.train.batch_size as usize,
        batches as usize,
    )?;
    let step = std::fs::read_to_string(loaded.source.with_file_name("state.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v["step"].as_u64())
        .unwrap_or(0);
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let rows: Vec<MetricRecord> = [
        ("loss", metrics.loss),
        ("perplexity", metrics.perplexity),
        ("token_accuracy", metrics.token_accuracy),
        ("tokens", metrics.tokens as f64),
    ]
    .into_iter()
    .map(|(name, value)| MetricRecord {
        step,
        epoch: 0,
        split: split.clone(),
        name: name.to_owned(),
        value,
        wall_time: wall,
    })
    .collect();
    let mut out = String::new();
    if let Some(run) = &loaded.run {
        let eval_dir = run.join("eval");
        std::fs::create_dir_all(&eval_dir)?;
        let path = eval_dir.join("lm.ndjson");
        let mut text = std::fs::read_to_string(&path).unwrap_or_default();
        for r in &rows {
            text.push_str(&serde_json::to_string(r)?);
            text.push('\n');
        }
        codex_core::write_bytes_atomic(&path, text.as_bytes())?;
        writeln!(out, "records    {}", path.display())?;
    }
    writeln!(out, "model      {} (step {step})", loaded.source.display())?;
    let shown = if data.is_file() { data } else { dir.as_path() };
    writeln!(
        out,
        "data       {} split `{split}`, {} tokens evaluated",
        shown.display(),
        metrics.tokens
    )?;
    writeln!(out, "loss       {:.4}", metrics.loss)?;
    writeln!(out, "perplexity {:.3}", metrics.perplexity)?;
    writeln!(out, "accuracy   {:.2}%", 100.0 * metrics.token_accuracy)?;
    Ok(out)
}
