//! `codex train`: the main job (`codex_train::TrainJob`) with a progress bar,
//! log lines and a summary table.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Result;
use codex_train::{StopCause, TrainJob};

use super::Interrupted;
use super::config::source;
use super::progress::Progress;
use crate::cli::ConfigArgs;

/// SIGINT and SIGTERM: both stop training after the current step with a
/// checkpoint; the exit status says which came (130 or 143, the shell's
/// 128 + signal number).
pub(super) struct Signals {
    /// Set by either signal.
    pub(super) stop: Arc<AtomicBool>,
    term: Arc<AtomicBool>,
}

impl Signals {
    /// The exit status after a stop by signal.
    pub(super) fn exit_code(&self) -> u8 {
        if self.term.load(Ordering::SeqCst) {
            143
        } else {
            130
        }
    }
}

/// The process's signal flags, registered on first use.
pub(super) fn signals() -> &'static Signals {
    static SIGNALS: std::sync::OnceLock<Signals> = std::sync::OnceLock::new();
    SIGNALS.get_or_init(|| {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let s = Signals {
            stop: Arc::new(AtomicBool::new(false)),
            term: Arc::new(AtomicBool::new(false)),
        };
        for (sig, flag) in [(SIGINT, &s.stop), (SIGTERM, &s.stop), (SIGTERM, &s.term)] {
            if let Err(e) = signal_hook::flag::register(sig, Arc::clone(flag)) {
                tracing::warn!("cannot handle signal {sig} ({e}); it will kill the run");
            }
        }
        s
    })
}

pub(super) fn run(config: &ConfigArgs, resume: Option<String>) -> Result<String> {
    let signals = signals();
    let plan = codex_train::plan(&source(config), resume.as_deref())?;
    let filter = super::safety::filter_maker();
    let mut job = TrainJob::new(plan, super::build_info());
    job.command_line = std::env::args().collect();
    job.filter = Some(&filter);
    job.stop = Some(&signals.stop);
    let mut progress = Progress::default();
    let outcome = job.run(&mut progress);
    progress.finish();
    let outcome = outcome?;
    if outcome.stop == StopCause::Interrupted {
        return Err(Interrupted {
            stdout: outcome.to_text(),
            code: signals.exit_code(),
        }
        .into());
    }
    Ok(outcome.to_text())
}
