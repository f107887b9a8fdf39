//! What a model on disk is (`codex model inspect`), and moving models between
//! codex's native format and Hugging Face directories with the tokenizer
//! files that go with them (`codex model import`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::module::Module as _;
use burn::tensor::Device;

use codex_core::group_digits as group;

use crate::config::ModelConfig;
use crate::error::ModelError;

/// File name of a native model inside its directory.
pub const NATIVE_FILE: &str = "model.bpk";

/// The tokenizer files that travel with a model directory.
pub const TOKENIZER_FILES: [&str; 6] = [
    "tokenizer.json",
    "tokenizer.model",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "generation_config.json",
    "chat_template.jinja",
];

/// The native record a path names: the file itself, or `model.bpk` in a directory.
pub fn native_path(path: &Path) -> Option<PathBuf> {
    if path.is_file() {
        return Some(path.to_owned());
    }
    let inside = path.join(NATIVE_FILE);
    inside.is_file().then_some(inside)
}

/// Copies the [`TOKENIZER_FILES`] present in `from` into `to` (atomically,
/// byte for byte); returns their names.
pub fn copy_tokenizer_files(from: &Path, to: &Path) -> Result<Vec<String>, ModelError> {
    let mut copied = Vec::new();
    for name in TOKENIZER_FILES {
        let src = from.join(name);
        if src.is_file() {
            let bytes = std::fs::read(&src)
                .map_err(|e| ModelError::Io(codex_core::Error::io("cannot read", &src, e)))?;
            codex_core::write_bytes_atomic(to.join(name), &bytes).map_err(ModelError::Io)?;
            copied.push(name.to_owned());
        }
    }
    Ok(copied)
}

/// A Hugging Face directory imported as a native model.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The model's shape.
    pub config: ModelConfig,
    /// The native record written.
    pub path: PathBuf,
    /// Tokenizer files copied beside it.
    pub tokenizer_files: Vec<String>,
}

/// Imports the Hugging Face directory `dir` into `out/model.bpk`, with its
/// tokenizer files.
pub fn import_to_native(dir: &Path, out: &Path, device: &Device) -> Result<Imported, ModelError> {
    let model = crate::import_hf(dir, device)?;
    std::fs::create_dir_all(out)
        .map_err(|e| ModelError::Io(codex_core::Error::io("cannot create", out, e)))?;
    let path = out.join(NATIVE_FILE);
    crate::save_native(&model, &path)?;
    Ok(Imported {
        config: model.config().clone(),
        path,
        tokenizer_files: copy_tokenizer_files(dir, out)?,
    })
}

/// What a model on disk is.
#[derive(Debug, Clone)]
pub struct Inspection {
    /// `native burnpack record`, `hugging face safetensors` or `named architecture`.
    pub format: &'static str,
    /// The shape.
    pub config: ModelConfig,
    /// The files, with BLAKE3 and size.
    pub files: Vec<(PathBuf, String, u64)>,
    /// Values stored, by dtype.
    pub dtypes: BTreeMap<String, usize>,
    /// Values stored in all (`None` for a named architecture).
    pub stored_values: Option<usize>,
}

impl Inspection {
    /// The inspection as JSON (`codex model inspect --json`).
    pub fn to_json(&self, path: &Path) -> String {
        let i = self;
        let counts = i.config.param_counts();
        let value = serde_json::json!({
            "path": path,
            "format": i.format,
            "config": i.config,
            "parameters": {"total": counts.total(), "by_module": counts, "stored_values": i.stored_values},
            "train_flops_per_token": i.config.flops_per_token(),
            "dtypes": i.dtypes,
            "files": i.files.iter().map(|(p, h, s)| serde_json::json!({"path": p, "blake3": h, "bytes": s})).collect::<Vec<_>>(),
        });
        serde_json::to_string_pretty(&value).expect("JSON serializes") + "\n"
    }

