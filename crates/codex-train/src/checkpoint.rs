//! Checkpoints: `checkpoints/step-NNNNNNNN/` with the model, optimizer state,
//! training state (counters, sampler cursor, config hash) and BLAKE3 checksums of
//! each, plus `checkpoints/index.json` naming the latest.
//!
//! A run that trains LoRA adapters on a base model loaded from elsewhere
//! (`train.init_from`) checkpoints the adapters alone (`adapter.safetensors`,
//! their parameter ids in its metadata) with their optimizer state; the state
//! records the base's source and fingerprint ([`BaseRef`]), and loading puts
//! the adapters back on that base only if its weights still match.
//!
//! A checkpoint is written into a hidden temporary directory and put in place
//! only when every file is written and synced (an existing directory of the
//! same step is replaced in one step, [`codex_core::replace_dir`]), so a
//! failure midway (disk full, SIGKILL) leaves the previous checkpoints as they
//! were.
//!
//! Resuming from a checkpoint older than the newest starts a branch
//! ([`branch_from`]): the later checkpoints belong to a future that was
//! abandoned, so they move to `checkpoints/abandoned/…` (kept, never deleted)
//! and can no longer outrank, replace or be resumed instead of the branch's
//! own checkpoints. Retention never removes the checkpoint it was called for.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::optim::{ModuleOptimizer, OptimizerRecord};
use codex_data::RandomState;
use codex_model::burn;
use codex_model::{ModelConfig, Transformer};
use serde::{Deserialize, Serialize};

use crate::error::TrainError;

/// Counters and cursors that, with the model and optimizer, fix the rest of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// Optimizer steps completed.
    pub step: u64,
    /// Training tokens consumed.
    pub tokens: u64,
    /// The training sampler's cursor.
    pub sampler: RandomState,
    /// BLAKE3 of the resolved configuration that produced the run.
    pub config_hash: String,
    /// The model's shape.
    pub model: ModelConfig,
    /// Training loss of the last step.
    pub train_loss: f64,
    /// Validation loss of the last evaluation, if any.
    pub val_loss: Option<f64>,
    /// The ranking metric (`train.best_metric`) at the last evaluation, if any.
    #[serde(default)]
    pub metric: Option<f64>,
    /// Early stopping: best metric so far and evaluations without improvement.
    #[serde(default)]
    pub early_stopping: Option<(f64, u32)>,
    /// f16 dynamic loss scaling: the scale and the finite steps since it last changed.
    #[serde(default)]
    pub loss_scale: Option<(f64, u64)>,
    /// The base model under the adapters, when the checkpoint holds adapters alone.
    #[serde(default)]
    pub base: Option<BaseRef>,
    /// codex version that wrote the checkpoint.
    pub codex_version: String,
}

/// The base model a checkpoint of LoRA adapters goes back onto.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaseRef {
    /// Where the base was loaded from (`train.init_from`, made absolute).
    pub source: PathBuf,
    /// [`Transformer::base_fingerprint`] of the base weights.
    pub fingerprint: String,
}

/// One entry of `checkpoints/index.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexEntry {
    /// Directory name under `checkpoints/`.
    pub name: String,
    /// Its step.
    pub step: u64,
    /// Validation loss at that step, if evaluated.
    pub val_loss: Option<f64>,
    /// The ranking metric at that step, if evaluated.
    #[serde(default)]
    pub metric: Option<f64>,
}

/// Which checkpoints survive a save.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Retention {
    /// The newest N.
    pub keep_last: usize,
    /// The best K by the ranking metric.
    pub keep_best: usize,
    /// Every checkpoint whose step is a multiple of M (0: none).
    pub keep_every: u64,
    /// Whether a larger ranking metric is better.
    pub larger_is_better: bool,
}

/// `checkpoints/index.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Index {
    /// The newest checkpoint's directory name.
    pub latest: Option<String>,
    /// The best checkpoint by the ranking metric.
    pub best: Option<String>,
    /// Every retained checkpoint, oldest first.
    pub checkpoints: Vec<IndexEntry>,
}

