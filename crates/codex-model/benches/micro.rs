//! Micro-benchmarks of the model's hot paths on the fused CPU route: each
//! fused kernel forward (plain flex) and forward + backward (under autodiff),
//! one AdamW step, a training step's forward and backward for the Llama and
//! Gemma 2 shapes, the same over packed chat rows, and cached generation.
//! `cargo bench -p codex-model --bench micro` (or `cargo xtask bench micro`).

use burn::optim::Optimizer;
use burn::tensor::{Device, Int, Tensor, TensorData};
use codex_model::{
    AdamW, ForwardOptions, GenerateOptions, Transformer, architectures, generate, kernels,
};
use criterion::{Criterion, criterion_group, criterion_main};

/// Deterministic values in [-1, 1).
fn values(n: usize, seed: u32) -> Vec<f32> {
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(12_345);
    (0..n)
        .map(|_| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 8) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0
        })
        .collect()
}

fn tensor<const D: usize>(shape: [usize; D], seed: u32, device: &Device) -> Tensor<D> {
    let n = shape.iter().product();
    let t = Tensor::from_data(TensorData::new(values(n, seed), shape), device);
    if device.is_autodiff() {
        t.require_grad()
    } else {
        t
    }
}

/// The shapes of one layer of a small model: 4 rows of 128 tokens, width 256,
/// MLP 1024, 8 query and 4 key/value heads of 32, a 4096-token vocabulary.
const ROWS: usize = 512;
const WIDTH: usize = 256;
const HIDDEN: usize = 1024;
const VOCAB: usize = 4096;

/// Each fused kernel alone: `forward` on plain flex tensors, `forward+backward`
/// under autodiff (backward from the output itself, which Burn seeds with a
/// gradient of ones of its shape, so no other op is timed).
fn kernels(c: &mut Criterion) {
    let mut group = c.benchmark_group("kernel");
    group.sample_size(20);
    for (mode, device) in [
        ("forward", Device::flex()),
        ("forward+backward", Device::flex().autodiff()),
    ] {
        let backward = device.is_autodiff();
        let run = |y: Tensor<2>| {
            if backward {
                std::hint::black_box(y.backward());
            } else {
                std::hint::black_box(y);
            }
        };
        let x = tensor([ROWS, WIDTH], 1, &device);
        let w = tensor([WIDTH, HIDDEN], 2, &device);
        let gamma = tensor([WIDTH], 3, &device);
        let beta = tensor([WIDTH], 4, &device);
        let gate = tensor([ROWS, HIDDEN], 5, &device);
        let up = tensor([ROWS, HIDDEN], 6, &device);
        let logits = tensor([ROWS, VOCAB], 7, &device);
        let targets: Tensor<1, Int> = Tensor::from_data(
            TensorData::new(
                (0..ROWS).map(|i| ((i * 7919) % VOCAB) as i64).collect(),
                [ROWS],
            ),
            &device,
        );
        group.bench_function(format!("linear 512x256x1024 {mode}"), |b| {
            b.iter(|| run(kernels::linear(x.clone(), w.clone()).unwrap()));
        });
        group.bench_function(format!("rms_norm 512x256 {mode}"), |b| {
            b.iter(|| run(kernels::rms_norm(x.clone(), gamma.clone(), 1e-5).unwrap()));
        });
        group.bench_function(format!("layer_norm 512x256 {mode}"), |b| {
            b.iter(|| {
                run(kernels::layer_norm(x.clone(), gamma.clone(), beta.clone(), 1e-5).unwrap())
            });
        });
        group.bench_function(format!("gelu 512x1024 {mode}"), |b| {
            b.iter(|| run(kernels::gelu(gate.clone()).unwrap()));
        });
        group.bench_function(format!("swiglu 512x1024 {mode}"), |b| {
            b.iter(|| run(kernels::swiglu(gate.clone(), up.clone()).unwrap()));
        });
        group.bench_function(format!("geglu 512x1024 {mode}"), |b| {
            b.iter(|| run(kernels::geglu(gate.clone(), up.clone()).unwrap()));
        });
        group.bench_function(format!("softcap 512x4096 {mode}"), |b| {
            b.iter(|| run(kernels::softcap(logits.clone(), 30.0).unwrap()));
        });
        group.bench_function(format!("cross_entropy 512x4096 {mode}"), |b| {
            b.iter(|| {
                let nll = kernels::cross_entropy(logits.clone(), targets.clone())
                    .unwrap()
                    .narrow(1, 0, 1);
                run(nll);
            });
        });
        let (bt, h, kvh, d) = ((4, 128), 8, 4, 32);
        let q = tensor([bt.0, bt.1, h, d], 8, &device);
        let k = tensor([bt.0, bt.1, kvh, d], 9, &device);
        let v = tensor([bt.0, bt.1, kvh, d], 10, &device);
        let cos = tensor([bt.0, bt.1, d / 2], 11, &device);
        let sin = tensor([bt.0, bt.1, d / 2], 12, &device);
        group.bench_function(format!("attention 4x128 8/4 heads rope {mode}"), |b| {
            b.iter(|| {
                let out = kernels::attention(
                    q.clone(),
                    k.clone(),
                    v.clone(),
                    Some((cos.clone(), sin.clone())),
                    None,
                )
                .unwrap();
                run(out.reshape([bt.0 * bt.1, h * d]));
            });
        });
    }
    group.finish();
}

/// One AdamW step of a 1M-parameter tensor with its moments.
fn adamw(c: &mut Criterion) {
    let device = Device::flex();
    let n = 1 << 20;
    let optim = AdamW::new(0.9, 0.95, 1e-8, 0.1);
    let param = tensor([n], 13, &device);
    let grad = tensor([n], 14, &device);
    let (_, state) = optim.step(1e-3, param.clone(), grad.clone(), None);
    let mut group = c.benchmark_group("optimizer");
    group.sample_size(20);
    // Fresh buffers for every step (made outside the timing), so the step
    // updates them in place as in training rather than copying shared ones.
    let unique = |t: &Tensor<1>| Tensor::<1>::from_data(t.to_data(), &device);
    group.bench_function("adamw step 1M params", |b| {
        b.iter_batched(
            || {
                let s = state.clone().map(|mut s| {
                    s.0.momentum.moment_1 = unique(&s.0.momentum.moment_1);
                    s.0.momentum.moment_2 = unique(&s.0.momentum.moment_2);
                    s
                });
                (unique(&param), unique(&grad), s)
            },
            |(p, g, s)| std::hint::black_box(optim.step(1e-3, p, g, s)),
            criterion::BatchSize::LargeInput,
        );
    });
    group.finish();
}

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

criterion_group!(benches, kernels, adamw, step, generation);
criterion_main!(benches);
