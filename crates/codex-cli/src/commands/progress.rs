//! The terminal side of a job's [`Observer`]: log lines for its phases and a
//! progress bar for its steps (drawn only on a terminal).

use std::fmt::Write as _;
use std::io::IsTerminal;

use codex_train::{Event, Observer, StepReport};

/// Draws a job's progress on stderr.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    bar: Option<indicatif::ProgressBar>,
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
                let bar = if std::io::stderr().is_terminal() {
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
