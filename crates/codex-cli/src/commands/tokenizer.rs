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

/// Documents from a file or stdin, one per line; invalid UTF-8 names the source and line.
fn read_lines(file: Option<&Path>) -> Result<Vec<String>> {
    let (name, bytes) = match file {
        Some(p) => (
            p.display().to_string(),
            std::fs::read(p).with_context(|| format!("cannot read `{}`", p.display()))?,
        ),
        None => {
            let mut b = Vec::new();
            std::io::stdin()
                .read_to_end(&mut b)
                .context("cannot read stdin")?;
            ("stdin".to_owned(), b)
        }
    };
    let mut lines = Vec::new();
    for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
        if i > 0 && line.is_empty() && i == bytes.split(|&b| b == b'\n').count() - 1 {
            break; // the final newline does not start a document
        }
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let text = std::str::from_utf8(line)
            .map_err(|_| anyhow::anyhow!("invalid UTF-8 in {name} at line {}", i + 1))?;
        lines.push(text.to_owned());
    }
    Ok(lines)
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
        } => {
            let tok = load(&tokenizer)?;
            let docs = match text {
                Some(t) => vec![t],
                None => read_lines(file.as_deref())?,
            };
            let refs: Vec<&str> = docs.iter().map(String::as_str).collect();
            let ids = tok.encode_batch(&refs, special)?;
            let mut out = String::new();
            match format {
                IdsFormat::Json if ids.len() == 1 => {
                    writeln!(out, "{}", serde_json::to_string(&ids[0])?)?;
                }
                IdsFormat::Json => writeln!(out, "{}", serde_json::to_string(&ids)?)?,
                IdsFormat::Ndjson => {
                    for (i, ids) in ids.iter().enumerate() {
                        writeln!(out, "{}", serde_json::json!({"line": i + 1, "ids": ids}))?;
                    }
                }
            }
            Ok(out)
        }
        TokenizerCommand::Decode {
            tokenizer,
            ids,
            keep_special,
        } => {
            let tok = load(&tokenizer)?;
            let ids = if ids.is_empty() {
                let mut input = String::new();
                std::io::stdin()
                    .read_to_string(&mut input)
                    .context("cannot read ids from stdin")?;
                parse_ids(&input)?
            } else {
                ids
            };
            let mut text = tok.decode(&ids, !keep_special)?;
            text.push('\n');
            Ok(text)
        }
        TokenizerCommand::Stats {
            tokenizer,
            inputs,
            text_field,
            json,
        } => {
            let tok = load(&tokenizer)?;
            let s = codex_tokenize::corpus_stats(&tok, &inputs, &text_field)?;
            if json {
                return Ok(serde_json::to_string_pretty(&s)? + "\n");
            }
            let mut out = String::new();
            writeln!(out, "vocabulary        {}", s.vocab_size)?;
            writeln!(out, "documents         {}", s.documents)?;
            writeln!(out, "bytes             {}", s.bytes)?;
            writeln!(out, "tokens            {}", s.tokens)?;
            writeln!(out, "bytes/token       {:.3}", s.bytes_per_token)?;
            writeln!(out, "chars/token       {:.3}", s.chars_per_token)?;
            writeln!(
                out,
                "unknown tokens    {} ({:.4}%)",
                s.unknown_tokens,
                s.unknown_rate * 100.0
            )?;
            writeln!(out, "tokens per document:")?;
            let max = s.length_histogram.iter().map(|b| b.1).max().unwrap_or(1);
            let mut lower = 1;
            for (upper, count) in &s.length_histogram {
                let bar = "#".repeat(((count * 40).div_ceil(max)) as usize);
                writeln!(out, "  {lower:>6}-{upper:<6} {count:>9}  {bar}")?;
                lower = upper + 1;
            }
            for d in &s.diagnostics {
                writeln!(out, "{d}")?;
            }
            Ok(out)
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
            let mut out = format!(
                "{} of {} documents round-trip exactly\n",
                r.checked - r.failed,
                r.checked
            );
            for m in &r.mismatches {
                let show = |s: &str| {
                    let chars: Vec<char> = s.chars().collect();
                    let from = m.first_difference.saturating_sub(20);
                    let to = (m.first_difference + 20).min(chars.len());
                    format!("{:?}", chars[from.min(to)..to].iter().collect::<String>())
                };
                writeln!(
                    out,
                    "document {} differs at character {}:\n  original {}\n  decoded  {}",
                    m.document,
                    m.first_difference,
                    show(&m.original),
                    show(&m.decoded)
                )?;
            }
            if r.failed > 0 {
                return Err(CheckFailed(out.trim_end().to_owned()).into());
            }
            Ok(out)
        }
        TokenizerCommand::Inspect { tokenizer, json } => {
            let info = load(&tokenizer)?.describe()?;
            if json {
                return Ok(serde_json::to_string_pretty(&info)? + "\n");
            }
            let mut out = String::new();
            writeln!(out, "format          {}", info.format)?;
            writeln!(out, "model           {}", info.model)?;
            writeln!(out, "vocabulary      {}", info.vocab_size)?;
            writeln!(out, "byte fallback   {}", info.byte_fallback)?;
            writeln!(out, "normalizers     {}", join(&info.normalizers))?;
            writeln!(out, "pre-tokenizers  {}", join(&info.pre_tokenizers))?;
            writeln!(out, "decoders        {}", join(&info.decoders))?;
            writeln!(out, "special tokens")?;
            for (id, t) in &info.special_tokens {
                writeln!(out, "  {id:>6}  {t}")?;
            }
            Ok(out)
        }
    }
}

fn join(items: &[String]) -> String {
    if items.is_empty() {
        "(none)".into()
    } else {
        items.join(" → ")
    }
}

fn parse_ids(input: &str) -> Result<Vec<u32>> {
    let trimmed = input.trim();
    if trimmed.starts_with('[') {
        return serde_json::from_str(trimmed)
            .context("ids on stdin are not a JSON array of integers");
    }
    trimmed
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<u32>()
                .with_context(|| format!("`{s}` is not a token id"))
        })
        .collect()
}

/// The tokenizer trainer's settings from the configuration.
pub(super) fn train_config(cfg: &codex_core::config::AppConfig) -> TrainConfig {
    TrainConfig {
        kind: cfg.tokenizer.kind,
        vocab_size: cfg.tokenizer.vocab_size,
        min_frequency: cfg.tokenizer.min_frequency,
        special_tokens: cfg.tokenizer.special_tokens.clone(),
        seed: cfg.run.seed,
        text_field: cfg.data.text_field.clone(),
        on_error: cfg.data.on_error,
        show_progress: false,
        command_line: std::env::args().collect(),
    }
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
    let train_config = train_config(&cfg);
    let total = input_bytes(&inputs)?;
    let bar = if std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new(total)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} reading corpus {bytes}/{total_bytes} {wide_bar} {bytes_per_sec} eta {eta}",
        )
        .expect("valid template"),
    );
    let trained = train_with_progress(&train_config, &inputs, &|n| bar.set_position(n))?;
    bar.finish_and_clear();
    for d in &trained.diagnostics {
        tracing::warn!("{d}");
    }
    if !trained.manifest.reproducible {
        tracing::warn!(
            "the {} trainer is not reproducible: training again can give a different vocabulary",
            trained.manifest.kind
        );
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