/// Files of a checkpoint that holds the whole model.
const MODEL_FILES: [&str; 4] = ["model.bpk", "model.bpk.json", "optimizer.bpk", "state.json"];
/// Files of a checkpoint that holds LoRA adapters alone.
const ADAPTER_FILES: [&str; 3] = ["adapter.safetensors", "optimizer.bpk", "state.json"];

fn ck_err(path: &Path, message: impl Into<String>) -> TrainError {
    TrainError::Checkpoint {
        path: path.to_owned(),
        message: message.into(),
    }
}

fn io(op: &'static str, path: &Path, e: std::io::Error) -> TrainError {
    TrainError::Core(codex_core::Error::io(op, path, e))
}

/// `bytes` (a burnpack record) written again with its tensors in name order:
/// Burn lists an optimizer record's tensors in a per-process hash order, so
/// the same state would otherwise give different bytes in every process.
/// Scalars and metadata are already ordered maps; the reader takes either.
fn canonical_burnpack(bytes: burn::tensor::Bytes) -> Result<burn::tensor::Bytes, String> {
    let reader = burn_pack::Reader::from_bytes(bytes).map_err(|e| e.to_string())?;
    let scalars = reader.scalars().clone();
    let metadata = reader.metadata().clone();
    let mut tensors = reader.into_tensors().map_err(|e| e.to_string())?;
    tensors.sort_by(|a, b| a.name.cmp(&b.name));
    let mut writer = burn_pack::Writer::new(tensors);
    for (key, value) in &scalars {
        writer = writer.with_scalar(key, *value);
    }
    for (key, value) in &metadata {
        writer = writer.with_metadata(key, value);
    }
    writer.into_bytes().map_err(|e| e.to_string())
}

/// Test hook: `CODEX_TEST_FAIL_CHECKPOINT_FILE=optimizer.bpk@8` makes writing that
/// file of the step-8 checkpoint fail (without `@step`, of every checkpoint), as
/// a full disk would, so tests can show what a failed save leaves behind. Every
/// file a checkpoint writes has the hook (`model.bpk` or `adapter.safetensors`,
/// `optimizer.bpk`, `state.json`, `checksums.json`, and the index, `index.json`).
fn injected_failure(path: &Path, step: u64) -> Result<(), TrainError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let Ok(spec) = std::env::var("CODEX_TEST_FAIL_CHECKPOINT_FILE") else {
        return Ok(());
    };
    let (file, at) = match spec.split_once('@') {
        Some((f, s)) => (f.to_owned(), s.parse::<u64>().ok()),
        None => (spec.clone(), None),
    };
    if file == name && at.is_none_or(|s| s == step) {
        return Err(TrainError::Core(codex_core::Error::io(
            "cannot write",
            path,
            std::io::Error::other("injected failure (CODEX_TEST_FAIL_CHECKPOINT_FILE)"),
        )));
    }
    Ok(())
}

