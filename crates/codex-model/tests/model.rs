//! The transformer's own contracts: cache and batching do not change results,
//! LoRA merges exactly and saves small, native records round-trip, gradients flow.

use burn::module::{Module, Param};
use burn::tensor::{Bool, Device, FloatDType, Int, Tensor, TensorData};
use codex_core::config::ModelFamily;
use codex_model::{
    ForwardOptions, GenerateOptions, LoraConfig, LoraTarget, ModelConfig, RandomInit, RopeScaling,
    Transformer, Variant, cross_entropy, export_hf, generate, load_native, save_native,
};

/// The first compiled backend (`auto`); `tests/backends.rs` runs on each of them.
fn device() -> Device {
    codex_model::DeviceSpec::Auto.device().unwrap()
}

fn config(family: ModelFamily, tie: bool) -> ModelConfig {
    ModelConfig {
        family,
        vocab_size: 64,
        n_layer: 2,
        n_head: 4,
        n_kv_head: if family == ModelFamily::Llama { 2 } else { 4 },
        d_model: 32,
        d_ff: 64,
        context_length: 48,
        dropout: 0.0,
        rope_theta: 10_000.0,
        tie_embeddings: tie,
        norm_eps: 1e-5,
        variant: Default::default(),
    }
}

/// GPT-2, Llama, and one model per rotary variant: Llama 3 scaling with
/// biases, Qwen2's q/k/v biases, Qwen3's head norms with a head_dim of its
/// own, Mistral's sliding window (4, shorter than the test sequences),
/// Phi-3's partial rotation, Gemma 2's soft caps, scale and extra norms.
fn families() -> Vec<ModelConfig> {
    let rotary = |family, variant| ModelConfig {
        family,
        variant,
        ..config(ModelFamily::Llama, false)
    };
    vec![
        config(ModelFamily::Gpt2, true),
        config(ModelFamily::Llama, false),
        rotary(
            ModelFamily::Llama,
            Variant {
                rope_scaling: RopeScaling::Llama3 {
                    factor: 8.0,
                    low_freq_factor: 1.0,
                    high_freq_factor: 4.0,
                    original_max_position_embeddings: 8,
                },
                qkv_bias: true,
                o_bias: true,
                mlp_bias: true,
                ..Variant::default()
            },
        ),
        rotary(ModelFamily::Qwen2, Variant::for_family(ModelFamily::Qwen2)),
        rotary(
            ModelFamily::Qwen3,
            Variant {
                head_dim: Some(16),
                ..Variant::for_family(ModelFamily::Qwen3)
            },
        ),
        rotary(
            ModelFamily::Mistral,
            Variant {
                sliding_window: Some(4),
                ..Variant::default()
            },
        ),
        rotary(
            ModelFamily::Phi3,
            Variant {
                rotary_dim: Some(4),
                ..Variant::default()
            },
        ),
        rotary(
            ModelFamily::Gemma2,
            Variant {
                query_pre_attn_scalar: Some(6.0),
                attn_softcap: Some(2.0),
                final_softcap: Some(5.0),
                ..Variant::default()
            },
        ),
    ]
}

/// The families whose results do not depend on left padding: a sliding
/// window counts padding slots as positions (as transformers does), so a
/// windowed model reads a padded prompt differently by design.
fn unwindowed() -> Vec<ModelConfig> {
    families()
        .into_iter()
        .filter(|c| c.variant.sliding_window.is_none())
        .collect()
}

fn model(c: &ModelConfig) -> Transformer {
    Transformer::build(c, &mut RandomInit::scaled(7, 10.0), &device()).unwrap()
}

