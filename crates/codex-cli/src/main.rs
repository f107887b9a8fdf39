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

/// mimalloc's `purge_delay` option (its position in `mi_option_t`, the same in
/// mimalloc 2 and 3; `libmimalloc-sys` names no constant for it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Never hand freed memory back to the kernel: a training step frees and
/// reallocates the same large buffers, and each return came back as page
/// faults on fresh zeroed pages (the default 1 s delay still let ~1,600 faults
/// a step through; with this the embedded default trains ~7 % faster).
fn keep_freed_memory() {
    #[allow(
        unsafe_code,
        reason = "mimalloc's option setter is a C function; it stores one integer"
    )]
    // SAFETY: called first in `main`, before any other thread exists (the
    // setter is not thread-safe); -1 is a documented value of the option.
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1);
    }
}

fn main() -> ExitCode {
    keep_freed_memory();
    let cli = Cli::parse();
    init_logging(cli.verbose, cli.quiet, cli.color);
    let result = match cli.command {
        _ if cli.version => Ok(commands::version(cli.verbose > 0)),
        Some(command) => commands::run(command),
        None => {
            let _ = <Cli as clap::CommandFactory>::command().print_help();
            return ExitCode::from(2);
        }
    };
    match result {
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
            if let Some(stopped) = err.downcast_ref::<commands::Interrupted>() {
                let _ = std::io::stdout()
                    .lock()
                    .write_all(stopped.stdout.as_bytes());
            }
            eprintln!("error: {}", commands::error_text(&err));
            ExitCode::from(commands::exit_code(&err))
        }
    }
}

/// The workspace's own crates: `-v` and `-vv` raise their level, never a
/// dependency's (`RUST_LOG` can).
const OUR_CRATES: [&str; 11] = [
    "codex",
    "codex_cli",
    "codex_core",
    "codex_tokenize",
    "codex_data",
    "codex_model",
    "codex_train",
    "codex_eval",
    "codex_safety",
    "codex_track",
    "codex_audit",
];

fn init_logging(verbose: u8, quiet: bool, color: cli::Color) {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let default = match (quiet, verbose) {
        (true, _) => "error".to_owned(),
        (false, v) => {
            let level = ["info", "debug", "trace"][usize::from(v.min(2))];
            let ours: Vec<String> = OUR_CRATES.iter().map(|c| format!("{c}={level}")).collect();
            format!("warn,{}", ours.join(","))
        }
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    // Colour only on a terminal, and never when NO_COLOR is set (no-color.org).
    let ansi = match color {
        cli::Color::Always => true,
        cli::Color::Never => false,
        cli::Color::Auto => {
            std::io::stderr().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(ansi)
        .init();
}