/// Write a checkpoint for `state.step` under `dir` (the run's `checkpoints/`),
/// update the index and drop checkpoints that `retention` does not keep.
pub fn save(
    dir: &Path,
    model: &Transformer,
    optimizer: &ModuleOptimizer,
    state: &TrainState,
    retention: Retention,
) -> Result<PathBuf, TrainError> {
    std::fs::create_dir_all(dir).map_err(|e| io("cannot create", dir, e))?;
    let name = format!("step-{:08}", state.step);
    let tmp = dir.join(format!(".{name}.partial"));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| io("cannot remove", &tmp, e))?;
    }
    std::fs::create_dir(&tmp).map_err(|e| io("cannot create", &tmp, e))?;
    let adapters_only = model.lora_config().is_some() && state.base.is_some();
    let files: &[&str] = if adapters_only {
        &ADAPTER_FILES
    } else {
        &MODEL_FILES
    };
    let result = (|| {
        if adapters_only {
            injected_failure(&tmp.join("adapter.safetensors"), state.step)?;
            model.clone().save_lora(&tmp.join("adapter.safetensors"))?;
        } else {
            injected_failure(&tmp.join("model.bpk"), state.step)?;
            codex_model::save_native(model, &tmp.join("model.bpk"))?;
        }
        injected_failure(&tmp.join("optimizer.bpk"), state.step)?;
        let bytes = optimizer
            .to_record()
            .into_bytes()
            .map_err(|e| e.to_string())
            .and_then(canonical_burnpack)
            .map_err(|e| ck_err(&tmp, format!("cannot encode optimizer state: {e}")))?;
        codex_core::write_bytes_atomic(tmp.join("optimizer.bpk"), &bytes)?;
        injected_failure(&tmp.join("state.json"), state.step)?;
        let text = serde_json::to_string_pretty(state).expect("state serializes") + "\n";
        codex_core::write_bytes_atomic(tmp.join("state.json"), text.as_bytes())?;
        let mut sums = BTreeMap::new();
        for &f in files {
            let (digest, _) = codex_core::hash_file(tmp.join(f))?;
            sums.insert(f.to_owned(), digest.to_string());
        }
        let text = serde_json::to_string_pretty(&sums).expect("map serializes") + "\n";
        injected_failure(&tmp.join("checksums.json"), state.step)?;
        codex_core::write_bytes_atomic(tmp.join("checksums.json"), text.as_bytes())?;
        Ok::<_, TrainError>(())
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    let target = dir.join(&name);
    codex_core::replace_dir(&tmp, &target)?;
    let mut index = read_index(dir).unwrap_or_default();
    index.checkpoints.retain(|e| e.name != name);
    index.checkpoints.push(IndexEntry {
        name: name.clone(),
        step: state.step,
        val_loss: state.val_loss,
        metric: state.metric,
    });
    index.checkpoints.sort_by_key(|e| e.step);
    let ranked = ranked(&index, retention.larger_is_better);
    let best_k: Vec<&str> = ranked
        .iter()
        .take(retention.keep_best)
        .map(String::as_str)
        .collect();
    let cut = index
        .checkpoints
        .len()
        .saturating_sub(retention.keep_last.max(1));
    let drop: Vec<String> = index.checkpoints[..cut]
        .iter()
        .filter(|e| {
            let every = retention.keep_every > 0 && e.step.is_multiple_of(retention.keep_every);
            // The checkpoint just written is never dropped, whatever its rank.
            !(e.name == name || best_k.contains(&e.name.as_str()) || every)
        })
        .map(|e| e.name.clone())
        .collect();
    index.best = ranked.first().cloned();
    index.checkpoints.retain(|e| !drop.contains(&e.name));
    index.latest = Some(name);
    injected_failure(&dir.join("index.json"), state.step)?;
    write_index(dir, &index)?;
    for name in drop {
        let p = dir.join(&name);
        let _ = std::fs::remove_dir_all(&p);
    }
    Ok(target)
}

/// Names of the indexed checkpoints with a ranking metric, best first.
fn ranked(index: &Index, larger_is_better: bool) -> Vec<String> {
    let mut ranked: Vec<(f64, &str)> = index
        .checkpoints
        .iter()
        .filter_map(|e| e.metric.map(|v| (v, e.name.as_str())))
        .collect();
    ranked.sort_by(|a, b| {
        if larger_is_better {
            b.0.total_cmp(&a.0)
        } else {
            a.0.total_cmp(&b.0)
        }
    });
    ranked.into_iter().map(|(_, n)| n.to_owned()).collect()
}

/// The step of a checkpoint directory name (`step-NNNNNNNN`).
fn step_of(name: &str) -> Option<u64> {
    name.strip_prefix("step-")?.parse().ok()
}

/// Starts a branch at the checkpoint of `step`: every checkpoint under `dir`
/// with a later step moves, with its index entries, to
/// `dir/abandoned/after-step-NNNNNNNN[-K]/`, and the index's latest and best
/// are recomputed from what remains. Returns where they went, or `None` when
/// there was nothing later (the usual resume from the newest checkpoint).
pub fn branch_from(
    dir: &Path,
    step: u64,
    larger_is_better: bool,
) -> Result<Option<PathBuf>, TrainError> {
    let mut later: Vec<(u64, String)> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                step_of(&name).filter(|&s| s > step).map(|s| (s, name))
            })
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io("cannot list", dir, e)),
    };
    if later.is_empty() {
        return Ok(None);
    }
    later.sort();
    let parent = dir.join("abandoned");
    std::fs::create_dir_all(&parent).map_err(|e| io("cannot create", &parent, e))?;
    let base = format!("after-step-{step:08}");
    let mut to = parent.join(&base);
    let mut k = 1;
    while to.exists() {
        k += 1;
        to = parent.join(format!("{base}-{k}"));
    }
    std::fs::create_dir(&to).map_err(|e| io("cannot create", &to, e))?;
    let mut index = read_index(dir).unwrap_or_default();
    let moved: Vec<IndexEntry> = index
        .checkpoints
        .iter()
        .filter(|e| later.iter().any(|(_, n)| *n == e.name))
        .cloned()
        .collect();
    write_index(
        &to,
        &Index {
            latest: later.last().map(|(_, n)| n.clone()),
            best: None,
            checkpoints: moved,
        },
    )?;
    for (_, name) in &later {
        let from = dir.join(name);
        std::fs::rename(&from, to.join(name)).map_err(|e| io("cannot move", &from, e))?;
    }
    index
        .checkpoints
        .retain(|e| !later.iter().any(|(_, n)| *n == e.name));
    index.latest = index.checkpoints.last().map(|e| e.name.clone());
    index.best = ranked(&index, larger_is_better).first().cloned();
    write_index(dir, &index)?;
    Ok(Some(to))
}

