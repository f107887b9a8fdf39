//! `codex tokenizer train | encode | decode | stats | validate | inspect`.

use std::fmt::Write as _;
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use codex_core::config::ConfigLoader;
use codex_tokenize::AnyTokenizer;
use codex_tokenize::train::{TrainConfig, input_bytes, train_with_progress};

use super::CheckFailed;
use crate::cli::{IdsFormat, TokenizerCommand};

fn load(path: &Path) -> Result<AnyTokenizer> {
    Ok(AnyTokenizer::from_file(path)?)
}

/// Whether a positional argument is a `key.path=value` override rather than a path.
fn is_override(arg: &str) -> bool {
    arg.split_once('=').is_some_and(|(k, _)| {
        !k.is_empty()
            && k.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
            && !Path::new(arg).exists()
    })
}

fn stdin_bytes() -> Result<Vec<u8>> {
    let mut b = Vec::new();
    std::io::stdin()
        .read_to_end(&mut b)
        .context("cannot read stdin")?;
    Ok(b)
}

pub(super) fn run(cmd: TokenizerCommand) -> Result<String> {
    match cmd {
        TokenizerCommand::Train { args, out, config } => train(args, &out, config),
        TokenizerCommand::Encode {
            tokenizer,
            text,
            file,
            format,
            special,
        } => encode(&tokenizer, text, file.as_deref(), format, special),
        TokenizerCommand::Decode {
            tokenizer,
            ids,
            keep_special,
        } => {
            let ids = if ids.is_empty() {
                codex_tokenize::parse_ids(&String::from_utf8_lossy(&stdin_bytes()?))?
            } else {
                ids
            };
            Ok(load(&tokenizer)?.decode(&ids, !keep_special)? + "\n")
        }
        TokenizerCommand::Stats {
            tokenizer,
            inputs,
            text_field,
            json,
        } => {
            let s = codex_tokenize::corpus_stats(&load(&tokenizer)?, &inputs, &text_field)?;
            Ok(if json {
                serde_json::to_string_pretty(&s)? + "\n"
            } else {
                s.to_text()
            })
        }
        TokenizerCommand::Validate {
            tokenizer,
            inputs,
            sample,
            show,
            text_field,
        } => {
            let tok = load(&tokenizer)?;
            let r = codex_tokenize::round_trip(&tok, &inputs, &text_field, sample, show)?;
            let out = r.to_text();
            if r.failed > 0 {
                return Err(CheckFailed(out.trim_end().to_owned()).into());
            }
            Ok(out)
        }
        TokenizerCommand::Inspect { tokenizer, json } => {
            let info = load(&tokenizer)?.describe()?;
            Ok(if json {
                serde_json::to_string_pretty(&info)? + "\n"
            } else {
                info.to_text()
            })
        }
    }
}

fn encode(
    tokenizer: &Path,
    text: Option<String>,
    file: Option<&Path>,
    format: IdsFormat,
    special: bool,
) -> Result<String> {
    let tok = load(tokenizer)?;
    let docs = match (text, file) {
        (Some(t), _) => vec![t],
        (None, Some(p)) => {
            let bytes =
                std::fs::read(p).with_context(|| format!("cannot read `{}`", p.display()))?;
            codex_tokenize::documents_from_bytes(p, &bytes)?
        }
        (None, None) => codex_tokenize::documents_from_bytes(Path::new("stdin"), &stdin_bytes()?)?,
    };
    let refs: Vec<&str> = docs.iter().map(String::as_str).collect();
    let ids = tok.encode_batch(&refs, special)?;
    let mut out = String::new();
    match format {
        IdsFormat::Json if ids.len() == 1 => writeln!(out, "{}", serde_json::to_string(&ids[0])?)?,
        IdsFormat::Json => writeln!(out, "{}", serde_json::to_string(&ids)?)?,
        IdsFormat::Ndjson => {
            for (i, ids) in ids.iter().enumerate() {
                writeln!(out, "{}", serde_json::json!({"line": i + 1, "ids": ids}))?;
            }
        }
    }
    Ok(out)
}

fn train(args: Vec<String>, out: &Path, config: Option<PathBuf>) -> Result<String> {
    let (overrides, inputs): (Vec<String>, Vec<String>) =
        args.into_iter().partition(|a| is_override(a));
    let mut loader = ConfigLoader::new().process_env().overrides(overrides);
    if let Some(file) = config {
        loader = loader.file(file);
    }
    let cfg = loader.load()?.config;
    let inputs: Vec<PathBuf> = if inputs.is_empty() {
        cfg.tokenizer.inputs.clone()
    } else {
        inputs.into_iter().map(PathBuf::from).collect()
    };
    if inputs.is_empty() {
        bail!("no training inputs: give files or directories, or set tokenizer.inputs");
    }
    let bar = if std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new(input_bytes(&inputs)?)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} reading corpus {bytes}/{total_bytes} {wide_bar} {bytes_per_sec} eta {eta}",
        )
        .expect("valid template"),
    );
    let config = TrainConfig::from_config(&cfg, std::env::args().collect());
    let trained = train_with_progress(&config, &inputs, &|n| bar.set_position(n))?;
    bar.finish_and_clear();
    for d in &trained.diagnostics {
        tracing::warn!("{d}");
    }
    trained.write(out)?;
    let m = &trained.manifest;
    Ok(format!(
        "trained {} tokenizer: {} tokens from {} documents ({} bytes) in {:.1}s\nwrote {}/tokenizer.json and manifest.json\n",
        m.kind,
        m.vocab_size,
        m.documents,
        m.inputs.iter().map(|i| i.bytes).sum::<u64>(),
        m.duration_secs,
        out.display()
    ))
}