fn tokens(rows: &[Vec<i64>], device: &Device) -> Tensor<2, Int> {
    let flat: Vec<i64> = rows.iter().flatten().copied().collect();
    Tensor::from_data(TensorData::new(flat, [rows.len(), rows[0].len()]), device)
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().unwrap()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

const INPUT: [i64; 10] = [5, 9, 1, 33, 60, 2, 2, 17, 40, 11];

fn logits(m: &Transformer) -> Vec<f32> {
    values(m.forward(tokens(&[INPUT.to_vec()], &device())).unwrap())
}

#[test]
fn parameter_count_matches_the_module() {
    for c in families() {
        assert_eq!(
            model(&c).num_params(),
            c.param_counts().total(),
            "{:?}",
            c.family
        );
    }
}

#[test]
fn sampled_generation_is_the_same_with_and_without_the_cache() {
    for c in families() {
        let m = model(&c);
        let prompts = vec![vec![1, 2, 3, 4], vec![9, 8]];
        let run = |use_cache| {
            let options = GenerateOptions {
                max_new_tokens: 20,
                temperature: 0.9,
                top_k: Some(20),
                top_p: Some(0.95),
                repetition_penalty: 1.3,
                seed: 11,
                use_cache,
                ..GenerateOptions::default()
            };
            generate(&m, &prompts, &options).unwrap()
        };
        assert_eq!(run(true), run(false), "{:?}", c.family);
    }
}

#[test]
fn a_prompt_continues_the_same_alone_or_left_padded_in_a_batch() {
    for c in unwindowed() {
        let m = model(&c);
        let prompts = vec![vec![1, 2, 3, 4, 5, 6], vec![9, 8], vec![30, 31, 32]];
        let options = GenerateOptions {
            max_new_tokens: 12,
            stop_tokens: vec![63],
            ..GenerateOptions::default()
        };
        let batch = generate(&m, &prompts, &options).unwrap();
        for (prompt, together) in prompts.iter().zip(&batch) {
            let alone = generate(&m, std::slice::from_ref(prompt), &options).unwrap();
            assert_eq!(&alone[0], together, "{:?} {prompt:?}", c.family);
        }
    }
}

#[test]
fn padding_mask_leaves_real_positions_unchanged() {
    for c in unwindowed() {
        let m = model(&c);
        let d = device();
        let plain = values(m.forward(tokens(&[INPUT.to_vec()], &d)).unwrap());
        let mut padded = vec![0i64; 3];
        padded.extend(INPUT);
        let positions: Vec<i64> = [0, 0, 0].into_iter().chain(0..10).collect();
        let pad: Vec<bool> = (0..13).map(|i| i < 3).collect();
        let out = m
            .forward_with(
                tokens(&[padded], &d),
                ForwardOptions {
                    positions: Some(tokens(&[positions], &d)),
                    key_padding: Some(Tensor::<2, Bool>::from_data(
                        TensorData::new(pad, [1, 13]),
                        &d,
                    )),
                    cache: None,
                    segment_starts: None,
                },
            )
            .unwrap();
        let v = c.vocab_size;
        let real = values(out.narrow(1, 3, 10));
        assert!(max_diff(&plain, &real) < 1e-4, "{:?}", c.family);
        assert_eq!(real.len(), 10 * v);
    }
}

#[test]
fn cross_entropy_ignores_the_ignore_index() {
    let d = device();
    let logits = Tensor::<3>::from_data(
        TensorData::new(
            vec![2.0f32, 0.0, 0.0, 0.0, 1.0, 3.0, 5.0, 0.0, 0.0],
            [1, 3, 3],
        ),
        &d,
    );
    let targets = tokens(&[vec![0, 2, -100]], &d);
    let out = cross_entropy(logits, targets, Some(-100));
    let lse = |xs: [f64; 3]| xs.iter().map(|x| x.exp()).sum::<f64>().ln();
    let expected = ((lse([2.0, 0.0, 0.0]) - 2.0) + (lse([0.0, 1.0, 3.0]) - 3.0)) / 2.0;
    assert!((f64::from(values(out.loss)[0]) - expected).abs() < 1e-6);
    assert_eq!(
        out.count
            .into_data()
            .convert::<i64>()
            .try_to_vec::<i64>()
            .unwrap(),
        [2]
    );
    assert_eq!(
        out.correct
            .into_data()
            .convert::<i64>()
            .try_to_vec::<i64>()
            .unwrap(),
        [2]
    );
}

fn perturb_adapters(m: &mut Transformer) {
    // Fresh adapters have B = 0; give them values so merging has work to do.
    for (i, block) in m.blocks.iter_mut().enumerate() {
        for proj in [
            &mut block.attn.q_proj,
            &mut block.attn.v_proj,
            &mut block.mlp.down_proj,
        ] {
            let adapter = proj
                .lora
                .as_mut()
                .expect("targeted projection has an adapter");
            let [r, d_out] = adapter.b.val().dims();
            let vals: Vec<f32> = (0..r * d_out)
                .map(|j| (((i * 31 + j) % 17) as f32 - 8.0) * 0.05)
                .collect();
            adapter.b = Param::from_tensor(Tensor::from_data(
                TensorData::new(vals, [r, d_out]),
                &device(),
            ));
        }
    }
}

fn lora() -> LoraConfig {
    LoraConfig {
        rank: 4,
        alpha: 8.0,
        dropout: 0.1,
        targets: vec![LoraTarget::Q, LoraTarget::V, LoraTarget::Mlp],
    }
}

/// PEFT's projection names and Phi-3's fused ones name codex's split
/// projections: `qkv_proj` and `gate_up_proj` adapt q, k, v, gate and up,
/// not o or down.
#[test]
fn lora_targets_read_hugging_face_and_fused_projection_names() {
    let mut targets = Vec::new();
    for name in ["qkv_proj", "gate_up_proj"] {
        targets.extend(LoraTarget::parse_names(name).unwrap());
    }
    let phi3 = families()
        .into_iter()
        .find(|c| c.family == ModelFamily::Phi3)
        .unwrap();
    let m = model(&phi3)
        .attach_lora(&LoraConfig { targets, ..lora() }, 3)
        .unwrap();
    let (a, f) = (&m.blocks[0].attn, &m.blocks[0].mlp);
    let adapted = |p: &codex_model::Proj| p.lora.is_some();
    assert!(adapted(&a.q_proj) && adapted(&a.k_proj) && adapted(&a.v_proj));
    assert!(adapted(f.gate_proj.as_ref().unwrap()) && adapted(&f.up_proj));
    assert!(!adapted(&a.o_proj) && !adapted(&f.down_proj));
    let err = "gate_up_proj"
        .parse::<LoraTarget>()
        .unwrap_err()
        .to_string();
    assert!(err.contains("several targets"), "{err}");
    let err = LoraTarget::parse_names("w_proj").unwrap_err().to_string();
    assert!(
        err.contains("w_proj") && err.contains("gate_up_proj"),
        "{err}"
    );
}

#[test]
fn lora_merged_equals_unmerged_and_unmerge_restores_the_base() {
    for c in families() {
        let base = model(&c);
        let base_logits = logits(&base);
        let mut adapted = base.attach_lora(&lora(), 3).unwrap();
        assert!(
            max_diff(&logits(&adapted), &base_logits) < 1e-6,
            "B = 0 changes nothing"
        );
        perturb_adapters(&mut adapted);
        let unmerged = logits(&adapted);
        assert!(
            max_diff(&unmerged, &base_logits) > 1e-2,
            "the adapters do something"
        );
        let merged_model = adapted.merge_lora();
        let merged = logits(&merged_model);
        assert!(max_diff(&merged, &unmerged) < 1e-4, "{:?}", c.family);
        let restored = logits(&merged_model.unmerge_lora());
        assert!(max_diff(&restored, &unmerged) < 1e-4);
    }
}

#[test]
fn lora_adapters_save_small_and_load_onto_a_fresh_base() {
    let c = config(ModelFamily::Llama, false);
    let mut adapted = model(&c).attach_lora(&lora(), 3).unwrap();
    perturb_adapters(&mut adapted);
    let expected = logits(&adapted);
    let tmp = tempfile::tempdir().unwrap();
    let adapter_path = tmp.path().join("adapter.safetensors");
    adapted.save_lora(&adapter_path).unwrap();
    export_hf(&model(&c), &tmp.path().join("base")).unwrap();
    let adapter_size = std::fs::metadata(&adapter_path).unwrap().len();
    let base_size = std::fs::metadata(tmp.path().join("base/model.safetensors"))
        .unwrap()
        .len();
    assert!(
        adapter_size * 4 < base_size,
        "adapter {adapter_size} bytes vs base {base_size}"
    );
    let loaded = model(&c).load_lora(&adapter_path).unwrap();
    assert!(max_diff(&logits(&loaded), &expected) < 1e-6);
    assert_eq!(loaded.lora_config(), Some(&lora()));
}

#[test]
fn adapters_keep_their_parameter_ids_and_leave_the_base_fingerprint_alone() {
    let c = config(ModelFamily::Llama, false);
    let base_print = model(&c).base_fingerprint();
    assert_eq!(model(&c).base_fingerprint(), base_print, "deterministic");
    let other = Transformer::build(&c, &mut RandomInit::new(99), &device()).unwrap();
    assert_ne!(other.base_fingerprint(), base_print, "other weights");

    let mut adapted = model(&c).attach_lora(&lora(), 3).unwrap();
    perturb_adapters(&mut adapted);
    assert_eq!(
        adapted.base_fingerprint(),
        base_print,
        "adapters are not part of the base"
    );
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("adapter.safetensors");
    adapted.save_lora(&path).unwrap();
    let loaded = model(&c).load_lora(&path).unwrap();
    let q = |m: &Transformer| {
        let a = m.blocks[1].attn.q_proj.lora.as_ref().unwrap();
        (a.a.id, a.b.id)
    };
    assert_eq!(
        q(&loaded),
        q(&adapted),
        "optimizer state finds its parameters"
    );
    assert_eq!(loaded.base_fingerprint(), base_print);

    // Merged adapters live in the base weights: they cannot be saved alone.
    let err = adapted.merge_lora().save_lora(&path).unwrap_err();
    assert!(err.to_string().contains("merged"), "{err}");
}

#[test]
fn lora_trains_only_the_adapters() {
    let c = config(ModelFamily::Llama, true);
    let d = device().autodiff();
    let m = Transformer::build(&c, &mut RandomInit::new(1), &d)
        .unwrap()
        .attach_lora(&lora(), 3)
        .unwrap();
    let input = tokens(&[INPUT[..9].to_vec()], &d);
    let target = tokens(&[INPUT[1..].to_vec()], &d);
    let out = cross_entropy(m.forward(input).unwrap(), target, None);
    let grads = out.loss.backward();
    let q = &m.blocks[0].attn.q_proj;
    assert!(q.base.weight.val().grad(&grads).is_none(), "base is frozen");
    let adapter = q.lora.as_ref().unwrap();
    assert!(adapter.a.val().grad(&grads).is_some());
    let gb = values(adapter.b.val().grad(&grads).expect("B is trained"));
    assert!(
        gb.iter().any(|g| *g != 0.0),
        "dL/dB is not zero while A is random"
    );
}

#[test]
fn every_parameter_receives_a_gradient_in_full_training() {
    for c in families() {
        let d = device().autodiff();
        let m = Transformer::build(&c, &mut RandomInit::new(1), &d).unwrap();
        let input = tokens(&[INPUT[..9].to_vec()], &d);
        let target = tokens(&[INPUT[1..].to_vec()], &d);
        let out = cross_entropy(m.forward(input).unwrap(), target, None);
        let grads = out.loss.backward();
        let g = m.blocks[1].mlp.down_proj.base.weight.val().grad(&grads);
        assert!(g.is_some(), "{:?}", c.family);
        assert!(m.wte.weight.val().grad(&grads).is_some());
    }
}

#[test]
fn the_loss_equals_the_cross_entropy_of_the_logits_with_its_gradients() {
    // Gemma 2's final soft cap is folded into the loss kernel; the value and
    // the gradients must be those of capping the logits first.
    for c in families() {
        let d = device().autodiff();
        let m = Transformer::build(&c, &mut RandomInit::new(1), &d).unwrap();
        let input = || tokens(&[INPUT[..9].to_vec()], &d);
        let target = || tokens(&[INPUT[1..].to_vec()], &d);
        let fused = m
            .loss(input(), target(), Some(-100), ForwardOptions::default())
            .unwrap();
        let composed = cross_entropy(m.forward(input()).unwrap(), target(), Some(-100));
        let (a, b) = (values(fused.loss.clone()), values(composed.loss.clone()));
        assert!(max_diff(&a, &b) < 1e-5, "{:?}: {a:?} vs {b:?}", c.family);
        let ga = fused.loss.backward();
        let gb = composed.loss.backward();
        let grad = |g| values(m.wte.weight.val().grad(g).unwrap());
        let diff = max_diff(&grad(&ga), &grad(&gb));
        assert!(
            diff < 1e-5,
            "{:?}: embedding gradient differs by {diff}",
            c.family
        );
    }
}

/// Examples of mixed lengths packed into rows of 16 positions, with
/// positions restarting at each example and the rest of a row padding.
const PACKED: [&[i64]; 4] = [
    &[5, 9, 1, 33, 60, 2],
    &[2, 17, 40],
    &[11, 7, 7, 8, 50, 3, 4, 12, 1],
    &[6, 6, 44, 21, 9],
];

#[test]
fn packed_examples_give_the_losses_and_gradients_of_each_example_alone() {
    // Row 0: examples 0, 1 and 2's first 7 tokens would not fit, so row 0
    // holds 0 and 1 (9 positions) and padding; row 1 holds 2 and 3 (14).
    let rows: [&[usize]; 2] = [&[0, 1], &[2, 3]];
    let width = 16;
    for c in families() {
        let d = device().autodiff();
        let m = Transformer::build(&c, &mut RandomInit::new(3), &d).unwrap();
        let (mut ids, mut targets, mut positions, mut starts) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for row in rows {
            let mut used = 0;
            for &e in row {
                let ex = PACKED[e];
                let n = ex.len() - 1;
                ids.extend(&ex[..n]);
                targets.extend(&ex[1..]);
                positions.extend(0..n as i64);
                starts.extend(std::iter::repeat_n(used as i64, n));
                used += n;
            }
            let pad = width - used;
            ids.extend(std::iter::repeat_n(0, pad));
            targets.extend(std::iter::repeat_n(-100, pad));
            positions.extend(0..pad as i64);
            starts.extend(std::iter::repeat_n(used as i64, pad));
        }
        let two = |v: Vec<i64>| Tensor::<2, Int>::from_data(TensorData::new(v, [2, width]), &d);
        // Per token: each packed position's logits are its example's alone.
        let logits = values(
            m.forward_with(
                two(ids.clone()),
                ForwardOptions {
                    positions: Some(two(positions.clone())),
                    segment_starts: Some(two(starts.clone())),
                    ..ForwardOptions::default()
                },
            )
            .unwrap(),
        );
        let v = c.vocab_size;
        for (r, row) in rows.iter().enumerate() {
            let mut at = 0;
            for &e in *row {
                let n = PACKED[e].len() - 1;
                let alone = values(m.forward(tokens(&[PACKED[e][..n].to_vec()], &d)).unwrap());
                let start = (r * width + at) * v;
                let diff = max_diff(&logits[start..start + n * v], &alone);
                assert!(
                    diff < 1e-5,
                    "{:?}: example {e}'s logits differ by {diff}",
                    c.family
                );
                at += n;
            }
        }
        let packed = m
            .loss(
                two(ids.clone()),
                two(targets.clone()),
                Some(-100),
                ForwardOptions {
                    positions: Some(two(positions)),
                    segment_starts: Some(two(starts)),
                    ..ForwardOptions::default()
                },
            )
            .unwrap();
        // Each example alone, its summed NLL added up.
        let mut alone_sum: Option<Tensor<1>> = None;
        let mut alone_tokens = 0;
        for ex in PACKED {
            let n = ex.len() - 1;
            let out = m
                .loss(
                    tokens(&[ex[..n].to_vec()], &d),
                    tokens(&[ex[1..].to_vec()], &d),
                    None,
                    ForwardOptions::default(),
                )
                .unwrap();
            alone_tokens += n;
            alone_sum = Some(match alone_sum {
                Some(s) => s + out.nll_sum,
                None => out.nll_sum,
            });
        }
        let alone_sum = alone_sum.unwrap();
        let counted = packed
            .count
            .clone()
            .into_data()
            .convert::<i64>()
            .try_to_vec::<i64>()
            .unwrap();
        assert_eq!(counted, vec![alone_tokens as i64], "{:?}", c.family);
        let (a, b) = (values(packed.nll_sum.clone()), values(alone_sum.clone()));
        assert!(max_diff(&a, &b) < 1e-4, "{:?}: {a:?} vs {b:?}", c.family);
        let gp = packed.nll_sum.backward();
        let ga = alone_sum.backward();
        for (name, p) in [
            ("embedding", m.wte.weight.val()),
            ("down_proj", m.blocks[1].mlp.down_proj.base.weight.val()),
            ("o_proj", m.blocks[0].attn.o_proj.base.weight.val()),
        ] {
            let diff = max_diff(&values(p.grad(&gp).unwrap()), &values(p.grad(&ga).unwrap()));
            assert!(
                diff < 1e-5,
                "{:?}: {name} gradient differs by {diff}",
                c.family
            );
        }
    }
}

#[test]
fn packed_logits_match_on_the_composed_path_too() {
    // Without autodiff on a non-fused dtype the masks are tensors: the same
    // block-diagonal attention, checked against each example alone.
    for c in families() {
        let m = model(&c).cast(FloatDType::F16).unwrap();
        let d = device();
        let (a, b) = (PACKED[0], PACKED[3]);
        let row: Vec<i64> = a.iter().chain(b).copied().collect();
        let positions: Vec<i64> = (0..a.len() as i64).chain(0..b.len() as i64).collect();
        let starts: Vec<i64> = std::iter::repeat_n(0, a.len())
            .chain(std::iter::repeat_n(a.len() as i64, b.len()))
            .collect();
        let packed = values(
            m.forward_with(
                tokens(&[row], &d),
                ForwardOptions {
                    positions: Some(tokens(&[positions], &d)),
                    segment_starts: Some(tokens(&[starts], &d)),
                    ..ForwardOptions::default()
                },
            )
            .unwrap()
            .cast(FloatDType::F32),
        );
        let alone = |ex: &[i64]| {
            values(
                m.forward(tokens(&[ex.to_vec()], &d))
                    .unwrap()
                    .cast(FloatDType::F32),
            )
        };
        let v = c.vocab_size;
        let both: Vec<f32> = alone(a).into_iter().chain(alone(b)).collect();
        assert_eq!(packed.len(), both.len());
        let scale = both.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        let diff = max_diff(&packed, &both);
        assert!(
            diff <= 2e-3 * scale.max(1.0),
            "{:?}: {diff} (scale {scale}, vocab {v})",
            c.family
        );
    }
}

#[test]
fn two_builds_of_a_model_write_the_same_bytes() {
    // Parameter ids follow from the module path, not from a random draw.
    let tmp = tempfile::tempdir().unwrap();
    let bytes = |i: usize, adapters: bool| {
        let c = config(ModelFamily::Llama, false);
        let mut m = Transformer::init(&c, 5, &device()).unwrap();
        if adapters {
            m = m.attach_lora(&lora(), 3).unwrap();
        }
        let path = tmp.path().join(format!("m{i}.bpk"));
        save_native(&m, &path).unwrap();
        std::fs::read(path).unwrap()
    };
    assert_eq!(bytes(0, false), bytes(1, false));
    assert_eq!(bytes(2, true), bytes(3, true));
    // Adapter files too (their metadata map once came out in any order).
    let adapters = |i: usize| {
        let c = config(ModelFamily::Llama, false);
        let mut m = Transformer::init(&c, 5, &device())
            .unwrap()
            .attach_lora(&lora(), 3)
            .unwrap();
        let path = tmp.path().join(format!("a{i}.safetensors"));
        m.save_lora(&path).unwrap();
        std::fs::read(path).unwrap()
    };
    assert_eq!(adapters(0), adapters(1));
}

#[test]
fn native_records_round_trip_exactly() {
    for c in families() {
        let m = model(&c).attach_lora(&lora(), 5).unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("model.bpk");
        save_native(&m, &path).unwrap();
        let loaded = load_native(&path, &device()).unwrap();
        assert_eq!(logits(&loaded), logits(&m), "{:?}", c.family);
        assert_eq!(loaded.config(), m.config());
        assert_eq!(loaded.lora_config(), m.lora_config());
        // A truncated record is an error that names the file, not a panic.
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        let err = load_native(&path, &device()).unwrap_err().to_string();
        assert!(err.contains("model.bpk"), "{err}");
    }
}

#[test]
fn half_precision_models_track_f32() {
    use burn::tensor::FloatDType;
    for c in families() {
        let reference = logits(&model(&c));
        for dtype in [FloatDType::BF16, FloatDType::F16] {
            let half = match model(&c).cast(dtype) {
                Ok(m) => m,
                Err(e) => {
                    // The backend says it cannot; the error must say which dtype.
                    // burn-flex holds both half types, so this is for other backends.
                    assert!(
                        !matches!(
                            codex_model::DeviceSpec::Auto.backend(),
                            Ok(codex_model::Backend::Flex)
                        ),
                        "flex refused {dtype:?}: {e}"
                    );
                    assert!(e.to_string().contains(&format!("{dtype:?}")), "{e}");
                    continue;
                }
            };
            assert_eq!(half.dtype(), burn::tensor::DType::from(dtype));
            let out = half.forward(tokens(&[INPUT.to_vec()], &device())).unwrap();
            let ours: Vec<f32> = out.into_data().convert::<f32>().try_to_vec().unwrap();
            let scale = reference.iter().fold(0.0f32, |m, x| m.max(x.abs()));
            let worst = max_diff(&ours, &reference);
            assert!(
                worst < 0.05 * scale,
                "{:?} {dtype:?}: {worst} vs scale {scale}",
                c.family
            );
            // Greedy generation runs end to end in half precision.
            let options = GenerateOptions {
                max_new_tokens: 5,
                ..GenerateOptions::default()
            };
            assert_eq!(
                generate(&half, &[vec![1, 2, 3]], &options).unwrap()[0]
                    .tokens
                    .len(),
                5
            );
        }
    }
}
