//! Writes the models of the export round-trip fixture (`tests/data/model/export`):
//! a GPT-2 and a Llama (grouped-query, untied) model, and one of each rotary
//! variant (Llama 3 rope scaling, Qwen2 with a sliding-window layer, Qwen3,
//! Mistral with a window, Phi-3 with fused projections, partial rotation and
//! a window, Gemma 2 with soft caps, its own score scale and a window layer), seeded, exported as Hugging Face checkpoints. `scripts/goldens/model_goldens.py --export` then
//! loads them with transformers and records its logits next to them.
//!
//! `cargo run -p codex-model --example export_fixture -- tests/data/model/export`

use std::path::PathBuf;

use codex_core::config::ModelFamily;
use codex_model::{
    DeviceSpec, ModelConfig, RandomInit, RopeScaling, Transformer, Variant, export_hf,
};

/// The exported models; the test rebuilds them the same way.
fn models() -> Vec<(&'static str, ModelConfig)> {
    let base = ModelConfig {
        family: ModelFamily::Gpt2,
        vocab_size: 96,
        n_layer: 2,
        n_head: 4,
        n_kv_head: 4,
        d_model: 32,
        d_ff: 128,
        context_length: 32,
        dropout: 0.0,
        rope_theta: 10_000.0,
        tie_embeddings: true,
        norm_eps: 1e-5,
        variant: Variant::default(),
    };
    let llama = ModelConfig {
        family: ModelFamily::Llama,
        n_kv_head: 2,
        d_ff: 88,
        rope_theta: 50_000.0,
        tie_embeddings: false,
        norm_eps: 1e-6,
        ..base.clone()
    };
    let rotary = |family, variant| ModelConfig {
        family,
        context_length: 64,
        variant,
        ..llama.clone()
    };
    let llama3 = rotary(
        ModelFamily::Llama,
        Variant {
            rope_scaling: RopeScaling::Llama3 {
                factor: 8.0,
                low_freq_factor: 1.0,
                high_freq_factor: 4.0,
                original_max_position_embeddings: 16,
            },
            qkv_bias: true,
            o_bias: true,
            mlp_bias: true,
            ..Variant::default()
        },
    );
    let qwen2 = rotary(
        ModelFamily::Qwen2,
        Variant {
            sliding_window: Some(6),
            window_layers: vec![false, true],
            ..Variant::for_family(ModelFamily::Qwen2)
        },
    );
    let qwen3 = rotary(
        ModelFamily::Qwen3,
        Variant {
            head_dim: Some(16),
            ..Variant::for_family(ModelFamily::Qwen3)
        },
    );
    let mistral = rotary(
        ModelFamily::Mistral,
        Variant {
            sliding_window: Some(5),
            ..Variant::default()
        },
    );
    let phi3 = rotary(
        ModelFamily::Phi3,
        Variant {
            rotary_dim: Some(4),
            sliding_window: Some(7),
            ..Variant::default()
        },
    );
    let gemma2 = rotary(
        ModelFamily::Gemma2,
        Variant {
            head_dim: Some(16),
            query_pre_attn_scalar: Some(12.0),
            attn_softcap: Some(1.0),
            final_softcap: Some(3.0),
            sliding_window: Some(5),
            window_layers: vec![true, false],
            ..Variant::default()
        },
    );
    vec![
        ("gpt2", base),
        ("llama", llama),
        ("llama3", llama3),
        ("qwen2", qwen2),
        ("qwen3", qwen3),
        ("mistral", mistral),
        ("phi3", phi3),
        ("gemma2", gemma2),
    ]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or("usage: export_fixture OUT_DIR")?,
    );
    let device = DeviceSpec::Auto.device()?;
    for (name, config) in models() {
        let model = Transformer::build(&config, &mut RandomInit::scaled(42, 10.0), &device)?;
        export_hf(&model, &out.join(name))?;
    }
    Ok(())
}
