//! `codex completions SHELL` and the hidden `codex man DIR`.

use std::path::Path;

use anyhow::{Context, Result};
use clap::CommandFactory;

use crate::cli::Cli;

pub(super) fn run(shell: clap_complete::Shell) -> Result<String> {
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "codex", &mut buf);
    Ok(String::from_utf8(buf)?)
}

/// One man page per command, `codex.1`, `codex-train.1`, `codex-eval-text.1`, ….
pub(super) fn man(out: &Path) -> Result<String> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create `{}`", out.display()))?;
    let mut written = 0;
    let mut stack = vec![("codex".to_owned(), Cli::command())];
    while let Some((name, cmd)) = stack.pop() {
        let cmd = cmd.name(name.clone()).bin_name(name.replace('-', " "));
        for sub in cmd.get_subcommands().filter(|c| !c.is_hide_set()) {
            stack.push((format!("{name}-{}", sub.get_name()), sub.clone()));
        }
        let mut page = Vec::new();
        clap_mangen::Man::new(cmd).render(&mut page)?;
        codex_core::write_bytes_atomic(out.join(format!("{name}.1")), &page)?;
        written += 1;
    }
    Ok(format!("wrote {written} man pages to {}\n", out.display()))
}
