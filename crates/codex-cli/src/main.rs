//! `codex`: the command-line tool of the codex workspace.
//!
//! This binary is the only crate that prints and the only one (with xtask) that
//! uses `anyhow`; the libraries return typed errors and report findings as values.
//! It parses arguments, chooses the device at the edge, wires the library crates
//! together through the traits in `codex-core`, and renders their results.
//!
//! Features `flex` (default), `ndarray`, `wgpu` and `cuda` choose the compiled
//! tensor backends and are forwarded to `codex-model` and `codex-train`.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "the binary is the one place that writes to the terminal"
)]

mod cli;
mod commands;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::Cli;

/// mimalloc keeps the tensor buffers freed each training step for the next one;
/// with the system allocator they went back to the kernel and came back as fresh,
/// zeroed pages (page faults were ~6 % of a step; the step got ~20 % faster).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose, cli.quiet);
    match commands::run(cli.command) {
        Ok(output) => {
            let mut stdout = std::io::stdout().lock();
            match stdout
                .write_all(output.as_bytes())
                .and_then(|()| stdout.flush())
            {
                Ok(()) => ExitCode::SUCCESS,
                // A closed pipe (`codex config schema | head`) is not a failure.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: cannot write to stdout: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Err(err) => {
            if let Some(found) = err.downcast_ref::<commands::FoundWithOutput>() {
                let _ = std::io::stdout().lock().write_all(found.stdout.as_bytes());
            }
            eprintln!("error: {err:#}");
            ExitCode::from(commands::exit_code(&err))
        }
    }
}

fn init_logging(verbose: u8, quiet: bool) {
    use tracing_subscriber::EnvFilter;
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "info",
        (false, 1) => "debug",
        (false, _) => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}
