//! `cargo xtask`: repository automation for codex (matklad's cargo-xtask pattern).
//!
//! - `cargo xtask gates [--skip STEP]…`: every gate, cheapest first, each timed.
//! - `cargo xtask layering`: only the dependency-layering check.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "xtask is a command-line tool that reports to the terminal"
)]

mod gates;
mod layering;

use std::process::ExitCode;

use anyhow::{Result, bail};

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
            let mut skip = Vec::new();
            let mut rest = args[1..].iter();
            while let Some(a) = rest.next() {
                match a.as_str() {
                    "--skip" => skip.push(rest.next().cloned().unwrap_or_default()),
                    other => bail!("unknown argument `{other}` for gates (use --skip STEP)"),
                }
            }
            gates::run(&skip)
        }
        Some("layering") => gates::layering(),
        _ => {
            eprintln!(
                "usage: cargo xtask <task>\n\n\
                 tasks:\n  gates [--skip STEP]  fmt, layering, clippy, test, doc, deny (cheapest first)\n  \
                 layering             check crate dependencies against the brief's invariants"
            );
            bail!("no task given")
        }
    }
}
