//! `cargo xtask`: repository automation for codex (matklad's cargo-xtask pattern).
//!
//! - `cargo xtask gates [STEP]… [--skip STEP]…`: every gate (or those named), cheapest first,
//!   each timed.
//! - `cargo xtask fuzz [TARGET] [--seconds N] [--sanitizer S]`: cargo-fuzz on the parsers of
//!   untrusted input.
//! - `cargo xtask layering`: only the dependency-layering check.
//! - `cargo xtask examples [--release]`: every example of the `codex` crate, timed.
//! - `cargo xtask dist [--features F]`: the release archive (binary, configs,
//!   completions, man pages, SHA-256 sums) from the `dist` profile.
//! - `cargo xtask gpu`: builds the `cuda` programs the GPU check
//!   (`scripts/gpu/check.sh`) runs on an NVIDIA machine, packed to be carried there.
//! - `cargo xtask bench tokenize [--size-mb N] [--trainers-only]`: tokenizer speed against the
//!   references, and codex's Unigram/WordPiece trainers against the upstream ones.
//! - `cargo xtask bench data [--size-mb N]`: data preparation against a nanoGPT-style script.
//! - `cargo xtask bench model [ARGS]`: model training and generation throughput.
//! - `cargo xtask bench train [ARGS]`: the training loop against PyTorch eager.
//! - `cargo xtask bench eval [--pairs N]`: BLEU, chrF and ROUGE-L against sacreBLEU and rouge-score.
//! - `cargo xtask bench safety [--mb N]`: detection quality against detect-secrets, scan throughput.
//! - `cargo xtask bench track`: metric fan-out cost per scalar, MLflow delivery rate.
//! - `cargo xtask bench tasks [--model DIR] [--rounds N]`: benchmark tasks against
//!   lm-evaluation-harness's `hf` model.
//! - `cargo xtask bench audit [--files N]`: the full audit against tokei (and scc when given).
//! - `cargo xtask bench micro [--save-baseline NAME | --baseline NAME]`: criterion
//!   micro-benchmarks of the hot paths, saved as or compared against a baseline.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "xtask is a command-line tool that reports to the terminal"
)]

mod bench;
mod fuzz;
mod gates;
mod gpu;
mod layering;
mod release;

use std::process::ExitCode;

