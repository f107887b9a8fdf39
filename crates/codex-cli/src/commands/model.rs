//! `codex model import | export | inspect`.
//!
//! A native model is Burn's record (`model.bpk`) with its shape beside it
//! (`model.bpk.json`); a Hugging Face model is a directory with `config.json`
//! and safetensors.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use codex_model::burn::module::Module as _;
use codex_model::burn::tensor::Device;
use codex_model::{DeviceSpec, ModelConfig, Transformer};
use serde_json::json;

use crate::cli::ModelCommand;

/// File name of a native model inside its directory.
pub(crate) const NATIVE_FILE: &str = "model.bpk";

pub(super) fn run(cmd: ModelCommand) -> Result<String> {
    match cmd {
        ModelCommand::Import { dir, out } => import(&dir, &out),
        ModelCommand::Export { checkpoint, out } => export(&checkpoint, &out),
        ModelCommand::Inspect { path, json } => inspect(&path, json),
    }
}

fn cpu() -> Result<Device> {
    Ok(DeviceSpec::Cpu.device()?)
}

/// The native record a path names: the file itself, or `model.bpk` in a directory.
pub(crate) fn native_path(path: &Path) -> Option<PathBuf> {
    if path.is_file() {
        return Some(path.to_owned());
    }
    let inside = path.join(NATIVE_FILE);
    inside.is_file().then_some(inside)
}

/// Copy the tokenizer files that travel with a model, if present.
fn copy_tokenizer(from: &Path, to: &Path) -> Result<Vec<String>> {
    let mut copied = Vec::new();
    for name in ["tokenizer.json", "tokenizer.model", "tokenizer_config.json"] {
        let src = from.join(name);
        if src.is_file() {
            let bytes =
                std::fs::read(&src).with_context(|| format!("cannot read `{}`", src.display()))?;
            codex_core::write_bytes_atomic(to.join(name), &bytes)?;
            copied.push(name.to_owned());
        }
    }
    Ok(copied)
}

fn import(dir: &Path, out: &Path) -> Result<String> {
    let model = codex_model::import_hf(dir, &cpu()?)?;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create `{}`", out.display()))?;
    let target = out.join(NATIVE_FILE);
    codex_model::save_native(&model, &target)?;
    let copied = copy_tokenizer(dir, out)?;
    let mut s = format!(
        "imported {} ({} parameters) from {} to {}\n",
        family_name(model.config()),
        group(model.config().param_counts().total()),
        dir.display(),
        target.display()
    );
    if !copied.is_empty() {
        let _ = writeln!(s, "copied {}", copied.join(", "));
    }
    Ok(s)
}

fn export(checkpoint: &Path, out: &Path) -> Result<String> {
    // A run, a checkpoint (whole, or adapters on their recorded base) or a native model.
    let (source, run) = super::inference::model_source(checkpoint).with_context(|| {
        format!(
            "`{}` is neither a native model file, a directory containing {NATIVE_FILE}, a checkpoint nor a run",
            checkpoint.display()
        )
    })?;
    let (model, _) = source.load(&cpu()?)?;
    codex_model::export_hf(&model, out)?;
    let from_dir = match (&source, &run) {
        (super::inference::ModelSource::Checkpoint(_), Some(run)) => run.join("tokenizer"),
        (super::inference::ModelSource::Checkpoint(ck), None) => ck.clone(),
        (super::inference::ModelSource::Native(f), _) => {
            f.parent().unwrap_or(Path::new(".")).to_owned()
        }
    };
    let copied = copy_tokenizer(&from_dir, out)?;
    let mut s = format!(
        "exported {} to {} (config.json, model.safetensors{})\n",
        source.path().display(),
        out.display(),
        copied.iter().map(|c| format!(", {c}")).collect::<String>()
    );
    if model.lora_config().is_some() {
        s.push_str("LoRA adapters were merged into the exported weights\n");
    }
    Ok(s)
}

fn family_name(c: &ModelConfig) -> &'static str {
    match c.family {
        codex_core::config::ModelFamily::Gpt2 => "gpt2",
        codex_core::config::ModelFamily::Llama => "llama",
    }
}

