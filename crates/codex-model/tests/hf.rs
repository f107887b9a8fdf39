//! Conformance with Hugging Face `transformers`: logits and greedy generations of
//! tiny random models, made by `scripts/goldens/model_goldens.py` and committed.
#![allow(
    clippy::print_stderr,
    reason = "tests report the measured distance to the reference"
)]

use std::path::{Path, PathBuf};

use burn::tensor::{Device, Int, Tensor, TensorData};
use codex_model::{
    GenerateOptions, ModelError, RandomInit, Transformer, export_hf, generate, import_hf,
    read_hf_config,
};
use serde::Deserialize;

#[derive(Deserialize)]
struct Golden {
    inputs: Vec<Vec<i64>>,
    logits_shape: Vec<usize>,
    logits: Vec<f32>,
    prompts: Vec<Vec<u32>>,
    greedy: Vec<Vec<u32>>,
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/model")
}

fn golden(dir: &Path) -> Golden {
    let text = std::fs::read_to_string(dir.join("golden.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The first compiled backend (`auto`); `tests/backends.rs` runs on each of them.
fn device() -> Device {
    codex_model::DeviceSpec::Auto.device().unwrap()
}

fn logits(model: &Transformer, inputs: &[Vec<i64>]) -> Vec<f32> {
    let (b, t) = (inputs.len(), inputs[0].len());
    let flat: Vec<i64> = inputs.iter().flatten().copied().collect();
    let tokens = Tensor::<2, Int>::from_data(TensorData::new(flat, [b, t]), &device());
    model
        .forward(tokens)
        .unwrap()
        .into_data()
        .try_to_vec::<f32>()
        .unwrap()
}

fn check(name: &str) {
    let dir = fixtures().join(name);
    let g = golden(&dir);
    let model = import_hf(&dir, &device()).unwrap();
    let ours = logits(&model, &g.inputs);
    assert_eq!(ours.len(), g.logits_shape.iter().product::<usize>());
    let worst = ours
        .iter()
        .zip(&g.logits)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    eprintln!("{name}: max |codex - transformers| = {worst:e}");
    assert!(worst < 1e-4, "{name}: max |codex - transformers| = {worst}");
    for cache in [true, false] {
        let options = GenerateOptions {
            max_new_tokens: g.greedy[0].len(),
            use_cache: cache,
            ..GenerateOptions::default()
        };
        let out = generate(&model, &g.prompts, &options).unwrap();
        let tokens: Vec<Vec<u32>> = out.into_iter().map(|o| o.tokens).collect();
        assert_eq!(
            tokens, g.greedy,
            "{name}: greedy generation (cache {cache})"
        );
    }
}

#[test]
fn gpt2_matches_transformers() {
    check("gpt2");
}

#[test]
fn llama_gqa_tied_matches_transformers() {
    check("llama-gqa-tied");
}

#[test]
fn llama_untied_from_shards_matches_transformers() {
    check("llama-mha-untied-sharded");
}

/// The export round trip: models written by `examples/export_fixture.rs`, loaded
/// by transformers (its logits and generations are the golden), imported back here.
#[test]
fn exported_gpt2_loads_in_transformers_with_the_same_logits() {
    check("export/gpt2");
    reexport_is_identical("export/gpt2");
}

#[test]
fn exported_llama_loads_in_transformers_with_the_same_logits() {
    check("export/llama");
    reexport_is_identical("export/llama");
}

/// Export is deterministic and lossless: rebuilding the fixture model from its
/// seed, and importing and re-exporting the file, both give the committed bytes.
fn reexport_is_identical(name: &str) {
    let dir = fixtures().join(name);
    let committed = std::fs::read(dir.join("model.safetensors")).unwrap();
    let config = read_hf_config(&dir.join("config.json")).unwrap();
    let rebuilt =
        Transformer::build(&config, &mut RandomInit::scaled(42, 10.0), &device()).unwrap();
    let imported = import_hf(&dir, &device()).unwrap();
    for model in [rebuilt, imported] {
        let tmp = tempfile::tempdir().unwrap();
        export_hf(&model, tmp.path()).unwrap();
        let bytes = std::fs::read(tmp.path().join("model.safetensors")).unwrap();
        assert!(bytes == committed, "{name}: re-exported safetensors differ");
        let config_json = std::fs::read_to_string(tmp.path().join("config.json")).unwrap();
        assert_eq!(
            config_json,
            std::fs::read_to_string(dir.join("config.json")).unwrap()
        );
    }
}

fn copy_fixture(name: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(fixtures().join(name)).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), tmp.path().join(entry.file_name())).unwrap();
    }
    tmp
}

