//! The terminal side of a job's [`Observer`]: log lines for its phases and a
//! progress bar for its steps (drawn only on a terminal).

use std::fmt::Write as _;
use std::io::IsTerminal;

use codex_train::{Event, Observer, StepReport};

/// Draws a job's progress on stderr: a bar on a terminal; elsewhere (a pipe,
/// a log file) a line every twentieth of the run and every validation.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    bar: Option<indicatif::ProgressBar>,
    /// Steps between log lines when stderr is not a terminal (0 on one).
    every: u64,
    /// When and at which step the training phase started, for the ETA.
    started: Option<(std::time::Instant, u64)>,
}

impl Progress {
    pub(crate) fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

impl Observer for Progress {
    fn event(&mut self, event: &Event<'_>) {
        match event {
            Event::RunDir(d) => tracing::info!("run directory {}", d.display()),
            Event::Tokenizer { path, vocab } => {
                tracing::info!("tokenizer {} ({vocab} tokens)", path.display());
            }
            Event::Diagnostic(d) => tracing::warn!("{d}"),
            Event::Note(n) => tracing::info!("{n}"),
            Event::Data {
                train_tokens,
                validation_tokens,
            } => tracing::info!(
                "data {train_tokens} train tokens, {validation_tokens} validation tokens"
            ),
            Event::FineTuning(from) => tracing::info!("fine-tuning from {}", from.display()),
            Event::Lora { rank, targets } => {
                tracing::info!("LoRA rank {rank} on {targets:?}: only the adapters train");
            }
            Event::Resuming { checkpoint, step } => {
                tracing::info!("resuming from {} (step {step})", checkpoint.display());
            }
            Event::Model {
                parameters,
                trainable,
                device,
            } => {
                let line = codex_train::parameter_line(*parameters, *trainable);
                tracing::info!("model {line} parameters on {device}");
            }
            Event::Training { max_steps } => {
                self.finish();
                let terminal = std::io::stderr().is_terminal();
                self.every = if terminal { 0 } else { (max_steps / 20).max(1) };
                self.started = None;
                let bar = if terminal {
                    indicatif::ProgressBar::new(*max_steps)
                } else {
                    indicatif::ProgressBar::hidden()
                };
                bar.set_style(
                    indicatif::ProgressStyle::with_template(
                        "{spinner} step {pos}/{len} {wide_bar} {msg} eta {eta}",
                    )
                    .expect("valid template"),
                );
                self.bar = Some(bar);
            }
            Event::Warning(w) => tracing::warn!("{w}"),
            _ => {}
        }
    }

    fn step(&mut self, r: &StepReport) {
        let (t0, first) = *self
            .started
            .get_or_insert_with(|| (std::time::Instant::now(), r.step.saturating_sub(1)));
        if self.every > 0 {
            if r.step.is_multiple_of(self.every) || r.step == r.max_steps {
                let done = (r.step - first).max(1) as f64;
                let left = r.max_steps.saturating_sub(r.step) as f64;
                let eta = t0.elapsed().as_secs_f64() / done * left;
                tracing::info!(
                    "step {}/{}  loss {:.4}  lr {:.2e}  {:.0} tokens/s  eta {:.0}s",
                    r.step,
                    r.max_steps,
                    r.loss,
                    r.lr,
                    r.tokens_per_second,
                    eta
                );
            }
            if let Some(e) = r.eval {
                tracing::info!(
                    "step {}  validation loss {:.4}  perplexity {:.2}  token accuracy {:.1}%",
                    r.step,
                    e.loss,
                    e.perplexity,
                    100.0 * e.token_accuracy
                );
            }
        }
        if let Some(bar) = &self.bar {
            bar.set_position(r.step);
            let mut msg = format!("loss {:.3} {:.0} tok/s", r.loss, r.tokens_per_second);
            if let Some(e) = r.eval {
                let _ = write!(msg, " val {:.3}", e.loss);
            }
            bar.set_message(msg);
        }
    }
}