/// `1234567` as `1,234,567`.
fn group(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn inspect(path: &Path, as_json: bool) -> Result<String> {
    let (kind, config, files, dtypes, measured) = if let Some(native) = native_path(path) {
        let model: Transformer = codex_model::load_native(&native, &cpu()?)?;
        let mut meta = native.as_os_str().to_owned();
        meta.push(".json");
        let measured = model.num_params();
        (
            "native burnpack record",
            model.config().clone(),
            vec![native.clone(), PathBuf::from(meta)],
            json!({"F32": measured}),
            Some(measured),
        )
    } else if path.join("config.json").is_file() {
        let config = codex_model::read_hf_config(&path.join("config.json"))?;
        let summary = codex_model::summarize_hf(path)?;
        let mut files = vec![path.join("config.json")];
        let index = path.join("model.safetensors.index.json");
        if index.is_file() {
            files.push(index);
        }
        files.extend(summary.files.iter().cloned());
        (
            "hugging face safetensors",
            config,
            files,
            json!(summary.dtypes),
            Some(summary.values),
        )
    } else if let Ok(entry) = codex_model::architectures().get(&path.to_string_lossy()) {
        (
            "named architecture",
            entry.value.clone(),
            Vec::new(),
            json!({}),
            None,
        )
    } else {
        bail!(
            "`{}` is not a native model, a Hugging Face directory (config.json) or a named architecture",
            path.display()
        );
    };
    let counts = config.param_counts();
    let mut hashes = Vec::new();
    for f in &files {
        let (digest, size) = codex_core::hash_file(f)?;
        hashes.push((f.clone(), digest.to_string(), size));
    }
    if as_json {
        let value = json!({
            "path": path,
            "format": kind,
            "config": config,
            "parameters": {"total": counts.total(), "by_module": counts, "stored_values": measured},
            "train_flops_per_token": config.flops_per_token(),
            "dtypes": dtypes,
            "files": hashes.iter().map(|(p, h, s)| json!({"path": p, "blake3": h, "bytes": s})).collect::<Vec<_>>(),
        });
        return Ok(serde_json::to_string_pretty(&value)? + "\n");
    }
    let mut s = String::new();
    let c = &config;
    let _ = writeln!(s, "model       {}", path.display());
    let _ = writeln!(s, "format      {kind}");
    let _ = writeln!(s, "family      {}", family_name(c));
    let _ = writeln!(
        s,
        "shape       {} layers, {} heads ({} key/value), d_model {}, d_ff {}, context {}, vocab {}",
        c.n_layer, c.n_head, c.n_kv_head, c.d_model, c.d_ff, c.context_length, c.vocab_size
    );
    let rope = match c.family {
        codex_core::config::ModelFamily::Llama => format!(", rope theta {}", c.rope_theta),
        codex_core::config::ModelFamily::Gpt2 => String::new(),
    };
    let _ = writeln!(
        s,
        "numerics    norm eps {}{rope}, embeddings {}",
        c.norm_eps,
        if c.tie_embeddings { "tied" } else { "untied" }
    );
    let _ = writeln!(s, "parameters  {}", group(counts.total()));
    for (name, n) in [
        ("token embedding", counts.token_embedding),
        ("position embedding", counts.position_embedding),
        ("attention", counts.attention),
        ("mlp", counts.mlp),
        ("norms", counts.norms),
        ("lm head", counts.lm_head),
    ] {
        if n > 0 {
            let _ = writeln!(
                s,
                "  {name:<20} {:>14}  {:5.1}%",
                group(n),
                100.0 * n as f64 / counts.total() as f64
            );
        }
    }
    let _ = writeln!(
        s,
        "flops/token {:.3e} (training, 6N + 12·L·d·T)",
        c.flops_per_token()
    );
    if let Some(obj) = dtypes.as_object()
        && !obj.is_empty()
    {
        let list: Vec<String> = obj
            .iter()
            .map(|(k, v)| format!("{k} ({} values)", group(v.as_u64().unwrap_or(0) as usize)))
            .collect();
        let _ = writeln!(s, "dtype       {}", list.join(", "));
    }
    if !hashes.is_empty() {
        let _ = writeln!(s, "files");
        for (p, h, size) in &hashes {
            let _ = writeln!(s, "  {h}  {size:>12}  {}", p.display());
        }
    }
    Ok(s)
}