#[test]
fn unsupported_model_type_names_the_supported_ones() {
    let tmp = copy_fixture("gpt2");
    let path = tmp.path().join("config.json");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("\"gpt2\"", "\"mistral\"")).unwrap();
    let err = import_hf(tmp.path(), &device()).unwrap_err();
    assert!(matches!(err, ModelError::UnsupportedModelType { .. }));
    let msg = err.to_string();
    assert!(
        msg.contains("mistral") && msg.contains("gpt2, llama"),
        "{msg}"
    );
}

#[test]
fn wrong_shape_and_missing_tensor_are_named() {
    // Claim a wider MLP than the weights have: the shape error names the tensor
    // and both shapes.
    let tmp = copy_fixture("llama-gqa-tied");
    let path = tmp.path().join("config.json");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replace("\"intermediate_size\": 88", "\"intermediate_size\": 90"),
    )
    .unwrap();
    let msg = import_hf(tmp.path(), &device()).unwrap_err().to_string();
    assert!(
        msg.contains("model.layers.0.mlp.gate_proj.weight")
            && msg.contains("[88, 32]")
            && msg.contains("[90, 32]"),
        "{msg}"
    );
    // Claim one more layer than the file has: the missing tensor is named.
    std::fs::write(
        &path,
        text.replace("\"num_hidden_layers\": 2", "\"num_hidden_layers\": 3"),
    )
    .unwrap();
    let msg = import_hf(tmp.path(), &device()).unwrap_err().to_string();
    assert!(msg.contains("missing tensor `model.layers.2."), "{msg}");
}

/// A hostile config.json or model.bpk.json cannot make the process abort on
/// an allocation: sizes are bounded and named, and a native record's shape is
/// checked against the bytes on disk before anything is built.
#[test]
fn absurd_sizes_are_refused_by_key_before_allocating() {
    let tmp = copy_fixture("llama-gqa-tied");
    let path = tmp.path().join("config.json");
    let text = std::fs::read_to_string(&path).unwrap();
    for layers in ["100000000000", "1152921504606846976"] {
        std::fs::write(
            &path,
            text.replace(
                "\"num_hidden_layers\": 2",
                &format!("\"num_hidden_layers\": {layers}"),
            ),
        )
        .unwrap();
        let msg = import_hf(tmp.path(), &device()).unwrap_err().to_string();
        assert!(
            msg.contains("n_layer") && msg.contains(&format!("got {layers}")),
            "{msg}"
        );
    }
    std::fs::write(
        &path,
        text.replace("\"vocab_size\": 96", "\"vocab_size\": 4611686018427387904"),
    )
    .unwrap();
    let msg = import_hf(tmp.path(), &device()).unwrap_err().to_string();
    assert!(msg.contains("vocab_size"), "{msg}");

    // A native model whose metadata claims far more than its record holds.
    std::fs::write(&path, &text).unwrap();
    let model = import_hf(tmp.path(), &device()).unwrap();
    let native = tmp.path().join("model.bpk");
    codex_model::save_native(&model, &native).unwrap();
    let meta = tmp.path().join("model.bpk.json");
    let m = std::fs::read_to_string(&meta).unwrap();
    let grown = m.replacen("\"n_layer\": 2", "\"n_layer\": 4000", 1);
    assert_ne!(grown, m, "{m}");
    std::fs::write(&meta, grown).unwrap();
    let msg = codex_model::load_native(&native, &device())
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("parameters but") && msg.contains("bytes"),
        "{msg}"
    );
}

#[test]
fn too_long_a_sequence_is_an_error() {
    let model = import_hf(&fixtures().join("gpt2"), &device()).unwrap();
    let tokens = Tensor::<2, Int>::zeros([1, 33], &device());
    let err = model.forward(tokens).unwrap_err();
    assert!(
        err.to_string().contains("33 positions") && err.to_string().contains("(32)"),
        "{err}"
    );
    let options = GenerateOptions {
        max_new_tokens: 30,
        ..GenerateOptions::default()
    };
    assert!(matches!(
        generate(&model, &[vec![1, 2, 3]], &options),
        Err(ModelError::SequenceTooLong { len: 33, max: 32 })
    ));
}