    /// The inspection as `key value` lines.
    pub fn to_text(&self, path: &Path) -> String {
        let i = self;
        let c = &i.config;
        let counts = c.param_counts();
        let rope = if c.family.is_rotary() {
            format!(", rope theta {}", c.rope_theta)
        } else {
            String::new()
        };
        let embeddings = if c.tie_embeddings { "tied" } else { "untied" };
        let mut r = codex_core::TextReport::new(11);
        r.kv("model", path.display())
            .kv("format", i.format)
            .kv("family", c.family_name())
            .kv(
                "shape",
                format_args!(
                    "{} layers, {} heads ({} key/value), d_model {}, d_ff {}, context {}, vocab {}",
                    c.n_layer,
                    c.n_head,
                    c.n_kv_head,
                    c.d_model,
                    c.d_ff,
                    c.context_length,
                    c.vocab_size
                ),
            )
            .kv(
                "numerics",
                format_args!("norm eps {}{rope}, embeddings {embeddings}", c.norm_eps),
            );
        if let Some(variant) = c.variant.describe(c.n_layer) {
            r.kv("variant", variant);
        }
        r.kv("parameters", group(counts.total() as u64));
        for (name, n) in [
            ("token embedding", counts.token_embedding),
            ("position embedding", counts.position_embedding),
            ("attention", counts.attention),
            ("mlp", counts.mlp),
            ("norms", counts.norms),
            ("lm head", counts.lm_head),
        ] {
            if n > 0 {
                let share = 100.0 * n as f64 / counts.total() as f64;
                r.line(format_args!(
                    "  {name:<20} {:>14}  {share:5.1}%",
                    group(n as u64)
                ));
            }
        }
        r.kv(
            "flops/token",
            format_args!("{:.3e} (training, 6N + 12·L·d·T)", c.flops_per_token()),
        );
        if !i.dtypes.is_empty() {
            let list: Vec<String> = i
                .dtypes
                .iter()
                .map(|(k, v)| format!("{k} ({} values)", group(*v as u64)))
                .collect();
            r.kv("dtype", list.join(", "));
        }
        if !i.files.is_empty() {
            r.line("files");
            for (p, h, size) in &i.files {
                r.line(format_args!("  {h}  {size:>12}  {}", p.display()));
            }
        }
        r.finish()
    }
}

/// Inspects a native model (file or directory), a Hugging Face directory or
/// a named architecture.
pub fn inspect(path: &Path, device: &Device) -> Result<Inspection, ModelError> {
    let (format, config, files, dtypes, stored_values) = if let Some(native) = native_path(path) {
        let model = crate::load_native(&native, device)?;
        let mut meta = native.as_os_str().to_owned();
        meta.push(".json");
        let n = model.num_params();
        (
            "native burnpack record",
            model.config().clone(),
            vec![native, PathBuf::from(meta)],
            BTreeMap::from([("F32".to_owned(), n)]),
            Some(n),
        )
    } else if path.join("config.json").is_file() {
        let config = crate::read_hf_config(&path.join("config.json"))?;
        let summary = crate::summarize_hf(path)?;
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
            summary.dtypes,
            Some(summary.values),
        )
    } else if let Ok(entry) = crate::architectures().get(&path.to_string_lossy()) {
        (
            "named architecture",
            entry.value.clone(),
            Vec::new(),
            BTreeMap::new(),
            None,
        )
    } else {
        return Err(ModelError::Io(codex_core::Error::io(
            "cannot inspect",
            path,
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "not a native model, a Hugging Face directory (config.json) or a named architecture",
            ),
        )));
    };
    let mut hashed = Vec::new();
    for f in files {
        let (digest, size) = codex_core::hash_file(&f).map_err(ModelError::Io)?;
        hashed.push((f, digest.to_string(), size));
    }
    Ok(Inspection {
        format,
        config,
        files: hashed,
        dtypes,
        stored_values,
    })
}
