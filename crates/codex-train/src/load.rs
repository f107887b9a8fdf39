//! Loading a model from wherever codex users keep one: a run directory (its
//! newest valid checkpoint), a checkpoint (whole, or LoRA adapters on their
//! recorded base), a native model (`model.bpk`) or a Hugging Face directory
//! (`config.json` with safetensors), with the tokenizer that goes with it.

use std::path::{Path, PathBuf};

use codex_core::config::{AppConfig, ConfigLoader};
use codex_model::Transformer;
use codex_model::burn::tensor::Device;
use codex_tokenize::AnyTokenizer;

use crate::checkpoint::{self, BaseRef};
use crate::error::TrainError;

/// The newest checkpoint of the run in `run` whose checksums verify, and a
/// warning for each newer one that does not.
pub fn latest_checkpoint(run: &Path) -> Result<(Option<PathBuf>, Vec<String>), TrainError> {
    checkpoint::latest_valid(&run.join("checkpoints"))
}

/// A model to load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSource {
    /// A Hugging Face directory (`config.json` and safetensors).
    HuggingFace(PathBuf),
    /// A checkpoint directory (whole model, or adapters on a recorded base).
    Checkpoint(PathBuf),
    /// A native model file.
    Native(PathBuf),
}

/// A [`ModelSource`] found from a path, with the run it belongs to and any
/// warnings met on the way (corrupt newer checkpoints skipped).
#[derive(Debug, Clone)]
pub struct Located {
    /// What to load.
    pub source: ModelSource,
    /// The run directory, when the model belongs to one.
    pub run: Option<PathBuf>,
    /// Checkpoints skipped because they did not verify.
    pub warnings: Vec<String>,
}

/// What `path` names: a Hugging Face directory, a run (its newest valid
/// checkpoint), a checkpoint or a native model.
pub fn locate(path: &Path) -> Result<Located, TrainError> {
    let found = |source, run, warnings| {
        Ok(Located {
            source,
            run,
            warnings,
        })
    };
    if path.join("config.json").is_file() {
        return found(ModelSource::HuggingFace(path.to_owned()), None, Vec::new());
    }
    if path.join("checkpoints").is_dir() {
        let (ck, warnings) = latest_checkpoint(path)?;
        let ck =
            ck.ok_or_else(|| TrainError::input(path.display(), "the run has no valid checkpoint"))?;
        return found(ModelSource::Checkpoint(ck), Some(path.to_owned()), warnings);
    }
    if path.join("state.json").is_file() {
        checkpoint::verify(path)?;
        let run = path
            .parent()
            .and_then(Path::parent)
            .filter(|r| r.join("config.yaml").is_file())
            .map(Path::to_owned);
        return found(ModelSource::Checkpoint(path.to_owned()), run, Vec::new());
    }
    if let Some(native) = codex_model::native_path(path) {
        return found(ModelSource::Native(native), None, Vec::new());
    }
    Err(TrainError::input(
        path.display(),
        "not a run directory, a checkpoint, a native model (model.bpk) or a Hugging Face directory (config.json)",
    ))
}

impl ModelSource {
    /// The directory or file loaded.
    pub fn path(&self) -> &Path {
        match self {
            Self::HuggingFace(p) | Self::Checkpoint(p) | Self::Native(p) => p,
        }
    }

