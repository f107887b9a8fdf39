//! Plug your own pieces into a training job: a metric sink that receives
//! every row the run logs, and a text filter that rewrites training documents.
//! `cargo run --release --example plugins`

#![allow(
    clippy::print_stdout,
    reason = "an example shows what it did on the terminal"
)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use codex::core::config::AppConfig;
use codex::core::{
    Filtered, Finding, MetricRecord, MetricSink, Severity, SinkError, Stage, TextFilter, Verdict,
};
use codex::train::{ConfigSource, Quiet, TrainJob, plan};

/// Keeps the last training loss and counts rows (a real one would send them
/// to a dashboard or a database).
#[derive(Default)]
struct LastLoss {
    seen: Arc<Mutex<(usize, Option<f64>)>>,
}

impl MetricSink for LastLoss {
    fn name(&self) -> &str {
        "last-loss"
    }
    fn log_params(&mut self, params: &BTreeMap<String, String>) -> Result<(), SinkError> {
        println!(
            "sink: {} parameters, lr = {}",
            params.len(),
            params["train.lr"]
        );
        Ok(())
    }
    fn log_metrics(&mut self, records: &[MetricRecord]) -> Result<(), SinkError> {
        let mut seen = self.seen.lock().expect("not poisoned");
        seen.0 += records.len();
        for r in records
            .iter()
            .filter(|r| r.split == "train" && r.name == "loss")
        {
            seen.1 = Some(r.value);
        }
        Ok(())
    }
    fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
    fn close(&mut self, status: &str) -> Result<(), SinkError> {
        println!("sink: run {status}");
        Ok(())
    }
}

/// Masks every digit of a training document (a stand-in for a domain rule).
struct MaskDigits;

impl TextFilter for MaskDigits {
    fn name(&self) -> &str {
        "mask-digits"
    }

    fn filter(&self, text: &str, stage: Stage) -> Filtered {
        let Some(at) = text.find(|c: char| c.is_ascii_digit()) else {
            return Filtered::keep();
        };
        if stage != Stage::Data {
            return Filtered::keep();
        }
        let masked: String = text
            .chars()
            .map(|c| if c.is_ascii_digit() { '#' } else { c })
            .collect();
        Filtered::new(
            Verdict::Redact(masked),
            vec![Finding {
                rule_id: "digits".into(),
                kind: "digit".into(),
                span: at..at + 1,
                severity: Severity::Info,
                match_hash: String::new(),
            }],
        )
    }

    fn fingerprint(&self) -> String {
        "mask-digits/1".into()
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let source = ConfigSource {
        overrides: vec![
            format!("run.runs_dir={}", dir.path().join("runs").display()),
            "data.synthetic_bytes=150000".into(),
            "tokenizer.vocab_size=320".into(),
            "model.n_layer=1".into(),
            "model.d_model=64".into(),
            "model.n_head=2".into(),
            "model.n_kv_head=1".into(),
            "model.d_ff=64".into(),
            "model.context_length=64".into(),
            "train.batch_size=8".into(),
            "train.max_steps=20".into(),
            "train.warmup_steps=2".into(),
            "train.eval_every=10".into(),
            "train.eval_batches=2".into(),
        ],
        ..ConfigSource::default()
    };
    let sink = LastLoss::default();
    let seen = Arc::clone(&sink.seen);
    let filter = |_: &AppConfig, _: Option<&std::path::Path>| {
        Ok(Box::new(MaskDigits) as Box<dyn TextFilter>)
    };
    let mut job = TrainJob::new(plan(&source, None)?, codex::build_info());
    job.filter = Some(&filter);
    job.sinks.push(Box::new(sink));
    let outcome = job.run(&mut Quiet)?;
    let (rows, loss) = *seen.lock().expect("not poisoned");
    println!(
        "sink: {rows} rows, last training loss {:.3}",
        loss.unwrap_or(f64::NAN)
    );
    let manifest = codex::data::Manifest::load(&outcome.run_dir.join("data"))?;
    println!(
        "filter `{}`: {} documents rewritten",
        manifest.filter.name, manifest.filter.redacted
    );
    Ok(())
}
