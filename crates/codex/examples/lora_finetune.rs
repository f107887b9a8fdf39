//! Import a Hugging Face model, fine-tune it with LoRA adapters, and export
//! it back (adapters merged) for `transformers`.
//! `cargo run --release --example lora_finetune`
//!
//! The model is the committed test fixture `tests/data/model/llama-gqa-tied`
//! (a random-init Llama with grouped-query attention and a 96-token
//! vocabulary); a word-level tokenizer of that size is trained first and put
//! beside it, as a real checkpoint directory would have one.

#![allow(
    clippy::print_stdout,
    reason = "an example shows what it did on the terminal"
)]

use std::path::Path;

use codex::core::config::{OnError, TokenizerKind};
use codex::train::{ConfigSource, Event, Observer, StepReport, TrainJob, plan};

struct Print;

impl Observer for Print {
    fn event(&mut self, event: &Event<'_>) {
        match event {
            Event::FineTuning(from) => println!("base       {}", from.display()),
            Event::Lora { rank, targets } => println!("lora       rank {rank} on {targets:?}"),
            Event::Model {
                parameters,
                trainable,
                ..
            } => println!(
                "model      {}",
                codex::train::parameter_line(*parameters, *trainable)
            ),
            _ => {}
        }
    }
    fn step(&mut self, r: &StepReport) {
        if r.step.is_multiple_of(10) {
            println!("step {:>3}  loss {:.3}", r.step, r.loss);
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/model/llama-gqa-tied");
    let base = dir.path().join("base");
    std::fs::create_dir_all(&base)?;
    for f in ["config.json", "model.safetensors"] {
        std::fs::copy(fixture.join(f), base.join(f))?;
    }
    let corpus = dir.path().join("corpus.txt");
    codex::data::synth::write_corpus(&mut std::fs::File::create(&corpus)?, 200_000, 3)?;
    let tokenizer = codex::tokenize::train::train(
        &codex::tokenize::train::TrainConfig {
            kind: TokenizerKind::Wordlevel,
            vocab_size: 96,
            min_frequency: 1,
            special_tokens: vec!["<|endoftext|>".into(), "<|pad|>".into(), "[UNK]".into()],
            seed: 3,
            text_field: "text".into(),
            on_error: OnError::Skip,
            show_progress: false,
            command_line: Vec::new(),
        },
        std::slice::from_ref(&corpus),
    )?;
    std::fs::write(base.join("tokenizer.json"), &tokenizer.json)?;

    let source = ConfigSource {
        overrides: vec![
            format!("run.runs_dir={}", dir.path().join("runs").display()),
            format!("train.init_from={}", base.display()),
            format!("data.sources=[{}]", corpus.display()),
            "train.lora={rank: 4, alpha: 8, dropout: 0.0, targets: [q, v, mlp]}".into(),
            "train.batch_size=8".into(),
            "train.max_steps=30".into(),
            "train.warmup_steps=3".into(),
            "train.lr=1e-2".into(),
            "train.eval_every=15".into(),
            "train.eval_batches=2".into(),
        ],
        ..ConfigSource::default()
    };
    let outcome = TrainJob::new(plan(&source, None)?, codex::build_info()).run(&mut Print)?;
    let summary = outcome.summary.expect("the run finished");
    println!(
        "trained    {} steps, validation loss {:.3}",
        summary.steps,
        summary.validation.map_or(f64::NAN, |v| v.loss)
    );

    let out = dir.path().join("export");
    let device = codex::model::DeviceSpec::Cpu.device()?;
    let exported = codex::train::load::export(&outcome.run_dir, &out, &device)?;
    let mut files: Vec<String> = std::fs::read_dir(&out)?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_, _>>()?;
    files.sort();
    println!(
        "exported   {} -> {} ({}; adapters merged: {})",
        exported.source.display(),
        out.display(),
        files.join(", "),
        exported.merged_lora
    );
    Ok(())
}
