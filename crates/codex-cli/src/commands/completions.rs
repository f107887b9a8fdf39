//! `codex completions SHELL`.

use anyhow::Result;
use clap::CommandFactory;

use crate::cli::Cli;

pub(super) fn run(shell: clap_complete::Shell) -> Result<String> {
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "codex", &mut buf);
    Ok(String::from_utf8(buf)?)
}