    /// Loads the model on `device`. A checkpoint of adapters alone loads its
    /// base from where the run recorded it (any source this function
    /// accepts) and refuses it if its fingerprint changed; the base it names
    /// is returned too.
    pub fn load(&self, device: &Device) -> Result<(Transformer, Option<BaseRef>), TrainError> {
        match self {
            Self::HuggingFace(dir) => Ok((codex_model::import_hf(dir, device)?, None)),
            Self::Native(file) => Ok((codex_model::load_native(file, device)?, None)),
            Self::Checkpoint(ck) => {
                let (model, state) = checkpoint::load_model(ck, device, |b| {
                    load_any(&b.source, device).map_err(|e| {
                        TrainError::input(
                            b.source.display(),
                            format!(
                                "cannot load the base model of the LoRA checkpoint {}: {e}",
                                ck.display()
                            ),
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

/// The configuration a run recorded (`config.yaml`), when there is a run.
fn run_config(run: Option<&Path>) -> Result<Option<AppConfig>, TrainError> {
    match run {
        Some(r) if r.join("config.yaml").is_file() => Ok(Some(
            ConfigLoader::new()
                .file(r.join("config.yaml"))
                .load()?
                .config,
        )),
        _ => Ok(None),
    }
}

/// Loads any model codex can start from (see [`locate`]).
pub fn load_any(path: &Path, device: &Device) -> Result<Transformer, TrainError> {
    Ok(load_any_with_base(path, device)?.0)
}

/// [`load_any`], with the base a checkpoint of LoRA adapters names.
pub fn load_any_with_base(
    path: &Path,
    device: &Device,
) -> Result<(Transformer, Option<BaseRef>), TrainError> {
    locate(path)?.source.load(device)
}

/// What a `generation_config.json` sets for sampling; `None` where it is silent.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct GenerationDefaults {
    /// `false`: greedy decoding whatever the temperature.
    pub do_sample: Option<bool>,
    /// Sampling temperature.
    pub temperature: Option<f64>,
    /// Keep the k most likely tokens (0: all).
    pub top_k: Option<usize>,
    /// Nucleus threshold.
    pub top_p: Option<f64>,
    /// Penalty of tokens already in the text.
    pub repetition_penalty: Option<f64>,
    /// Tokens to generate at most.
    pub max_new_tokens: Option<usize>,
}

/// A model ready for inference, with its tokenizer and where both came from.
#[derive(Debug)]
pub struct InferenceModel {
    /// The model.
    pub model: Transformer,
    /// Its tokenizer.
    pub tokenizer: AnyTokenizer,
    /// Where the tokenizer was read.
    pub tokenizer_path: PathBuf,
    /// The run's configuration, when the model came from a run.
    pub config: Option<AppConfig>,
    /// The run directory, when there is one.
    pub run: Option<PathBuf>,
    /// The checkpoint, model file or directory loaded.
    pub source: PathBuf,
    /// The checkpoint's step, when loaded from a checkpoint.
    pub step: Option<u64>,
    /// Checkpoints skipped on the way.
    pub warnings: Vec<String>,
}

impl InferenceModel {
    /// Every token generation stops at: the [separator](Self::separator) and
    /// each `eos_token_id` of a `generation_config.json` beside the tokenizer
    /// or the model (one id, or a list as Llama 3 writes it). A file that is
    /// not JSON, or ids that are not token ids, are errors naming the file.
    pub fn stop_tokens(&self) -> Result<Vec<u32>, TrainError> {
        let mut stops: Vec<u32> = self.separator().into_iter().collect();
        for (path, value) in self.generation_configs()? {
            let bad = || {
                TrainError::input(
                    format!("{}: eos_token_id", path.display()),
                    "must be a token id or a list of token ids",
                )
            };
            let vocab = self.model.config().vocab_size;
            let id = |v: &serde_json::Value| {
                v.as_u64()
                    .filter(|&id| (id as usize) < vocab)
                    .map(|id| id as u32)
                    .ok_or_else(bad)
            };
            match value.get("eos_token_id") {
                None | Some(serde_json::Value::Null) => {}
                Some(serde_json::Value::Array(ids)) => {
                    for v in ids {
                        stops.push(id(v)?);
                    }
                }
                Some(v) => stops.push(id(v)?),
            }
        }
        stops.sort_unstable();
        stops.dedup();
        Ok(stops)
    }

    /// Every `generation_config.json` beside the tokenizer or the model,
    /// parsed.
    fn generation_configs(&self) -> Result<Vec<(PathBuf, serde_json::Value)>, TrainError> {
        let mut dirs = vec![self.tokenizer_path.parent().unwrap_or(Path::new("."))];
        if self.source.is_dir() && !dirs.contains(&self.source.as_path()) {
            dirs.push(&self.source);
        }
        let mut out = Vec::new();
        for dir in dirs {
            let path = dir.join("generation_config.json");
            if !path.is_file() {
                continue;
            }
            let text = std::fs::read_to_string(&path)
                .map_err(|e| codex_core::Error::io("cannot read", &path, e))?;
            let value: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| TrainError::input(path.display(), format!("not valid JSON: {e}")))?;
            out.push((path, value));
        }
        Ok(out)
    }

    /// The sampling defaults a `generation_config.json` beside the model
    /// sets, key by key (`do_sample`, `temperature`, `top_k`, `top_p`,
    /// `repetition_penalty`, `max_new_tokens`); a value of the wrong type is
    /// an error naming the file and key.
    pub fn generation_defaults(&self) -> Result<GenerationDefaults, TrainError> {
        let mut d = GenerationDefaults::default();
        for (path, value) in self.generation_configs()? {
            let get = |key: &str| value.get(key).filter(|v| !v.is_null());
            let bad = |key: &str, what: &str| {
                TrainError::input(
                    format!("{}: {key}", path.display()),
                    format!("must be {what}"),
                )
            };
            let number = |key: &str| -> Result<Option<f64>, TrainError> {
                get(key)
                    .map(|v| {
                        v.as_f64()
                            .filter(|x| x.is_finite() && *x >= 0.0)
                            .ok_or_else(|| bad(key, "a non-negative number"))
                    })
                    .transpose()
            };
            let count = |key: &str| -> Result<Option<usize>, TrainError> {
                get(key)
                    .map(|v| {
                        v.as_u64()
                            .map(|n| n as usize)
                            .ok_or_else(|| bad(key, "a non-negative integer"))
                    })
                    .transpose()
            };
            if let Some(v) = get("do_sample") {
                d.do_sample = Some(
                    v.as_bool()
                        .ok_or_else(|| bad("do_sample", "true or false"))?,
                );
            }
            d.temperature = number("temperature")?.or(d.temperature);
            d.top_p = number("top_p")?.or(d.top_p);
            d.repetition_penalty = number("repetition_penalty")?.or(d.repetition_penalty);
            d.top_k = count("top_k")?.or(d.top_k);
            d.max_new_tokens = count("max_new_tokens")?.or(d.max_new_tokens);
        }
        Ok(d)
    }

    /// The document separator, where generation stops: the `eos_token` the
    /// tokenizer's directory declares (an imported tokenizer, or one codex
    /// trained), else the run's first special token, else `<|endoftext|>`.
    pub fn separator(&self) -> Option<u32> {
        let dir = self.tokenizer_path.parent().unwrap_or(Path::new("."));
        let declared = codex_tokenize::SpecialTokens::read(dir)
            .ok()
            .flatten()
            .and_then(|s| s.eos);
        declared
            .or_else(|| {
                self.config
                    .as_ref()
                    .and_then(|c| c.tokenizer.special_tokens.first().cloned())
            })
            .or_else(|| Some("<|endoftext|>".to_owned()))
            .and_then(|t| self.tokenizer.token_to_id(&t))
    }
}

/// The shape of the model `path` names, read without its weights.
pub fn model_config_of(path: &Path) -> Result<codex_model::ModelConfig, TrainError> {
    let located = locate(path)?;
    Ok(match &located.source {
        ModelSource::HuggingFace(dir) => codex_model::read_hf_config(&dir.join("config.json"))?,
        ModelSource::Checkpoint(ck) => checkpoint::read_state(ck)?.model,
        ModelSource::Native(file) => {
            let mut meta = file.as_os_str().to_owned();
            meta.push(".json");
            let meta = PathBuf::from(meta);
            let text = std::fs::read_to_string(&meta)
                .map_err(|e| TrainError::input(meta.display(), format!("cannot read: {e}")))?;
            let v: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| TrainError::input(meta.display(), format!("not valid JSON: {e}")))?;
            serde_json::from_value(v["model"].clone()).map_err(|e| {
                TrainError::input(meta.display(), format!("invalid model metadata: {e}"))
            })?
        }
    })
}

/// The tokenizer that goes with a located model: the run's, else
/// `tokenizer.json` beside the model (in a checkpoint, a native model's
/// directory or a Hugging Face directory).
pub(crate) fn tokenizer_for(path: &Path, located: &Located) -> Result<PathBuf, TrainError> {
    if let Some(r) = &located.run
        && r.join("tokenizer/tokenizer.json").is_file()
    {
        return Ok(r.join("tokenizer/tokenizer.json"));
    }
    let dir = match &located.source {
        ModelSource::Native(f) => f.parent().unwrap_or(Path::new(".")).to_owned(),
        ModelSource::Checkpoint(d) | ModelSource::HuggingFace(d) => d.clone(),
    };
    let beside = dir.join("tokenizer.json");
    if beside.is_file() {
        return Ok(beside);
    }
    Err(TrainError::input(
        path.display(),
        "no tokenizer found: expected <run>/tokenizer/tokenizer.json or tokenizer.json beside the model",
    ))
}

/// Loads the model `path` names (see [`locate`]) with its tokenizer and, for
/// a run, its configuration.
pub fn load_for_inference(path: &Path, device: &Device) -> Result<InferenceModel, TrainError> {
    let located = locate(path)?;
    let (model, _) = located.source.load(device)?;
    let tokenizer_path = tokenizer_for(path, &located)?;
    let tokenizer = AnyTokenizer::from_file(&tokenizer_path)?;
    if tokenizer.vocab_size() > model.config().vocab_size {
        return Err(TrainError::input(
            tokenizer_path.display(),
            format!(
                "the tokenizer has {} tokens, more than the model's vocabulary of {}",
                tokenizer.vocab_size(),
                model.config().vocab_size
            ),
        ));
    }
    let config = run_config(located.run.as_deref())?;
    let step = match &located.source {
        ModelSource::Checkpoint(ck) => Some(checkpoint::read_state(ck)?.step),
        _ => None,
    };
    Ok(InferenceModel {
        model,
        tokenizer,
        tokenizer_path,
        config,
        run: located.run,
        source: located.source.path().to_owned(),
        step,
        warnings: located.warnings,
    })
}

/// What the model `path` names is (`codex model inspect`): anything
/// [`locate`] accepts (a run is its newest valid checkpoint; a checkpoint of
/// LoRA adapters is inspected merged on its base), or a named architecture.
pub fn inspect(path: &Path, device: &Device) -> Result<codex_model::Inspection, TrainError> {
    let located = match locate(path) {
        Ok(l) => l,
        Err(e) if path.exists() => return Err(e),
        Err(_) => {
            return codex_model::inspect(path, device).map_err(|_| {
                TrainError::input(
                    path.display(),
                    "no such file, and not a named architecture (`codex registry list`)",
                )
            });
        }
    };
    let ck = match &located.source {
        ModelSource::Checkpoint(ck) if checkpoint::holds_adapters(ck) => ck,
        other => return Ok(codex_model::inspect(other.path(), device)?),
    };
    let (model, _) = located.source.load(device)?;
    let mut files = Vec::new();
    for name in ["adapter.safetensors", "state.json", "checksums.json"] {
        let f = ck.join(name);
        if f.is_file() {
            let (digest, size) = codex_core::hash_file(&f)?;
            files.push((f, digest.to_string(), size));
        }
    }
    let n = model.config().param_counts().total();
    Ok(codex_model::Inspection {
        format: "checkpoint of LoRA adapters, merged on its base",
        config: model.config().clone(),
        files,
        dtypes: std::collections::BTreeMap::from([("F32".to_owned(), n)]),
        stored_values: Some(n),
    })
}

/// A model exported as a Hugging Face directory.
#[derive(Debug, Clone)]
pub struct Exported {
    /// The checkpoint, model file or directory exported.
    pub source: PathBuf,
    /// Tokenizer files copied beside the weights (byte for byte).
    pub tokenizer_files: Vec<String>,
    /// Files written for `transformers` that the source did not have
    /// (`tokenizer_config.json` for a tokenizer codex trained,
    /// `generation_config.json`).
    pub generated: Vec<String>,
    /// The special tokens' ids written into `config.json`.
    pub special_ids: SpecialIds,
    /// Whether LoRA adapters were merged into the weights.
    pub merged_lora: bool,
}

/// Ids of a tokenizer's special tokens, as `config.json` names them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct SpecialIds {
    /// `bos_token_id`.
    pub bos_token_id: Option<u32>,
    /// `eos_token_id`.
    pub eos_token_id: Option<u32>,
    /// `pad_token_id`.
    pub pad_token_id: Option<u32>,
}

fn write_json(path: &Path, value: &serde_json::Value) -> Result<(), TrainError> {
    let text = serde_json::to_string_pretty(value).expect("JSON serializes") + "\n";
    Ok(codex_core::write_bytes_atomic(path, text.as_bytes())?)
}

/// Exports the model `path` names (see [`locate`]) as a Hugging Face
/// directory `out` that `transformers` uses as trained: `config.json` (with
/// the special tokens' ids) and `model.safetensors` (adapters merged), the
/// tokenizer files of its run or source directory unchanged, a
/// `tokenizer_config.json` when the tokenizer is codex's own, and a
/// `generation_config.json` that stops at the end-of-sequence token.
pub fn export(path: &Path, out: &Path, device: &Device) -> Result<Exported, TrainError> {
    let located = locate(path)?;
    let (model, _) = located.source.load(device)?;
    codex_model::export_hf(&model, out)?;
    let from = match (&located.source, &located.run) {
        (ModelSource::Checkpoint(_), Some(run)) => run.join("tokenizer"),
        (ModelSource::Checkpoint(d) | ModelSource::HuggingFace(d), _) => d.clone(),
        (ModelSource::Native(f), _) => f.parent().unwrap_or(Path::new(".")).to_owned(),
    };
    let tokenizer_files = codex_model::copy_tokenizer_files(&from, out)?;
    let mut generated = Vec::new();
    let roles = match codex_tokenize::SpecialTokens::read(out)? {
        Some(r) => r,
        None => {
            // A codex-trained tokenizer from before tokenizer_config.json was
            // written: its roles come from the run's configuration.
            let specials = run_config(located.run.as_deref())?
                .map(|c| c.tokenizer.special_tokens)
                .unwrap_or_default();
            let roles = codex_tokenize::SpecialTokens::from_specials(&specials);
            if out.join("tokenizer.json").is_file() {
                let config = roles.tokenizer_config(model.config().context_length);
                write_json(&out.join("tokenizer_config.json"), &config)?;
                generated.push("tokenizer_config.json".to_owned());
            }
            roles
        }
    };
    let tokenizer = match out.join("tokenizer.json") {
        p if p.is_file() => Some(AnyTokenizer::from_file(&p)?),
        _ => None,
    };
    let id = |t: &Option<String>| {
        t.as_ref()
            .and_then(|t| tokenizer.as_ref().and_then(|k| k.token_to_id(t)))
    };
    let ids = SpecialIds {
        bos_token_id: id(&roles.bos),
        eos_token_id: id(&roles.eos),
        pad_token_id: id(&roles.pad),
    };
    let config_path = out.join("config.json");
    let mut config: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&config_path)
            .map_err(|e| codex_core::Error::io("cannot read", &config_path, e))?,
    )
    .map_err(|e| TrainError::input(config_path.display(), format!("not valid JSON: {e}")))?;
    let ids_json = serde_json::to_value(ids).expect("ids serialize");
    for (k, v) in ids_json.as_object().expect("an object") {
        config[k] = v.clone();
    }
    write_json(&config_path, &config)?;
    if !tokenizer_files
        .iter()
        .any(|f| f == "generation_config.json")
    {
        write_json(&out.join("generation_config.json"), &ids_json)?;
        generated.push("generation_config.json".to_owned());
    }
    Ok(Exported {
        source: located.source.path().to_owned(),
        tokenizer_files,
        generated,
        special_ids: ids,
        merged_lora: model.lora_config().is_some(),
    })
}
