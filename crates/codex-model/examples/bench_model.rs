//! Model throughput on one device: forward+backward tokens/s, and generation
//! tokens/s with and without the KV cache, with per-token time by position.
//!
//! `cargo run --release -p codex-model --example bench_model -- [--device cpu] [--arch gpt2-tiny,llama-tiny,…]`
//! (`cargo xtask bench model` runs it and writes `target/bench/model.md`).
#![allow(clippy::print_stdout, reason = "a benchmark prints its results")]

use std::time::Instant;

use burn::tensor::{Device, Int, Tensor, TensorData};
use codex_core::Rng;
use codex_model::{
    DeviceSpec, ForwardOptions, GenerateOptions, Transformer, architectures, generate,
};

fn batch(rng: &mut Rng, b: usize, t: usize, vocab: usize, device: &Device) -> Tensor<2, Int> {
    let v: Vec<i64> = (0..b * t).map(|_| rng.below(vocab) as i64).collect();
    Tensor::from_data(TensorData::new(v, [b, t]), device)
}

fn train_throughput(model: &Transformer, b: usize, t: usize, steps: usize, device: &Device) -> f64 {
    let mut rng = Rng::new(0, 0);
    let vocab = model.config().vocab_size;
    let step = |rng: &mut Rng| {
        let x = batch(rng, b, t + 1, vocab, device);
        let input = x.clone().narrow(1, 0, t);
        let target = x.narrow(1, 1, t);
        let out = model
            .loss(input, target, None, ForwardOptions::default())
            .expect("fits");
        let grads = out.loss.backward();
        // Touch one gradient so the backward pass is forced to completion.
        let g = model
            .wte
            .weight
            .val()
            .grad(&grads)
            .expect("embedding has a gradient");
        let _ = g.sum().into_data();
    };
    step(&mut rng); // warm-up
    let start = Instant::now();
    for _ in 0..steps {
        step(&mut rng);
    }
    (b * t * steps) as f64 / start.elapsed().as_secs_f64()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let get = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let spec: DeviceSpec = get("--device").unwrap_or_else(|| "cpu".into()).parse()?;
    let device = spec.device()?;
    // Every family's small shape (same width, depth and context as
    // llama-tiny, so FLOPs compare), then a larger Llama.
    let arches = get("--arch").unwrap_or_else(|| {
        "gpt2-tiny,llama-tiny,llama3-tiny,qwen2-tiny,qwen3-tiny,mistral-tiny,phi3-tiny,gemma2-tiny,llama-10m"
            .into()
    });
    let batch_size: usize = get("--batch").map_or(Ok(8), |s| s.parse())?;
    let steps: usize = get("--steps").map_or(Ok(5), |s| s.parse())?;
    let new_tokens: usize = get("--new-tokens").map_or(Ok(192), |s| s.parse())?;
    let rounds: usize = get("--rounds").map_or(Ok(3), |s| s.parse())?;
    // Training throughput: the shapes in turn, `rounds` times over, each
    // keeping its best round (a shared machine's slow spells spread over
    // all shapes instead of landing on one).
    let names: Vec<&str> = arches.split(',').collect();
    let mut best_tps = vec![0.0f64; names.len()];
    for _ in 0..rounds.max(1) {
        for (i, name) in names.iter().enumerate() {
            let config = architectures().get(name)?.value.clone();
            let train_model = Transformer::init(&config, 1, &device.clone().autodiff())?;
            let tps = train_throughput(
                &train_model,
                batch_size,
                config.context_length,
                steps,
                &device.clone().autodiff(),
            );
            best_tps[i] = best_tps[i].max(tps);
        }
    }
    println!(
        "| model | params | train tok/s (b={batch_size}, full context, best of {rounds}) | train GFLOP/s | GFLOP/s vs llama-tiny | gen tok/s, cache | gen tok/s, no cache | ms/token at 1-32 | ms/token at last 32 |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    // Training throughput per FLOP of the Llama shape, the reference of the
    // family comparison (`-` when llama-tiny is not measured first).
    let mut reference: Option<f64> = None;
    for (name, tps) in names.iter().zip(best_tps) {
        let name = *name;
        let config = architectures().get(name)?.value.clone();
        let t = config.context_length;
        let gflops = tps * config.flops_per_token() / 1e9;
        if name == "llama-tiny" {
            reference = Some(gflops);
        }
        let relative = reference.map_or("-".to_owned(), |r| format!("{:.2}×", gflops / r));
        let model = Transformer::init(&config, 1, &device)?;
        let prompt = vec![vec![1u32; 8]];
        let new = new_tokens.min(t - 8);
        let options = |use_cache| GenerateOptions {
            max_new_tokens: new,
            use_cache,
            ..GenerateOptions::default()
        };
        // Per-token timing: generate 1..new tokens incrementally is what a user sees;
        // measure whole runs of increasing length and difference them.
        let timed = |n: usize, use_cache: bool| {
            let o = GenerateOptions {
                max_new_tokens: n,
                ..options(use_cache)
            };
            let start = Instant::now();
            let out = generate(&model, &prompt, &o).expect("generates");
            assert_eq!(out[0].tokens.len(), n);
            start.elapsed().as_secs_f64()
        };
        let _ = timed(4, true); // warm-up
        let full = timed(new, true);
        let early = (timed(33, true) - timed(1, true)) / 32.0;
        let late = (full - timed(new - 32, true)) / 32.0;
        let no_cache = timed(new, false);
        println!(
            "| {name} | {:.2}M | {tps:.0} | {gflops:.1} | {relative} | {:.1} | {:.1} | {:.2} | {:.2} |",
            config.param_counts().total() as f64 / 1e6,
            new as f64 / full,
            new as f64 / no_cache,
            early * 1e3,
            late * 1e3,
        );
    }
    Ok(())
}
