//! `codex train`: the main job (`codex_train::TrainJob`) with a progress bar,
//! log lines and a summary table.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Result;
use codex_train::{JobOutcome, Summary, TrainJob};

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
    Ok(render(&outcome?))
}

/// The summary table of a finished run, or how to resume an interrupted one.
fn render(outcome: &JobOutcome) -> String {
    let Some(s) = &outcome.summary else {
        return format!(
            "interrupted after step {}; checkpoint {}\nresume with: codex train --resume {}\n",
            outcome.steps,
            outcome
                .checkpoint
                .as_ref()
                .map_or_else(|| "none".into(), |p| p.display().to_string()),
            outcome.run_dir.display()
        );
    };
    let mut out = String::new();
    let _ = writeln!(out, "run        {}", s.run_dir.display());
    let _ = writeln!(
        out,
        "trained    {} steps, {} tokens in {:.1}s ({:.0} tokens/s, {:.2} GFLOP/s{})",
        s.steps,
        s.tokens,
        s.train_seconds,
        s.tokens_per_second,
        s.flops_per_second / 1e9,
        s.mfu
            .map_or_else(String::new, |m| format!(", MFU {:.1}%", 100.0 * m))
    );
    if let Some(v) = s.validation {
        let _ = writeln!(
            out,
            "validation loss {:.4} (perplexity {:.2}), token accuracy {:.1}%",
            v.loss,
            v.perplexity,
            100.0 * v.token_accuracy
        );
    }
    let _ = writeln!(
        out,
        "baseline   unigram entropy {:.4} (perplexity {:.2})",
        s.unigram_entropy, s.unigram_perplexity
    );
    if let Some(p) = &s.checkpoint {
        let _ = writeln!(out, "checkpoint {}", p.display());
    }
    if let Some(p) = &s.adapter {
        let _ = writeln!(out, "adapter    {} (LoRA adapters alone)", p.display());
    }
    let _ = writeln!(out, "sample     {}", s.sample);
    let _ = writeln!(out, "report     {}", s.run_dir.join("report.md").display());
    render_sinks(s, &mut out);
    if let Some(a) = &outcome.abandoned {
        let _ = writeln!(
            out,
            "branch     resumed from an earlier checkpoint; the later ones moved to {}",
            a.display()
        );
    }
    let _ = writeln!(out, "wall time  {:.1}s", s.wall_seconds);
    out
}

fn render_sinks(s: &Summary, out: &mut String) {
    if let Some(m) = &s.mlflow {
        let unsent = if m.metrics_unsent > 0 {
            format!(
                ", {} unsent: replay with `codex runs sync-mlflow {}`",
                m.metrics_unsent,
                s.run_dir.display()
            )
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "mlflow     {} run {} ({} metrics sent{unsent})",
            m.uri,
            m.run_id.as_deref().unwrap_or("not created"),
            m.metrics_sent
        );
    }
    for h in s.sinks.iter().filter(|h| h.failures > 0) {
        let _ = writeln!(
            out,
            "warning    sink {} failed {} times: {}",
            h.sink,
            h.failures,
            h.last_error.as_deref().unwrap_or("")
        );
    }
}