/// Read `index.json` of a checkpoints directory.
pub fn read_index(dir: &Path) -> Result<Index, TrainError> {
    let path = dir.join("index.json");
    let text = std::fs::read_to_string(&path).map_err(|e| io("cannot read", &path, e))?;
    serde_json::from_str(&text).map_err(|e| ck_err(&path, format!("invalid index: {e}")))
}

fn write_index(dir: &Path, index: &Index) -> Result<(), TrainError> {
    let text = serde_json::to_string_pretty(index).expect("index serializes") + "\n";
    codex_core::write_bytes_atomic(dir.join("index.json"), text.as_bytes())?;
    Ok(())
}

/// Check every file of a checkpoint against its recorded BLAKE3.
pub fn verify(path: &Path) -> Result<(), TrainError> {
    let sums_path = path.join("checksums.json");
    let text = std::fs::read_to_string(&sums_path).map_err(|e| io("cannot read", &sums_path, e))?;
    let sums: BTreeMap<String, String> = serde_json::from_str(&text)
        .map_err(|e| ck_err(&sums_path, format!("invalid checksums: {e}")))?;
    let files: &[&str] = if sums.contains_key("adapter.safetensors") {
        &ADAPTER_FILES
    } else {
        &MODEL_FILES
    };
    for &f in files {
        let expected = sums
            .get(f)
            .ok_or_else(|| ck_err(path, format!("checksums.json has no entry for {f}")))?;
        let (digest, _) =
            codex_core::hash_file(path.join(f)).map_err(|e| ck_err(path, format!("{f}: {e}")))?;
        if &digest.to_string() != expected {
            return Err(ck_err(
                path,
                format!("{f} does not match its checksum (expected {expected}, found {digest})"),
            ));
        }
    }
    Ok(())
}

