//! `codex generate` and `codex eval lm`: a trained model used through
//! `codex_train::{generate_text, evaluate_lm}`.

use std::io::Read as _;
use std::path::Path;

use anyhow::{Context, Result};
use codex_model::DeviceSpec;
use codex_train::{GenerateRequest, LmEvalRequest, Sampling};

use crate::cli::GenerateArgs;

pub(crate) fn generate(args: GenerateArgs) -> Result<String> {
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
    let request = GenerateRequest {
        model: super::model_path(args.model.into_path()),
        prompt,
        max_new_tokens: args.max_new_tokens.map(|n| n as usize),
        sampling: Sampling {
            temperature: args.temperature,
            // 0 disables top-k, as in transformers.
            top_k: args.top_k.map(|k| k as usize),
            top_p: args.top_p,
            repetition_penalty: args.repetition_penalty,
            seed: args.seed,
        },
    };
    let filter = super::safety::filter_maker();
    let out = codex_train::generate_text(&request, &DeviceSpec::Auto.device()?, Some(&filter))?;
    for w in &out.warnings {
        tracing::warn!("{w}");
    }
    if out.prompt_redacted {
        tracing::warn!("the safety policy redacted part of the prompt before the model saw it");
    }
    Ok(out.text + "\n")
}

pub(crate) fn eval_lm(model: &Path, data: &Path, split: &str, batches: u32) -> Result<String> {
    let request = LmEvalRequest {
        model: model.to_owned(),
        data: data.to_owned(),
        split: split.to_owned(),
        batches: batches as usize,
    };
    let filter = super::safety::filter_maker();
    let e = codex_train::evaluate_lm(&request, &DeviceSpec::Auto.device()?, Some(&filter))?;
    Ok(e.to_text())
}
