//! `codex model import | export | inspect`.
//!
//! A native model is Burn's record (`model.bpk`) with its shape beside it
//! (`model.bpk.json`); a Hugging Face model is a directory with `config.json`
//! and safetensors.

use std::fmt::Write as _;

use anyhow::Result;
use codex_model::DeviceSpec;

use crate::cli::ModelCommand;

pub(super) fn run(cmd: ModelCommand) -> Result<String> {
    let cpu = DeviceSpec::Cpu.device()?;
    match cmd {
        ModelCommand::Import { dir, out } => {
            let i = codex_model::import_to_native(&dir, &out, &cpu)?;
            let mut s = format!(
                "imported {} ({} parameters) from {} to {}\n",
                i.config.family_name(),
                codex_core::group_digits(i.config.param_counts().total() as u64),
                dir.display(),
                i.path.display()
            );
            if !i.tokenizer_files.is_empty() {
                let _ = writeln!(s, "copied {}", i.tokenizer_files.join(", "));
            }
            Ok(s)
        }
        ModelCommand::Export { checkpoint, out } => {
            let e = codex_train::load::export(&super::model_path(checkpoint), &out, &cpu)?;
            let mut s = format!(
                "exported {} to {} (config.json, model.safetensors{})\n",
                e.source.display(),
                out.display(),
                e.tokenizer_files
                    .iter()
                    .chain(&e.generated)
                    .map(|c| format!(", {c}"))
                    .collect::<String>()
            );
            if e.merged_lora {
                s.push_str("LoRA adapters were merged into the exported weights\n");
            }
            Ok(s)
        }
        ModelCommand::Inspect { path, json } => {
            let path = super::model_path(path);
            let i = codex_train::load::inspect(&path, &cpu)?;
            Ok(if json {
                i.to_json(&path)
            } else {
                i.to_text(&path)
            })
        }
    }
}