/// A checkpoint read back: model (on `device`), optimizer record and state.
#[derive(Debug)]
pub struct Loaded {
    /// The checkpoint directory.
    pub path: PathBuf,
    /// The model.
    pub model: Transformer,
    /// The optimizer's state, to load into a freshly built optimizer.
    pub optimizer: OptimizerRecord,
    /// Counters and cursors.
    pub state: TrainState,
}

/// Whether the checkpoint at `path` holds LoRA adapters alone (and so needs its base).
pub fn holds_adapters(path: &Path) -> bool {
    path.join("adapter.safetensors").is_file() && !path.join("model.bpk").is_file()
}

/// Read a checkpoint's `state.json`.
pub fn read_state(path: &Path) -> Result<TrainState, TrainError> {
    let file = path.join("state.json");
    let text = std::fs::read_to_string(&file).map_err(|e| io("cannot read", &file, e))?;
    serde_json::from_str(&text).map_err(|e| ck_err(&file, format!("invalid state.json: {e}")))
}

/// Verify a checkpoint and load its model alone (for inference and export),
/// with its state; `base` as for [`load`].
pub fn load_model<E: From<TrainError>>(
    path: &Path,
    device: &burn::tensor::Device,
    base: impl FnOnce(&BaseRef) -> Result<Transformer, E>,
) -> Result<(Transformer, TrainState), E> {
    verify(path)?;
    let state = read_state(path)?;
    if !holds_adapters(path) {
        let model =
            codex_model::load_native(&path.join("model.bpk"), device).map_err(TrainError::from)?;
        return Ok((model, state));
    }
    let reference = state.base.as_ref().ok_or_else(|| {
        ck_err(
            path,
            "holds LoRA adapters alone but state.json names no base model",
        )
    })?;
    let base_model = base(reference)?;
    let found = base_model.base_fingerprint();
    if found != reference.fingerprint {
        return Err(ck_err(
            path,
            format!(
                "its adapters were trained on the base `{}` with fingerprint {}, but the base loaded now has {found}: the base weights changed",
                reference.source.display(),
                reference.fingerprint
            ),
        )
        .into());
    }
    let model = base_model
        .fork(device)
        .load_lora(&path.join("adapter.safetensors"))
        .map_err(TrainError::from)?;
    Ok((model, state))
}

/// Verify and load the checkpoint at `path`. A checkpoint of adapters alone
/// asks `base` for its base model (on `device`, without adapters or with
/// others, which are replaced), refuses one whose weights do not match the
/// recorded fingerprint, and attaches the adapters with their parameter ids.
pub fn load<E: From<TrainError>>(
    path: &Path,
    device: &burn::tensor::Device,
    base: impl FnOnce(&BaseRef) -> Result<Transformer, E>,
) -> Result<Loaded, E> {
    let (model, state) = load_model(path, device, base)?;
    let bytes = std::fs::read(path.join("optimizer.bpk"))
        .map_err(|e| io("cannot read", &path.join("optimizer.bpk"), e))?;
    let optimizer = OptimizerRecord::from_bytes(burn::tensor::Bytes::from_bytes_vec(bytes))
        .map_err(|e| ck_err(path, format!("invalid optimizer state: {e}")))?;
    Ok(Loaded {
        path: path.to_owned(),
        model,
        optimizer,
        state,
    })
}

/// The newest checkpoint under `dir` whose checksums verify, with a warning for
/// each newer one that does not.
pub fn latest_valid(dir: &Path) -> Result<(Option<PathBuf>, Vec<String>), TrainError> {
    let mut names: Vec<String> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("step-"))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(io("cannot list", dir, e)),
    };
    names.sort();
    let mut warnings = Vec::new();
    for name in names.iter().rev() {
        let path = dir.join(name);
        match verify(&path) {
            Ok(()) => return Ok((Some(path), warnings)),
            Err(e) => warnings.push(format!("skipping corrupt checkpoint: {e}")),
        }
    }
    Ok((None, warnings))
}
