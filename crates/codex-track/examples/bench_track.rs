//! Cost of the metric fan-out per scalar, and MLflow sending throughput.
//!
//! `cargo run --release -p codex-track --example bench_track -- [--mlflow-only URI]`
//! (driven by `cargo xtask bench track`, which starts a local MLflow server).
#![allow(clippy::print_stdout, reason = "a benchmark prints its result")]

use std::time::{Duration, Instant};

use codex_core::{MetricRecord, MetricSink};
use codex_track::{CsvSink, FanOut, MlflowSink, MlflowTarget, NdjsonSink, TensorBoardSink};

fn records(n: usize, batch: usize) -> Vec<Vec<MetricRecord>> {
    (0..n / batch)
        .map(|b| {
            (0..batch)
                .map(|k| MetricRecord {
                    step: b as u64,
                    epoch: 0,
                    split: "train".into(),
                    name: format!("metric_{k}"),
                    value: 1.0 / (1.0 + b as f64),
                    wall_time: 1.7e9 + b as f64,
                })
                .collect()
        })
        .collect()
}

fn fan_out(csv: bool) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let mut others: Vec<Box<dyn MetricSink>> =
        vec![Box::new(TensorBoardSink::create(dir.path()).unwrap())];
    if csv {
        others.push(Box::new(
            CsvSink::create(&dir.path().join("metrics.csv")).unwrap(),
        ));
    }
    let mut fan = FanOut::new(
        Box::new(NdjsonSink::create(&dir.path().join("metrics.ndjson")).unwrap()),
        others,
    );
    let batches = records(1_000_000, 10);
    let t = Instant::now();
    for b in &batches {
        fan.log_metrics(b).unwrap();
    }
    fan.close("finished").unwrap();
    t.elapsed().as_secs_f64() * 1e6 / 1_000_000.0
}

fn mlflow(uri: &str) -> serde_json::Value {
    let n = 100_000;
    let batches = records(n, 100);
    let mut sink = MlflowSink::start(MlflowTarget {
        uri: uri.to_owned(),
        experiment: "codex-bench".into(),
        run_name: "bench".into(),
        tags: Vec::new(),
        close_timeout: Duration::from_secs(600),
        state: None,
        resume: None,
    });
    let t = Instant::now();
    let mut worst = Duration::ZERO;
    for b in &batches {
        let c = Instant::now();
        sink.log_metrics(b).unwrap();
        worst = worst.max(c.elapsed());
    }
    let caller = t.elapsed();
    sink.close("finished").unwrap();
    let total = t.elapsed();
    serde_json::json!({
        "metrics": n,
        "caller_seconds": caller.as_secs_f64(),
        "caller_worst_call_us": worst.as_secs_f64() * 1e6,
        "delivered_seconds": total.as_secs_f64(),
        "delivered_metrics_per_second": n as f64 / total.as_secs_f64(),
        "report": sink.report(),
    })
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let out = match args.iter().position(|a| a == "--mlflow-only") {
        Some(i) => serde_json::json!({ "mlflow": mlflow(&args[i + 1]) }),
        None => serde_json::json!({
            "ndjson_tensorboard_us_per_scalar": fan_out(false),
            "ndjson_tensorboard_csv_us_per_scalar": fan_out(true),
        }),
    };
    println!("{out}");
}
