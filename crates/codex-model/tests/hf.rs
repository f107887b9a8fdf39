//! Conformance with Hugging Face `transformers`: logits and greedy generations of
//! tiny random models, made by `scripts/goldens/model_goldens.py` and committed.
#![allow(
    clippy::print_stderr,
    reason = "tests report the measured distance to the reference"
)]

use std::path::{Path, PathBuf};

use burn::tensor::{Bool, Device, Int, Tensor, TensorData};
use codex_model::{
    ForwardOptions, GenerateOptions, ModelError, RandomInit, Transformer, export_hf, generate,
    import_hf, read_hf_config,
};
use serde::Deserialize;

#[derive(Deserialize)]
struct Golden {
    inputs: Vec<Vec<i64>>,
    logits_shape: Vec<usize>,
    logits: Vec<f32>,
    prompts: Vec<Vec<u32>>,
    greedy: Vec<Vec<u32>>,
    /// The inputs left-padded, with transformers' logits on the real tokens.
    padded: Option<Padded>,
}

#[derive(Deserialize)]
struct Padded {
    inputs: Vec<Vec<i64>>,
    mask: Vec<Vec<i64>>,
    positions: Vec<Vec<i64>>,
    logits: Vec<f32>,
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

fn ints(rows: &[Vec<i64>]) -> Tensor<2, Int> {
    let (b, t) = (rows.len(), rows[0].len());
    let flat: Vec<i64> = rows.iter().flatten().copied().collect();
    Tensor::<2, Int>::from_data(TensorData::new(flat, [b, t]), &device())
}

/// The padded batch through `forward_with` (positions counting real tokens,
/// padding keys masked): the logits of every real token match transformers'.
fn check_padded(name: &str, model: &Transformer, p: &Padded) {
    let (b, t) = (p.inputs.len(), p.inputs[0].len());
    let pad: Vec<bool> = p.mask.iter().flatten().map(|&m| m == 0).collect();
    let options = ForwardOptions {
        positions: Some(ints(&p.positions)),
        key_padding: Some(Tensor::<2, Bool>::from_data(
            TensorData::new(pad, [b, t]),
            &device(),
        )),
        ..ForwardOptions::default()
    };
    let ours = model
        .forward_with(ints(&p.inputs), options)
        .unwrap()
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    let vocab = ours.len() / (b * t);
    let mut worst = 0.0f32;
    for (row, &m) in p.mask.iter().flatten().enumerate() {
        if m == 1 {
            let span = row * vocab..(row + 1) * vocab;
            for (a, b) in ours[span.clone()].iter().zip(&p.logits[span]) {
                worst = worst.max((a - b).abs());
            }
        }
    }
    eprintln!("{name}: padded batch, max |codex - transformers| = {worst:e}");
    assert!(
        worst < 1e-4,
        "{name}: padded batch, max |codex - transformers| = {worst}"
    );
}

fn check(name: &str) {
    let dir = fixtures().join(name);
    let g = golden(&dir);
    let model = import_hf(&dir, &device()).unwrap();
    if let Some(p) = &g.padded {
        check_padded(name, &model, p);
    }
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

/// Llama 3 rope scaling, read past `original_max_position_embeddings` (32)
/// with 48 positions: every band of the llama3 rule is in use.
#[test]
fn llama3_rope_scaling_matches_transformers_past_the_original_context() {
    check("llama3-scaled");
}

#[test]
fn llama_with_biases_head_dim_and_linear_rope_matches_transformers() {
    check("llama-bias-headdim-linear");
}

/// Dynamic NTK scaling over 24 positions of a model trained on 16.
#[test]
fn llama_dynamic_rope_matches_transformers_past_the_trained_context() {
    let config = read_hf_config(&fixtures().join("llama-dynamic/config.json")).unwrap();
    assert_eq!(config.context_length, 32, "factor 2 over 16 positions");
    check("llama-dynamic");
}

#[test]
fn qwen2_matches_transformers() {
    check("qwen2");
}

/// Qwen2 with `use_sliding_window` and `max_window_layers` 1: the second
/// layer attends through a window of 6 over 24 positions.
#[test]
fn qwen2_sliding_window_layers_match_transformers() {
    let config = read_hf_config(&fixtures().join("qwen2-window/config.json")).unwrap();
    assert_eq!(
        (config.window(0), config.window(1)),
        (None, Some(6)),
        "{config:?}"
    );
    check("qwen2-window");
}

#[test]
fn qwen3_matches_transformers() {
    check("qwen3");
}

/// Phi-3: fused `qkv_proj` and `gate_up_proj`, half of each head rotating
/// (`partial_rotary_factor` 0.5) and a window of 7 over 24 positions.
#[test]
fn phi3_fused_projections_partial_rotation_and_window_match_transformers() {
    let config = read_hf_config(&fixtures().join("phi3-partial-window/config.json")).unwrap();
    assert_eq!(
        (config.rotary_dim(), config.head_dim(), config.window(0)),
        (8, 16, Some(7))
    );
    check("phi3-partial-window");
}

/// Gemma 2 with soft caps that bind (scores at 1.0, logits at 3.0), a
/// `query_pre_attn_scalar` of 12 over heads of 16, and a window of 5 on the
/// first of two layers, over 24 positions.
#[test]
fn gemma2_soft_caps_scale_and_window_match_transformers() {
    let config = read_hf_config(&fixtures().join("gemma2-softcap-window/config.json")).unwrap();
    let v = &config.variant;
    assert_eq!(
        (v.attn_softcap, v.final_softcap, v.query_pre_attn_scalar),
        (Some(1.0), Some(3.0), Some(12.0))
    );
    assert_eq!((config.window(0), config.window(1)), (Some(5), None));
    check("gemma2-softcap-window");
}

/// Checkpoints stored in bfloat16 (Qwen3) and float16 (Gemma 2) import
/// into f32 exactly, against transformers computing in f32 from the same
/// rounded weights.
#[test]
fn half_precision_checkpoints_import_exactly() {
    for (name, dtype) in [("qwen3-bf16", "BF16"), ("gemma2-f16", "F16")] {
        let summary = codex_model::summarize_hf(&fixtures().join(name)).unwrap();
        assert_eq!(
            summary.dtypes.keys().collect::<Vec<_>>(),
            vec![dtype],
            "{name}"
        );
        check(name);
    }
}

/// Mistral with a window of 5 over 24 positions and 32 generated tokens.
#[test]
fn mistral_sliding_window_matches_transformers() {
    check("mistral-window");
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

/// Llama 3 scaling with every bias, Qwen2 with a sliding-window layer,
/// Qwen3 with its head norms and own head_dim, Mistral with a window: each
/// export loads in transformers with no missing or unexpected key.
#[test]
fn exported_rotary_variants_load_in_transformers_with_the_same_logits() {
    for name in ["llama3", "qwen2", "qwen3", "mistral", "phi3", "gemma2"] {
        let name = format!("export/{name}");
        let text = std::fs::read_to_string(fixtures().join(&name).join("golden.json")).unwrap();
        let info: serde_json::Value = serde_json::from_str(&text).unwrap();
        let info = &info["loading_info"];
        assert!(info.is_object(), "{name}: no loading_info");
        for (key, value) in info.as_object().unwrap() {
            assert_eq!(
                value.as_array().map(Vec::len),
                Some(0),
                "{name}: {key} {value}"
            );
        }
        check(&name);
        reexport_is_identical(&name);
    }
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
    std::fs::write(&path, text.replace("\"gpt2\"", "\"mamba\"")).unwrap();
    let err = import_hf(tmp.path(), &device()).unwrap_err();
    assert!(matches!(err, ModelError::UnsupportedModelType { .. }));
    assert!(err.is_bad_input());
    let msg = err.to_string();
    assert!(
        msg.contains("mamba") && msg.contains("gpt2, llama, qwen2, qwen3, mistral, phi3, gemma2"),
        "{msg}"
    );
}

/// What codex does not compute is refused by key and value, never ignored.
#[test]
fn unknown_rope_types_and_partial_rotation_are_refused_by_name() {
    let tmp = copy_fixture("llama3-scaled");
    let path = tmp.path().join("config.json");
    let text = std::fs::read_to_string(&path).unwrap();
    for (from, to, expect) in [
        (
            "\"rope_type\": \"llama3\"",
            "\"rope_type\": \"yarn\"",
            "`rope_parameters.rope_type` `yarn` is not supported",
        ),
        (
            "\"rope_type\": \"llama3\"",
            "\"rope_type\": \"llama3\", \"partial_rotary_factor\": 0.5",
            "partial_rotary_factor `0.5`",
        ),
        (
            "\"low_freq_factor\": 1.0,",
            "",
            "missing key `rope_parameters.low_freq_factor`",
        ),
        (
            "\"hidden_act\": \"silu\"",
            "\"hidden_act\": \"gelu\"",
            "hidden_act `gelu`",
        ),
    ] {
        let changed = text.replace(from, to);
        assert_ne!(changed, text, "{from}");
        std::fs::write(&path, changed).unwrap();
        let err = import_hf(tmp.path(), &device()).unwrap_err();
        assert!(err.is_bad_input(), "{err}");
        let msg = err.to_string();
        assert!(msg.contains(expect), "{msg}");
    }
}

/// Every new family survives codex → safetensors → codex bit for bit, with
/// the config.json it writes read back to the same shape.
#[test]
fn every_family_exports_and_reimports_exactly() {
    for name in [
        "llama3-scaled",
        "llama-bias-headdim-linear",
        "llama-dynamic",
        "qwen2",
        "qwen2-window",
        "qwen3",
        "mistral-window",
        "phi3-partial-window",
        "gemma2-softcap-window",
    ] {
        let model = import_hf(&fixtures().join(name), &device()).unwrap();
        let tmp = tempfile::tempdir().unwrap();
        export_hf(&model, tmp.path()).unwrap();
        let back = import_hf(tmp.path(), &device()).unwrap();
        assert_eq!(back.config(), model.config(), "{name}");
        let g = golden(&fixtures().join(name));
        assert_eq!(
            logits(&back, &g.inputs),
            logits(&model, &g.inputs),
            "{name}"
        );
    }
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
