//! `codex train`: the main job (`codex_train::TrainJob`) with a progress bar,
//! log lines and a summary table.

use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Result;
use codex_train::TrainJob;

use super::config::source;
use super::progress::Progress;
use crate::cli::ConfigArgs;

/// Set by SIGINT or SIGTERM: training finishes its step, checkpoints and returns.
pub(super) static STOP: AtomicBool = AtomicBool::new(false);

pub(super) fn install_signal_handler() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        if let Err(e) = ctrlc::set_handler(|| STOP.store(true, Ordering::SeqCst)) {
            tracing::warn!("cannot handle SIGINT/SIGTERM ({e}); an interrupt will kill the run");
        }
    });
}

pub(super) fn run(config: &ConfigArgs, resume: Option<String>) -> Result<String> {
    install_signal_handler();
    let plan = codex_train::plan(&source(config), resume.as_deref())?;
    let filter = super::safety::filter_maker();
    let mut job = TrainJob::new(plan, super::build_info());
    job.command_line = std::env::args().collect();
    job.filter = Some(&filter);
    job.stop = Some(&STOP);
    let mut progress = Progress::default();
    let outcome = job.run(&mut progress);
    progress.finish();
    Ok(outcome?.to_text())
}
