//! Train a tiny model from Rust, watching the job through a custom observer.
//!
//! `cargo run --release --example train_tiny` — a few seconds on a CPU. The
//! run directory goes to a temporary directory (printed).

#![allow(
    clippy::print_stdout,
    reason = "an example shows what it did on the terminal"
)]

use codex::train::{ConfigSource, Event, Observer, StepReport, TrainJob, plan};

/// Prints the job's phases and every fifth step.
struct Print;

impl Observer for Print {
    fn event(&mut self, event: &Event<'_>) {
        match event {
            Event::RunDir(dir) => println!("run directory  {}", dir.display()),
            Event::Tokenizer { vocab, .. } => println!("tokenizer      {vocab} tokens"),
            Event::Data {
                train_tokens,
                validation_tokens,
            } => println!(
                "data           {train_tokens} train / {validation_tokens} validation tokens"
            ),
            Event::Model {
                parameters, device, ..
            } => {
                println!("model          {parameters} parameters on {device}")
            }
            _ => {}
        }
    }

    fn step(&mut self, r: &StepReport) {
        if r.step.is_multiple_of(5) || r.eval.is_some() {
            let val = r
                .eval
                .map_or_else(String::new, |e| format!("  validation {:.3}", e.loss));
            println!(
                "step {:>3}/{}   loss {:.3}{val}",
                r.step, r.max_steps, r.loss
            );
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let runs = dir.path().join("runs");
    let source = ConfigSource {
        overrides: [
            format!("run.runs_dir={}", runs.display()),
            "run.name=tiny".into(),
            "data.synthetic_bytes=200000".into(),
            "tokenizer.vocab_size=384".into(),
            "model.n_layer=2".into(),
            "model.d_model=64".into(),
            "model.n_head=4".into(),
            "model.n_kv_head=2".into(),
            "model.d_ff=128".into(),
            "model.context_length=64".into(),
            "train.batch_size=8".into(),
            "train.max_steps=80".into(),
            "train.warmup_steps=4".into(),
            "train.eval_every=20".into(),
            "train.eval_batches=4".into(),
            "train.checkpoint_every=20".into(),
        ]
        .into(),
        env: false,
        file: None,
    };
    let outcome = TrainJob::new(plan(&source, None)?, codex::build_info()).run(&mut Print)?;
    let summary = outcome.summary.expect("the run finished");
    println!(
        "trained {} steps: validation loss {:.3} against a unigram baseline of {:.3}",
        summary.steps,
        summary.validation.map_or(f64::NAN, |v| v.loss),
        summary.unigram_entropy
    );
    println!("sample: {}", summary.sample);
    Ok(())
}
