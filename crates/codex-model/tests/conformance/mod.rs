//! The transformers conformance checks, shared by codex-model's `backends`
//! test and by codex-train's `bench_train` example (`--conformance`), which
//! carries them to the GPU check so that the bundle holds two programs, not
//! three (each links burn's GPU stack and a static LLVM).
//!
//! On one backend: every fixture of `tests/data/model` (or
//! `CODEX_MODEL_FIXTURES`) gives transformers' logits within a tolerance and
//! its greedy tokens with and without the cache, and a training step's
//! backward pass reaches every layer.
#![allow(
    clippy::print_stderr,
    reason = "the checks report per-backend distances to the reference"
)]

use std::path::Path;

use codex_model::burn::tensor::{Device, Int, Tensor, TensorData};
use codex_model::{
    Backend, GenerateOptions, RandomInit, Transformer, compiled_backends, cross_entropy, generate,
    import_hf,
};
use serde::Deserialize;

#[derive(Deserialize)]
struct Golden {
    inputs: Vec<Vec<i64>>,
    logits: Vec<f32>,
    prompts: Vec<Vec<u32>>,
    greedy: Vec<Vec<u32>>,
}

fn body(backend: Backend, device: &Device) {
    let root = std::env::var_os("CODEX_MODEL_FIXTURES").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/model"),
        std::path::PathBuf::from,
    );
    // GPU matmuls may accumulate in a different order (or TF32); 1e-3 still
    // separates a correct model from a wrong one by orders of magnitude.
    let tolerance = match backend {
        Backend::Flex | Backend::NdArray => 1e-4,
        Backend::Wgpu | Backend::Cuda => 1e-3,
    };
    for name in [
        "gpt2",
        "llama-gqa-tied",
        "llama-mha-untied-sharded",
        "llama3-scaled",
        "qwen2-window",
        "qwen3",
        "mistral-window",
        "phi3-partial-window",
        "gemma2-softcap-window",
    ] {
        let dir = root.join(name);
        let g: Golden =
            serde_json::from_str(&std::fs::read_to_string(dir.join("golden.json")).unwrap())
                .unwrap();
        let model = import_hf(&dir, device).unwrap();
        let (b, t) = (g.inputs.len(), g.inputs[0].len());
        let flat: Vec<i64> = g.inputs.iter().flatten().copied().collect();
        let tokens = Tensor::<2, Int>::from_data(TensorData::new(flat, [b, t]), device);
        let ours: Vec<f32> = model
            .forward(tokens)
            .unwrap()
            .into_data()
            .convert::<f32>()
            .try_to_vec()
            .unwrap();
        let worst = ours
            .iter()
            .zip(&g.logits)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        eprintln!("{backend:?} {name}: max |codex - transformers| = {worst:e}");
        assert!(worst < tolerance, "{backend:?} {name}: {worst}");
        for use_cache in [true, false] {
            let options = GenerateOptions {
                max_new_tokens: g.greedy[0].len(),
                use_cache,
                ..GenerateOptions::default()
            };
            let out: Vec<Vec<u32>> = generate(&model, &g.prompts, &options)
                .unwrap()
                .into_iter()
                .map(|o| o.tokens)
                .collect();
            assert_eq!(out, g.greedy, "{backend:?} {name} cache {use_cache}");
        }
    }
    // A training step's backward pass reaches every layer.
    let config = codex_model::architectures()
        .get("llama-tiny")
        .unwrap()
        .value
        .clone();
    let ad = device.clone().autodiff();
    let model = Transformer::build(&config, &mut RandomInit::new(3), &ad).unwrap();
    let x: Vec<i64> = (0..33).map(|i| (i * 7 % 100) as i64).collect();
    let x = Tensor::<2, Int>::from_data(TensorData::new(x, [1, 33]), &ad);
    let out = cross_entropy(
        model.forward(x.clone().narrow(1, 0, 32)).unwrap(),
        x.narrow(1, 1, 32),
        None,
    );
    let loss: f32 = out
        .loss
        .clone()
        .into_data()
        .convert::<f32>()
        .try_to_vec()
        .unwrap()[0];
    assert!(
        (loss - (config.vocab_size as f32).ln()).abs() < 0.5,
        "{backend:?} initial loss {loss}"
    );
    let grads = out.loss.backward();
    assert!(
        model.blocks[0]
            .attn
            .q_proj
            .base
            .weight
            .val()
            .grad(&grads)
            .is_some()
    );
}

/// Runs the checks on every backend this build compiles (`CODEX_TEST_BACKEND`
/// picks one; `CODEX_TEST_SKIP_MISSING_GPU=1` skips a compiled GPU backend
/// without a device). Panics on the first mismatch.
pub(crate) fn check_compiled_backends() {
    let skip_missing = std::env::var("CODEX_TEST_SKIP_MISSING_GPU").as_deref() == Ok("1");
    let only = std::env::var("CODEX_TEST_BACKEND").ok();
    if let Some(name) = &only {
        assert!(
            compiled_backends().iter().any(|b| b.feature() == name),
            "CODEX_TEST_BACKEND={name} is not compiled into this test (compiled: {:?})",
            compiled_backends()
        );
    }
    for backend in compiled_backends() {
        if only
            .as_deref()
            .is_some_and(|name| name != backend.feature())
        {
            continue;
        }
        if backend == Backend::Cuda && codex_core::nvidia_gpus().is_empty() && skip_missing {
            eprintln!("cuda is compiled in but no NVIDIA GPU is visible: skipped");
            continue;
        }
        let device = backend.device(None).unwrap();
        body(backend, &device);
    }
}
