//! Micro-benchmarks of the model's hot paths on the fused CPU route: a
//! training step's forward and backward for the Llama and Gemma 2 shapes,
//! the same over packed chat rows, and cached generation.
//! `cargo bench -p codex-model --bench micro` (or `cargo xtask bench micro`).

use burn::tensor::{Device, Int, Tensor, TensorData};
use codex_model::{ForwardOptions, GenerateOptions, Transformer, architectures, generate};
use criterion::{Criterion, criterion_group, criterion_main};

fn ids(b: usize, t: usize, vocab: usize, device: &Device) -> Tensor<2, Int> {
    let v: Vec<i64> = (0..b * t).map(|i| ((i * 7919) % vocab) as i64).collect();
    Tensor::from_data(TensorData::new(v, [b, t]), device)
}

fn step(c: &mut Criterion) {
    let device = Device::flex().autodiff();
    let (b, t) = (4, 128);
    let mut group = c.benchmark_group("train_step");
    group.sample_size(10);
    for name in ["llama-tiny", "gemma2-tiny"] {
        let config = architectures().get(name).unwrap().value.clone();
        let model = Transformer::init(&config, 0, &device).unwrap();
        let x = ids(b, t + 1, config.vocab_size, &device);
        group.bench_function(name, |bench| {
            bench.iter(|| {
                let out = model
                    .loss(
                        x.clone().narrow(1, 0, t),
                        x.clone().narrow(1, 1, t),
                        None,
                        ForwardOptions::default(),
                    )
                    .unwrap();
                let grads = out.loss.backward();
                std::hint::black_box(grads);
            });
        });
    }
    // Packed rows: four examples of 32 positions in each row.
    let config = architectures().get("llama-tiny").unwrap().value.clone();
    let model = Transformer::init(&config, 0, &device).unwrap();
    let x = ids(b, t + 1, config.vocab_size, &device);
    let row = |f: fn(usize) -> i64| -> Tensor<2, Int> {
        let v: Vec<i64> = (0..b * t).map(|i| f(i % t)).collect();
        Tensor::from_data(TensorData::new(v, [b, t]), &device)
    };
    let positions = row(|p| (p % 32) as i64);
    let starts = row(|p| (p - p % 32) as i64);
    group.bench_function("llama-tiny packed", |bench| {
        bench.iter(|| {
            let out = model
                .loss(
                    x.clone().narrow(1, 0, t),
                    x.clone().narrow(1, 1, t),
                    None,
                    ForwardOptions {
                        positions: Some(positions.clone()),
                        segment_starts: Some(starts.clone()),
                        ..ForwardOptions::default()
                    },
                )
                .unwrap();
            std::hint::black_box(out.loss.backward());
        });
    });
    group.finish();
}

fn generation(c: &mut Criterion) {
    let device = Device::flex();
    let config = architectures().get("llama-tiny").unwrap().value.clone();
    let model = Transformer::init(&config, 0, &device).unwrap();
    let prompt: Vec<u32> = (0..16).collect();
    let mut group = c.benchmark_group("generate");
    group.sample_size(10);
    group.bench_function("llama-tiny 32 tokens", |bench| {
        bench.iter(|| {
            let out = generate(
                &model,
                std::slice::from_ref(&prompt),
                &GenerateOptions {
                    max_new_tokens: 32,
                    temperature: 0.0,
                    ..GenerateOptions::default()
                },
            )
            .unwrap();
            std::hint::black_box(out);
        });
    });
    group.finish();
}

criterion_group!(benches, step, generation);
criterion_main!(benches);
