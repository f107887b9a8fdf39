//! `codex model import | export | inspect`.
//!
//! A native model is Burn's record (`model.bpk`) with its shape beside it
//! (`model.bpk.json`); a Hugging Face model is a directory with `config.json`
//! and safetensors.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;
use codex_model::{DeviceSpec, Inspection, ModelConfig};
use serde_json::json;

use super::text::Report;
use crate::cli::ModelCommand;

pub(super) fn run(cmd: ModelCommand) -> Result<String> {
    let cpu = DeviceSpec::Cpu.device()?;
    match cmd {
        ModelCommand::Import { dir, out } => {
            let i = codex_model::import_to_native(&dir, &out, &cpu)?;
            let mut s = format!(
                "imported {} ({} parameters) from {} to {}\n",
                family_name(&i.config),
                group(i.config.param_counts().total()),
                dir.display(),
                i.path.display()
            );
            if !i.tokenizer_files.is_empty() {
                let _ = writeln!(s, "copied {}", i.tokenizer_files.join(", "));
            }
            Ok(s)
        }
        ModelCommand::Export { checkpoint, out } => {
            let e = codex_train::load::export(&checkpoint, &out, &cpu)?;
            let mut s = format!(
                "exported {} to {} (config.json, model.safetensors{})\n",
                e.source.display(),
                out.display(),
                e.tokenizer_files
                    .iter()
                    .map(|c| format!(", {c}"))
                    .collect::<String>()
            );
            if e.merged_lora {
                s.push_str("LoRA adapters were merged into the exported weights\n");
            }
            Ok(s)
        }
        ModelCommand::Inspect { path, json } => {
            let i = codex_model::inspect(&path, &cpu)?;
            Ok(if json {
                inspection_json(&path, &i)
            } else {
                inspection_table(&path, &i)
            })
        }
    }
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

fn inspection_json(path: &Path, i: &Inspection) -> String {
    let counts = i.config.param_counts();
    let value = json!({
        "path": path,
        "format": i.format,
        "config": i.config,
        "parameters": {"total": counts.total(), "by_module": counts, "stored_values": i.stored_values},
        "train_flops_per_token": i.config.flops_per_token(),
        "dtypes": i.dtypes,
        "files": i.files.iter().map(|(p, h, s)| json!({"path": p, "blake3": h, "bytes": s})).collect::<Vec<_>>(),
    });
    serde_json::to_string_pretty(&value).expect("JSON serializes") + "\n"
}

fn inspection_table(path: &Path, i: &Inspection) -> String {
    let c = &i.config;
    let counts = c.param_counts();
    let rope = match c.family {
        codex_core::config::ModelFamily::Llama => format!(", rope theta {}", c.rope_theta),
        codex_core::config::ModelFamily::Gpt2 => String::new(),
    };
    let embeddings = if c.tie_embeddings { "tied" } else { "untied" };
    let mut r = Report::new(11);
    r.kv("model", path.display())
        .kv("format", i.format)
        .kv("family", family_name(c))
        .kv(
            "shape",
            format_args!(
                "{} layers, {} heads ({} key/value), d_model {}, d_ff {}, context {}, vocab {}",
                c.n_layer, c.n_head, c.n_kv_head, c.d_model, c.d_ff, c.context_length, c.vocab_size
            ),
        )
        .kv(
            "numerics",
            format_args!("norm eps {}{rope}, embeddings {embeddings}", c.norm_eps),
        )
        .kv("parameters", group(counts.total()));
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
            r.line(format_args!("  {name:<20} {:>14}  {share:5.1}%", group(n)));
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
            .map(|(k, v)| format!("{k} ({} values)", group(*v)))
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
