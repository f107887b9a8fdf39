//! `codex train`: the main job (`codex_train::TrainJob`) with a progress bar,
//! log lines and a summary table.

use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Result;
use codex_train::{JobOutcome, TrainJob};

use super::config::source;
use super::progress::Progress;
use super::text::Report;
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
        let checkpoint = outcome.checkpoint.as_ref().map(|p| p.display().to_string());
        return format!(
            "interrupted after step {}; checkpoint {}\nresume with: codex train --resume {}\n",
            outcome.steps,
            checkpoint.as_deref().unwrap_or("none"),
            outcome.run_dir.display()
        );
    };
    let mfu = s
        .mfu
        .map_or_else(String::new, |m| format!(", MFU {:.1}%", 100.0 * m));
    let mut r = Report::new(10);
    r.kv("run", s.run_dir.display()).kv(
        "trained",
        format_args!(
            "{} steps, {} tokens in {:.1}s ({:.0} tokens/s, {:.2} GFLOP/s{mfu})",
            s.steps,
            s.tokens,
            s.train_seconds,
            s.tokens_per_second,
            s.flops_per_second / 1e9
        ),
    );
    if let Some(v) = s.validation {
        r.line(format_args!(
            "validation loss {:.4} (perplexity {:.2}), token accuracy {:.1}%",
            v.loss,
            v.perplexity,
            100.0 * v.token_accuracy
        ));
    }
    r.kv(
        "baseline",
        format_args!(
            "unigram entropy {:.4} (perplexity {:.2})",
            s.unigram_entropy, s.unigram_perplexity
        ),
    )
    .opt("checkpoint", s.checkpoint.as_ref().map(|p| p.display()))
    .opt(
        "adapter",
        s.adapter
            .as_ref()
            .map(|p| format!("{} (LoRA adapters alone)", p.display())),
    )
    .kv("sample", &s.sample)
    .kv("report", s.run_dir.join("report.md").display());
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
        let run = m.run_id.as_deref().unwrap_or("not created");
        r.kv(
            "mlflow",
            format_args!(
                "{} run {run} ({} metrics sent{unsent})",
                m.uri, m.metrics_sent
            ),
        );
    }
    for h in s.sinks.iter().filter(|h| h.failures > 0) {
        let last = h.last_error.as_deref().unwrap_or("");
        r.kv(
            "warning",
            format_args!("sink {} failed {} times: {last}", h.sink, h.failures),
        );
    }
    r.opt(
        "branch",
        outcome.abandoned.as_ref().map(|a| {
            format!(
                "resumed from an earlier checkpoint; the later ones moved to {}",
                a.display()
            )
        }),
    )
    .kv("wall time", format_args!("{:.1}s", s.wall_seconds))
    .finish()
}