use anyhow::{Context, Result, bail};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("gates") => {
            let (mut only, mut skip) = (Vec::new(), Vec::new());
            let mut rest = args[1..].iter();
            while let Some(a) = rest.next() {
                match a.as_str() {
                    "--skip" => skip.push(rest.next().cloned().unwrap_or_default()),
                    other if other.starts_with('-') => {
                        bail!(
                            "unknown argument `{other}` for gates (use [STEP]... [--skip STEP]...)"
                        )
                    }
                    step => only.push(step.to_owned()),
                }
            }
            gates::run(&only, &skip)
        }
        Some("layering") => gates::layering(),
        Some("examples") => match args.get(1).map(String::as_str) {
            None => release::examples(false),
            Some("--release") => release::examples(true),
            Some(other) => bail!("unknown argument `{other}` for examples (use --release)"),
        },
        Some("dist") => match (args.get(1).map(String::as_str), args.get(2)) {
            (None, _) => release::dist(None),
            (Some("--features"), Some(f)) => release::dist(Some(f)),
            _ => bail!("usage: cargo xtask dist [--features F]"),
        },
        Some("gpu") => match args.get(1) {
            None => gpu::prepare(),
            Some(other) => bail!("unknown argument `{other}` for gpu (it takes none)"),
        },
        Some("fuzz") => fuzz::run(&args[1..]),
        Some("bench") => match args.get(1).map(String::as_str) {
            Some("tokenize") => {
                let mut size_mb = None;
                let mut trainers_only = false;
                let mut it = args[2..].iter();
                while let Some(a) = it.next() {
                    match a.as_str() {
                        "--size-mb" => {
                            size_mb = Some(it.next().context("--size-mb needs a number")?.parse()?);
                        }
                        "--trainers-only" => trainers_only = true,
                        other => {
                            bail!("unknown argument `{other}` (use --size-mb N, --trainers-only)")
                        }
                    }
                }
                if trainers_only {
                    bench::trainers(size_mb.unwrap_or(20)).map(|_| ())
                } else {
                    bench::tokenize(size_mb.unwrap_or(50))
                }
            }
            Some("data") => {
                let size_mb = match args.get(2).map(String::as_str) {
                    Some("--size-mb") => {
                        args.get(3).context("--size-mb needs a number")?.parse()?
                    }
                    None => 1000,
                    Some(other) => bail!("unknown argument `{other}` (use --size-mb N)"),
                };
                bench::data(size_mb)
            }
            Some("model") => bench::model(&args[2..]),
            Some("micro") => bench::micro(&args[2..]),
            Some("train") => bench::train(&args[2..]),
            Some("eval") => {
                let pairs = match args.get(2).map(String::as_str) {
                    Some("--pairs") => args.get(3).context("--pairs needs a number")?.parse()?,
                    None => 100_000,
                    Some(other) => bail!("unknown argument `{other}` (use --pairs N)"),
                };
                bench::eval(pairs)
            }
            Some("safety") => {
                let mb = match args.get(2).map(String::as_str) {
                    Some("--mb") => args.get(3).context("--mb needs a number")?.parse()?,
                    None => 200,
                    Some(other) => bail!("unknown argument `{other}` (use --mb N)"),
                };
                bench::safety(mb)
            }
            Some("track") => bench::track(),
            Some("tasks") => bench::tasks(&args[2..]),
            Some("audit") => {
                let files = match args.get(2).map(String::as_str) {
                    Some("--files") => args.get(3).context("--files needs a number")?.parse()?,
                    None => 50_000,
                    Some(other) => bail!("unknown argument `{other}` (use --files N)"),
                };
                bench::audit(files)
            }
            other => bail!(
                "unknown benchmark {other:?}; available: tokenize, data, model, train, eval, safety, track, audit, tasks, micro"
            ),
        },
        _ => {
            eprintln!(
                "usage: cargo xtask <task>\n\n\
                 tasks:\n  gates [STEP]... [--skip STEP]\n  \
                                      fmt, layering, clippy, test, doc, deny (cheapest first;\n  \
                                      only the STEPs named, when any are)\n  \
                 fuzz [TARGET] [--seconds N] [--sanitizer S]\n  \
                                      cargo-fuzz on every parser of untrusted input (600 s each;\n  \
                                      sanitizer none unless asked)\n  \
                 layering             check crate dependencies against the brief's invariants\n  \
                 examples [--release] run every example of the codex crate, timed\n  \
                 dist [--features F]  build the release archive into target/dist\n  \
                 gpu                  build the cuda programs of the GPU check into target/gpu/bundle.tar.xz\n  \
                 bench tokenize [--size-mb N] [--trainers-only]\n  \
                                               codex-tokenize against Python tokenizers and sentencepiece, and\n  \
                                               codex's Unigram/WordPiece trainers against upstream's\n  \
                 bench data [--size-mb N]      codex-data preparation against a nanoGPT-style Python one\n  \
                 bench model [ARGS]            codex-model training and generation throughput (ARGS go to the\n  \
                                               example: --device, --arch, --batch, --steps, --new-tokens)\n  \
                 bench train [ARGS]            codex-train against PyTorch eager on the same model (ARGS:\n  \
                                               --layers, --d-model, --heads, --d-ff, --vocab, --context, --batch, --steps)\n  \
                 bench eval [--pairs N]        codex-eval BLEU, chrF, ROUGE-L against sacreBLEU and rouge-score\n  \
                 bench safety [--mb N]         codex-safety precision/recall against detect-secrets, throughput\n  \
                 bench track                   codex-track fan-out cost per scalar, MLflow delivery rate\n  \
                 bench tasks [--model DIR]     codex eval tasks against lm-evaluation-harness (hf, CPU)\n  \
                 bench audit [--files N]       codex audit against tokei (and scc) on generated and real trees\n  \
                 bench micro [--save-baseline NAME | --baseline NAME]\n  \
                                               criterion micro-benchmarks of the hot paths (train step, packed\n  \
                                               rows, generation, BPE/SentencePiece encode, BLEU/chrF/ROUGE); a\n  \
                                               baseline saved here is compared against, regressions flagged"
            );
            bail!("no task given")
        }
    }
}
