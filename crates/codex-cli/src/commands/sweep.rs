//! `codex sweep`: `codex_train::sweep::Sweep` with progress on stderr.

use std::fmt::Write as _;

use anyhow::Result;
use codex_train::sweep::{Axis, Sweep};

use super::config::source;
use super::progress::Progress;
use super::train::signals;
use crate::cli::ConfigArgs;

pub(super) fn run(config: &ConfigArgs, grid: &[String], metric: &str) -> Result<String> {
    let signals = signals();
    let filter = super::safety::filter_maker();
    let sweep = Sweep {
        source: source(config),
        axes: grid
            .iter()
            .map(|g| g.parse::<Axis>())
            .collect::<Result<_, _>>()?,
        metric: metric.parse()?,
        build: super::build_info(),
        command_line: std::env::args().collect(),
        filter: Some(&filter),
        stop: Some(&signals.stop),
    };
    let mut progress = Progress::default();
    let outcome = sweep.run(&mut progress, &mut |i, n, overrides| {
        tracing::info!("sweep {i}/{n}: {}", overrides.join(" "));
    });
    progress.finish();
    let outcome = outcome?;
    let mut out = outcome.table;
    writeln!(
        out,
        "\n{} of {} runs finished; table in {}/comparison.csv and comparison.md",
        outcome.rows.iter().filter(|r| r.error.is_none()).count(),
        outcome.points,
        outcome.dir.display()
    )?;
    Ok(out)
}
