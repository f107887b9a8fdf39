//! Hugging Face interchange: `config.json` + `model.safetensors` (or shards with
//! `model.safetensors.index.json`) for `GPT2LMHeadModel` and `LlamaForCausalLM`.
//!
//! Import maps every codex parameter name to the checkpoint's tensor and layout:
//! GPT-2's `Conv1D` weights are already `[in, out]` (Burn's layout) and its fused
//! `c_attn` is split into q, k and v; Llama's `nn.Linear` weights are `[out, in]`
//! and are transposed. Tied checkpoints carry no `lm_head.weight`. Export is the
//! inverse, so that `transformers.AutoModelForCausalLM.from_pretrained` loads it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::tensor::{Device, TensorData};
use codex_core::config::ModelFamily;
use serde_json::{Value, json};

use crate::config::{ModelConfig, RopeScaling};
use crate::error::ModelError;
use crate::model::{Norm, Proj, Transformer};
use crate::params::{Init, ParamSource};
use crate::st::{self, SafeTensorsFile};

/// The `model_type`s codex imports.
pub const SUPPORTED_MODEL_TYPES: [&str; 7] = [
    "gpt2", "llama", "qwen2", "qwen3", "mistral", "phi3", "gemma2",
];

/// The rope types codex computes.
const ROPE_TYPES: &str = "default, linear, dynamic, llama3";

fn io(op: &'static str, path: &Path, e: std::io::Error) -> ModelError {
    ModelError::Io(codex_core::Error::io(op, path, e))
}

fn weights_err(path: &Path, message: impl Into<String>) -> ModelError {
    ModelError::Weights {
        path: path.to_owned(),
        message: message.into(),
    }
}

/// Read and map a Hugging Face `config.json` to a [`ModelConfig`].
pub fn read_hf_config(path: &Path) -> Result<ModelConfig, ModelError> {
    let text = std::fs::read_to_string(path).map_err(|e| io("cannot read", path, e))?;
    let v: Value =
        serde_json::from_str(&text).map_err(|e| weights_err(path, format!("invalid JSON: {e}")))?;
    let model_type = v
        .get("model_type")
        .and_then(Value::as_str)
        .ok_or_else(|| weights_err(path, "missing key `model_type`"))?;
    let uint = |key: &str| -> Result<usize, ModelError> {
        v.get(key)
            .and_then(Value::as_u64)
            .map(|x| x as usize)
            .ok_or_else(|| weights_err(path, format!("missing or non-integer key `{key}`")))
    };
    let float = |key: &str, default: f64| -> Result<f64, ModelError> {
        match v.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(x) => x
                .as_f64()
                .ok_or_else(|| weights_err(path, format!("key `{key}` must be a number"))),
        }
    };
    let flag = |key: &str, default: bool| v.get(key).and_then(Value::as_bool).unwrap_or(default);
    let require = |ok: bool, message: String| {
        if ok {
            Ok(())
        } else {
            Err(weights_err(path, message))
        }
    };
    let config = match model_type {
        "gpt2" => {
            let d = uint("n_embd")?;
            let act = v
                .get("activation_function")
                .and_then(Value::as_str)
                .unwrap_or("gelu_new");
            require(
                matches!(act, "gelu_new" | "gelu_pytorch_tanh"),
                format!("activation_function `{act}` is not supported (gelu_new)"),
            )?;
            for key in ["scale_attn_by_inverse_layer_idx", "reorder_and_upcast_attn"] {
                require(!flag(key, false), format!("`{key}: true` is not supported"))?;
            }
            require(
                flag("scale_attn_weights", true),
                "`scale_attn_weights: false` is not supported".into(),
            )?;
            let n_head = uint("n_head")?;
            ModelConfig {
                family: ModelFamily::Gpt2,
                vocab_size: uint("vocab_size")?,
                n_layer: uint("n_layer")?,
                n_head,
                n_kv_head: n_head,
                d_model: d,
                d_ff: match v.get("n_inner") {
                    None | Some(Value::Null) => 4 * d,
                    Some(_) => uint("n_inner")?,
                },
                context_length: uint("n_positions")?,
                dropout: 0.0,
                rope_theta: 10_000.0,
                tie_embeddings: flag("tie_word_embeddings", true),
                norm_eps: float("layer_norm_epsilon", 1e-5)?,
                variant: crate::config::Variant::default(),
            }
        }
        "llama" | "qwen2" | "qwen3" | "mistral" | "phi3" | "gemma2" => {
            rotary_config(&v, model_type, path)?
        }
        other => {
            return Err(ModelError::UnsupportedModelType {
                path: path.to_owned(),
                found: other.to_owned(),
                supported: SUPPORTED_MODEL_TYPES.join(", "),
            });
        }
    };
    config
        .validate()
        .map_err(|e| weights_err(path, e.to_string()))?;
    Ok(config)
}

/// The `config.json` of a rotary family (`llama`, `qwen2`, `qwen3`,
/// `mistral`, `phi3`, `gemma2`), with every key that changes the computation either mapped
/// or refused by name.
fn rotary_config(v: &Value, model_type: &str, path: &Path) -> Result<ModelConfig, ModelError> {
    let refuse = |message: String| Err(weights_err(path, message));
    let present = |key: &str| v.get(key).filter(|x| !x.is_null());
    let uint_of = |x: &Value, key: &str| -> Result<usize, ModelError> {
        x.as_u64()
            .map(|x| x as usize)
            .ok_or_else(|| weights_err(path, format!("key `{key}` must be a non-negative integer")))
    };
    let uint = |key: &str| -> Result<usize, ModelError> {
        uint_of(
            present(key)
                .ok_or_else(|| weights_err(path, format!("missing or non-integer key `{key}`")))?,
            key,
        )
    };
    let float_of = |x: &Value, key: &str| -> Result<f64, ModelError> {
        x.as_f64()
            .ok_or_else(|| weights_err(path, format!("key `{key}` must be a number")))
    };
    let flag = |key: &str| -> Result<bool, ModelError> {
        match present(key) {
            None => Ok(false),
            Some(x) => x
                .as_bool()
                .ok_or_else(|| weights_err(path, format!("key `{key}` must be true or false"))),
        }
    };
    let family = match model_type {
        "llama" => ModelFamily::Llama,
        "qwen2" => ModelFamily::Qwen2,
        "qwen3" => ModelFamily::Qwen3,
        "phi3" => ModelFamily::Phi3,
        "gemma2" => ModelFamily::Gemma2,
        _ => ModelFamily::Mistral,
    };
    let gemma = family == ModelFamily::Gemma2;
    // Gemma 2 gates with tanh-GELU (`hidden_activation`), the others with SiLU.
    let (act_key, wanted) = if gemma {
        ("hidden_activation", "gelu_pytorch_tanh")
    } else {
        ("hidden_act", "silu")
    };
    let act = present(act_key)
        .or_else(|| present("hidden_act"))
        .and_then(Value::as_str)
        .unwrap_or(wanted);
    if act != wanted {
        return refuse(format!("{act_key} `{act}` is not supported ({wanted})"));
    }
    if let Some(tp) = present("pretraining_tp")
        && tp.as_u64() != Some(1)
    {
        return refuse(format!("pretraining_tp `{tp}` is not supported (1)"));
    }
    let d = uint("hidden_size")?;
    let n_head = uint("num_attention_heads")?;
    let max_positions = uint("max_position_embeddings")?;
    let mut variant = crate::config::Variant::for_family(family);
    // Gemma2Config's own default head_dim is 256, not hidden_size / heads.
    let head_dim = match present("head_dim") {
        Some(hd) => Some(uint_of(hd, "head_dim")?),
        None => gemma.then_some(256),
    };
    if let Some(hd) = head_dim
        && hd * n_head != d
    {
        variant.head_dim = Some(hd);
    }
    match family {
        ModelFamily::Llama | ModelFamily::Qwen3 | ModelFamily::Gemma2 => {
            let bias = flag("attention_bias")?;
            (variant.qkv_bias, variant.o_bias) = (bias, bias);
        }
        _ => {}
    }
    if family == ModelFamily::Llama {
        variant.mlp_bias = flag("mlp_bias")?;
    }
    // Rope: `rope_parameters` (transformers 5) or `rope_scaling` (before).
    let rope = present("rope_parameters").or_else(|| present("rope_scaling"));
    let rope_key = if present("rope_parameters").is_some() {
        "rope_parameters"
    } else {
        "rope_scaling"
    };
    let param = |name: &str| -> Result<f64, ModelError> {
        let x = rope
            .and_then(|r| r.get(name))
            .filter(|x| !x.is_null())
            .ok_or_else(|| weights_err(path, format!("missing key `{rope_key}.{name}`")))?;
        float_of(x, &format!("{rope_key}.{name}"))
    };
    let rope_type = rope
        .and_then(|r| r.get("rope_type").or_else(|| r.get("type")))
        .and_then(Value::as_str)
        .unwrap_or("default");
    let theta = match rope
        .and_then(|r| r.get("rope_theta"))
        .filter(|x| !x.is_null())
    {
        Some(x) => float_of(x, &format!("{rope_key}.rope_theta"))?,
        None => match present("rope_theta") {
            Some(x) => float_of(x, "rope_theta")?,
            None => 10_000.0,
        },
    };
    for owner in [rope, Some(v)].into_iter().flatten() {
        let Some(p) = owner.get("partial_rotary_factor").filter(|x| !x.is_null()) else {
            continue;
        };
        if p.as_f64() == Some(1.0) {
            continue;
        }
        // Only Phi-3's attention rotates part of each head.
        let factor = match (family, p.as_f64()) {
            (ModelFamily::Phi3, Some(f)) if f > 0.0 && f < 1.0 => f,
            _ => {
                return refuse(format!(
                    "partial_rotary_factor `{p}` is not supported for model_type {model_type} (1.0)"
                ));
            }
        };
        let head_dim = variant.head_dim.unwrap_or(d / n_head.max(1));
        variant.rotary_dim = Some((head_dim as f64 * factor) as usize);
    }
    let mut context_length = max_positions;
    variant.rope_scaling = match rope_type {
        "default" => RopeScaling::Default,
        "linear" => RopeScaling::Linear {
            factor: param("factor")?,
        },
        "dynamic" => {
            let factor = param("factor")?;
            // Dynamic scaling exists to read past the trained context.
            if factor.is_finite() && factor >= 1.0 {
                context_length = (max_positions as f64 * factor).floor() as usize;
            }
            RopeScaling::Dynamic {
                factor,
                original_max_position_embeddings: max_positions,
            }
        }
        "llama3" => RopeScaling::Llama3 {
            factor: param("factor")?,
            low_freq_factor: param("low_freq_factor")?,
            high_freq_factor: param("high_freq_factor")?,
            original_max_position_embeddings: param("original_max_position_embeddings")? as usize,
        },
        other => {
            return refuse(format!(
                "`{rope_key}.rope_type` `{other}` is not supported ({ROPE_TYPES})"
            ));
        }
    };
    let n_layer = uint("num_hidden_layers")?;
    match family {
        ModelFamily::Mistral | ModelFamily::Phi3 => {
            if let Some(w) = present("sliding_window") {
                variant.sliding_window = Some(uint_of(w, "sliding_window")?);
            }
        }
        ModelFamily::Qwen2 | ModelFamily::Qwen3 => {
            if flag("use_sliding_window")?
                && let Some(w) = present("sliding_window")
            {
                variant.sliding_window = Some(uint_of(w, "sliding_window")?);
                variant.window_layers = match present("layer_types").and_then(Value::as_array) {
                    Some(types) => types
                        .iter()
                        .map(|t| t.as_str() == Some("sliding_attention"))
                        .collect(),
                    None => {
                        let from = match present("max_window_layers") {
                            Some(x) => uint_of(x, "max_window_layers")?,
                            None => 28,
                        };
                        (0..n_layer).map(|i| i >= from).collect()
                    }
                };
                if variant.window_layers.iter().all(|&on| on) {
                    variant.window_layers.clear();
                } else if variant.window_layers.iter().all(|&on| !on) {
                    variant.window_layers.clear();
                    variant.sliding_window = None;
                }
            }
        }
        _ => {}
    }
    if gemma {
        if flag("use_bidirectional_attention")? {
            return refuse("`use_bidirectional_attention: true` is not supported".into());
        }
        let positive = |key: &str| -> Result<Option<f64>, ModelError> {
            present(key).map(|x| float_of(x, key)).transpose()
        };
        variant.query_pre_attn_scalar = Some(positive("query_pre_attn_scalar")?.unwrap_or(256.0));
        variant.attn_softcap = positive("attn_logit_softcapping")?;
        variant.final_softcap = positive("final_logit_softcapping")?;
        if let Some(w) = present("sliding_window") {
            variant.sliding_window = Some(uint_of(w, "sliding_window")?);
            // Gemma2Config's default: every other layer, from the first.
            variant.window_layers = match present("layer_types").and_then(Value::as_array) {
                Some(types) => types
                    .iter()
                    .map(|t| t.as_str() == Some("sliding_attention"))
                    .collect(),
                None => (0..n_layer).map(|i| i % 2 == 0).collect(),
            };
        }
    } else {
        for key in ["attn_logit_softcapping", "final_logit_softcapping"] {
            if let Some(x) = present(key) {
                return refuse(format!(
                    "`{key}` `{x}` is not supported for model_type {model_type}"
                ));
            }
        }
    }
    Ok(ModelConfig {
        family,
        vocab_size: uint("vocab_size")?,
        n_layer,
        n_head,
        n_kv_head: match present("num_key_value_heads") {
            None => n_head,
            Some(_) => uint("num_key_value_heads")?,
        },
        d_model: d,
        d_ff: uint("intermediate_size")?,
        context_length,
        dropout: 0.0,
        rope_theta: theta,
        tie_embeddings: match present("tie_word_embeddings") {
            None => gemma,
            Some(_) => flag("tie_word_embeddings")?,
        },
        norm_eps: match present("rms_norm_eps") {
            None => 1e-6,
            Some(x) => float_of(x, "rms_norm_eps")?,
        },
        variant,
    })
}

/// The tensors of a checkpoint directory, one file or several shards.
struct HfTensors {
    files: Vec<SafeTensorsFile>,
    /// Tensor name → index into `files`.
    index: BTreeMap<String, usize>,
    /// What a missing tensor is reported against.
    origin: PathBuf,
}

impl HfTensors {
    fn open(dir: &Path) -> Result<Self, ModelError> {
        let single = dir.join("model.safetensors");
        let index_path = dir.join("model.safetensors.index.json");
        if single.is_file() {
            let file = SafeTensorsFile::open(&single)?;
            let index = file.entries().keys().map(|k| (k.clone(), 0)).collect();
            return Ok(Self {
                files: vec![file],
                index,
                origin: single,
            });
        }
        if !index_path.is_file() {
            return Err(weights_err(
                dir,
                "neither model.safetensors nor model.safetensors.index.json is present",
            ));
        }
        let text =
            std::fs::read_to_string(&index_path).map_err(|e| io("cannot read", &index_path, e))?;
        let v: Value = serde_json::from_str(&text)
            .map_err(|e| weights_err(&index_path, format!("invalid JSON: {e}")))?;
        let map = v
            .get("weight_map")
            .and_then(Value::as_object)
            .ok_or_else(|| weights_err(&index_path, "missing object `weight_map`"))?;
        let mut shard_ids: BTreeMap<String, usize> = BTreeMap::new();
        let mut files = Vec::new();
        let mut index = BTreeMap::new();
        for (name, shard) in map {
            let shard = shard.as_str().ok_or_else(|| {
                weights_err(
                    &index_path,
                    format!("`weight_map.{name}` is not a file name"),
                )
            })?;
            if shard.contains('/') || shard.contains('\\') || shard.starts_with('.') {
                return Err(weights_err(
                    &index_path,
                    format!("shard name `{shard}` must be a plain file name"),
                ));
            }
            let id = match shard_ids.get(shard) {
                Some(&id) => id,
                None => {
                    files.push(SafeTensorsFile::open(&dir.join(shard))?);
                    shard_ids.insert(shard.to_owned(), files.len() - 1);
                    files.len() - 1
                }
            };
            if !files[id].contains(name) {
                return Err(ModelError::MissingTensor {
                    path: files[id].path.clone(),
                    name: name.clone(),
                });
            }
            index.insert(name.clone(), id);
        }
        Ok(Self {
            files,
            index,
            origin: index_path,
        })
    }

    fn contains(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }

    /// Tensor `name` with its shape as stored, as f32 values.
    fn get(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>, ModelError> {
        let id = *self
            .index
            .get(name)
            .ok_or_else(|| ModelError::MissingTensor {
                path: self.origin.clone(),
                name: name.to_owned(),
            })?;
        let data = self.files[id].tensor(name, shape)?;
        Ok(data
            .try_to_vec::<f32>()
            .expect("safetensors reader yields f32"))
    }

    fn shape(&self, name: &str) -> Option<Vec<usize>> {
        let id = *self.index.get(name)?;
        self.files[id].entries().get(name).map(|e| e.shape.clone())
    }
}

fn transpose(values: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0.0; values.len()];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = values[r * cols + c];
        }
    }
    out
}

/// Columns `start..start + width` of a row-major `[rows, cols]` matrix.
fn columns(values: &[f32], rows: usize, cols: usize, start: usize, width: usize) -> Vec<f32> {
    (0..rows)
        .flat_map(|r| {
            values[r * cols + start..r * cols + start + width]
                .iter()
                .copied()
        })
        .collect()
}

/// The checkpoint's name of a block norm of a rotary family: Llama's norm
/// before the MLP is its `post_attention_layernorm`; Gemma 2 has a norm on
/// each side of both sublayers, and `post_attention_layernorm` is the one
/// after attention.
fn block_norm_name(family: ModelFamily, codex: &str) -> &'static str {
    match (family, codex) {
        (ModelFamily::Gemma2, "ln_2") => "pre_feedforward_layernorm",
        (ModelFamily::Gemma2, "ln_post_mlp") => "post_feedforward_layernorm",
        _ => "post_attention_layernorm",
    }
}

/// A [`ParamSource`] over a Hugging Face checkpoint.
struct HfSource<'a> {
    tensors: &'a HfTensors,
    config: &'a ModelConfig,
    prefix: &'static str,
}

impl HfSource<'_> {
    fn gpt2(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>, ModelError> {
        let p = self.prefix;
        let d = self.config.d_model;
        let parts: Vec<&str> = name.split('.').collect();
        match parts.as_slice() {
            ["wte" | "wpe" | "ln_f", ..] => self.tensors.get(&format!("{p}{name}"), shape),
            ["lm_head", "weight"] => {
                let [din, v] = [shape[0], shape[1]];
                Ok(transpose(
                    &self.tensors.get("lm_head.weight", &[v, din])?,
                    v,
                    din,
                ))
            }
            [
                "blocks",
                i,
                "attn",
                proj @ ("q_proj" | "k_proj" | "v_proj"),
                kind,
            ] => {
                let which = match *proj {
                    "q_proj" => 0,
                    "k_proj" => 1,
                    _ => 2,
                };
                let hf = format!("{p}h.{i}.attn.c_attn.{kind}");
                if *kind == "weight" {
                    let all = self.tensors.get(&hf, &[d, 3 * d])?;
                    Ok(columns(&all, d, 3 * d, which * d, d))
                } else {
                    let all = self.tensors.get(&hf, &[3 * d])?;
                    Ok(all[which * d..(which + 1) * d].to_vec())
                }
            }
            ["blocks", i, rest @ ..] => {
                let hf_rest = match rest {
                    ["attn", "o_proj", kind] => format!("attn.c_proj.{kind}"),
                    ["mlp", "up_proj", kind] => format!("mlp.c_fc.{kind}"),
                    ["mlp", "down_proj", kind] => format!("mlp.c_proj.{kind}"),
                    _ => rest.join("."),
                };
                self.tensors.get(&format!("{p}h.{i}.{hf_rest}"), shape)
            }
            _ => Err(ModelError::MissingTensor {
                path: self.tensors.origin.clone(),
                name: name.to_owned(),
            }),
        }
    }

    /// Every rotary family names its tensors as Llama does, except Phi-3's
    /// fused projections.
    fn rotary(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>, ModelError> {
        let parts: Vec<&str> = name.split('.').collect();
        let linear = |hf: String| -> Result<Vec<f32>, ModelError> {
            let [din, dout] = [shape[0], shape[1]];
            Ok(transpose(&self.tensors.get(&hf, &[dout, din])?, dout, din))
        };
        // Rows `start..start + dout` of a fused `[rows, din]` weight, as `[din, dout]`.
        let fused = |hf: String, rows: usize, start: usize| -> Result<Vec<f32>, ModelError> {
            let [din, dout] = [shape[0], shape[1]];
            let all = self.tensors.get(&hf, &[rows, din])?;
            Ok(transpose(
                &all[start * din..(start + dout) * din],
                dout,
                din,
            ))
        };
        if self.config.family == ModelFamily::Phi3 {
            let c = self.config;
            let (q, kv) = (c.n_head * c.head_dim(), c.n_kv_head * c.head_dim());
            match parts.as_slice() {
                [
                    "blocks",
                    i,
                    "attn",
                    proj @ ("q_proj" | "k_proj" | "v_proj"),
                    "weight",
                ] => {
                    let start = match *proj {
                        "q_proj" => 0,
                        "k_proj" => q,
                        _ => q + kv,
                    };
                    let hf = format!("model.layers.{i}.self_attn.qkv_proj.weight");
                    return fused(hf, q + 2 * kv, start);
                }
                [
                    "blocks",
                    i,
                    "mlp",
                    proj @ ("gate_proj" | "up_proj"),
                    "weight",
                ] => {
                    let start = if *proj == "gate_proj" { 0 } else { c.d_ff };
                    let hf = format!("model.layers.{i}.mlp.gate_up_proj.weight");
                    return fused(hf, 2 * c.d_ff, start);
                }
                _ => {}
            }
        }
        match parts.as_slice() {
            ["wte", "weight"] => self.tensors.get("model.embed_tokens.weight", shape),
            ["ln_f", "weight"] => self.tensors.get("model.norm.weight", shape),
            ["lm_head", "weight"] => linear("lm_head.weight".into()),
            ["blocks", i, "ln_1", "weight"] => self
                .tensors
                .get(&format!("model.layers.{i}.input_layernorm.weight"), shape),
            [
                "blocks",
                i,
                norm @ ("ln_2" | "ln_post_attn" | "ln_post_mlp"),
                "weight",
            ] => {
                let hf = block_norm_name(self.config.family, norm);
                self.tensors
                    .get(&format!("model.layers.{i}.{hf}.weight"), shape)
            }
            ["blocks", i, "attn", norm @ ("q_norm" | "k_norm"), "weight"] => self
                .tensors
                .get(&format!("model.layers.{i}.self_attn.{norm}.weight"), shape),
            ["blocks", i, "attn", proj, "weight"] => {
                linear(format!("model.layers.{i}.self_attn.{proj}.weight"))
            }
            ["blocks", i, "attn", proj, "bias"] => self
                .tensors
                .get(&format!("model.layers.{i}.self_attn.{proj}.bias"), shape),
            ["blocks", i, "mlp", proj, "weight"] => {
                linear(format!("model.layers.{i}.mlp.{proj}.weight"))
            }
            ["blocks", i, "mlp", proj, "bias"] => self
                .tensors
                .get(&format!("model.layers.{i}.mlp.{proj}.bias"), shape),
            _ => Err(ModelError::MissingTensor {
                path: self.tensors.origin.clone(),
                name: name.to_owned(),
            }),
        }
    }
}

impl ParamSource for HfSource<'_> {
    fn get(&mut self, name: &str, shape: &[usize], _init: Init) -> Result<TensorData, ModelError> {
        let values = if self.config.family.is_rotary() {
            self.rotary(name, shape)?
        } else {
            self.gpt2(name, shape)?
        };
        Ok(TensorData::new(values, shape.to_vec()))
    }
}

/// Load a Hugging Face checkpoint directory (`config.json` plus safetensors).
pub fn import_hf(dir: &Path, device: &Device) -> Result<Transformer, ModelError> {
    let config = read_hf_config(&dir.join("config.json"))?;
    let tensors = HfTensors::open(dir)?;
    let prefix = if config.family == ModelFamily::Gpt2 && tensors.contains("transformer.wte.weight")
    {
        "transformer."
    } else {
        ""
    };
    if config.tie_embeddings
        && let Some(shape) = tensors.shape("lm_head.weight")
        && shape != [config.vocab_size, config.d_model]
    {
        return Err(ModelError::ShapeMismatch {
            path: tensors.origin.clone(),
            name: "lm_head.weight".into(),
            expected: vec![config.vocab_size, config.d_model],
            found: shape,
        });
    }
    let mut source = HfSource {
        tensors: &tensors,
        config: &config,
        prefix,
    };
    Transformer::build(&config, &mut source, device)
}

fn data(t: burn::tensor::Tensor<2>) -> (Vec<f32>, [usize; 2]) {
    let dims = t.dims();
    (
        t.into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .expect("f32 tensor"),
        dims,
    )
}

fn vector(t: burn::tensor::Tensor<1>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .expect("f32 tensor")
}

fn put(out: &mut BTreeMap<String, TensorData>, name: String, values: Vec<f32>, shape: &[usize]) {
    out.insert(name, TensorData::new(values, shape.to_vec()));
}

fn norm_tensors(out: &mut BTreeMap<String, TensorData>, name: &str, norm: &Norm) {
    match norm {
        Norm::Layer(n) => {
            let g = vector(n.gamma.val());
            let len = g.len();
            put(out, format!("{name}.weight"), g, &[len]);
            if let Some(b) = &n.beta {
                put(out, format!("{name}.bias"), vector(b.val()), &[len]);
            }
        }
        Norm::Rms(n) | Norm::RmsPlusOne(n) => {
            let g = vector(n.gamma.val());
            let len = g.len();
            put(out, format!("{name}.weight"), g, &[len]);
        }
    }
}

/// Write `model` as a Hugging Face checkpoint (`config.json`, `model.safetensors`)
/// into `dir`, which is created if needed. LoRA adapters are merged first.
pub fn export_hf(model: &Transformer, dir: &Path) -> Result<(), ModelError> {
    std::fs::create_dir_all(dir).map_err(|e| io("cannot create", dir, e))?;
    let model = model.clone().merge_lora();
    let c = model.config().clone();
    let mut out = BTreeMap::new();
    let linear_t = |out: &mut BTreeMap<String, TensorData>, name: &str, proj: &Proj| {
        let (w, [din, dout]) = data(proj.base.weight.val());
        put(
            out,
            format!("{name}.weight"),
            transpose(&w, din, dout),
            &[dout, din],
        );
        if let Some(b) = &proj.base.bias {
            put(out, format!("{name}.bias"), vector(b.val()), &[dout]);
        }
    };
    let config = hf_config_json(&c)?;
    match c.family {
        ModelFamily::Gpt2 => {
            let p = "transformer.";
            let (w, dims) = data(model.wte.weight.val());
            put(&mut out, format!("{p}wte.weight"), w, &dims);
            let wpe = model
                .wpe
                .as_ref()
                .expect("gpt2 family has learned positions");
            let (w, dims) = data(wpe.weight.val());
            put(&mut out, format!("{p}wpe.weight"), w, &dims);
            for (i, block) in model.blocks.iter().enumerate() {
                let h = format!("{p}h.{i}");
                norm_tensors(&mut out, &format!("{h}.ln_1"), &block.ln_1);
                norm_tensors(&mut out, &format!("{h}.ln_2"), &block.ln_2);
                let a = &block.attn;
                let d = c.d_model;
                let (q, _) = data(a.q_proj.base.weight.val());
                let (k, _) = data(a.k_proj.base.weight.val());
                let (v, _) = data(a.v_proj.base.weight.val());
                let fused: Vec<f32> = (0..d)
                    .flat_map(|r| {
                        q[r * d..(r + 1) * d]
                            .iter()
                            .chain(&k[r * d..(r + 1) * d])
                            .chain(&v[r * d..(r + 1) * d])
                            .copied()
                            .collect::<Vec<_>>()
                    })
                    .collect();
                put(
                    &mut out,
                    format!("{h}.attn.c_attn.weight"),
                    fused,
                    &[d, 3 * d],
                );
                let bias = |p: &Proj| {
                    p.base
                        .bias
                        .as_ref()
                        .map(|b| vector(b.val()))
                        .unwrap_or_default()
                };
                let mut fused_bias = bias(&a.q_proj);
                fused_bias.extend(bias(&a.k_proj));
                fused_bias.extend(bias(&a.v_proj));
                put(
                    &mut out,
                    format!("{h}.attn.c_attn.bias"),
                    fused_bias,
                    &[3 * d],
                );
                for (hf, proj) in [
                    ("attn.c_proj", &a.o_proj),
                    ("mlp.c_fc", &block.mlp.up_proj),
                    ("mlp.c_proj", &block.mlp.down_proj),
                ] {
                    let (w, dims) = data(proj.base.weight.val());
                    put(&mut out, format!("{h}.{hf}.weight"), w, &dims);
                    let b = bias(proj);
                    let len = b.len();
                    put(&mut out, format!("{h}.{hf}.bias"), b, &[len]);
                }
            }
            norm_tensors(&mut out, &format!("{p}ln_f"), &model.ln_f);
        }
        _ => {
            let (w, dims) = data(model.wte.weight.val());
            put(&mut out, "model.embed_tokens.weight".into(), w, &dims);
            for (i, block) in model.blocks.iter().enumerate() {
                let l = format!("model.layers.{i}");
                norm_tensors(&mut out, &format!("{l}.input_layernorm"), &block.ln_1);
                for (codex, norm) in [
                    ("ln_2", Some(&block.ln_2)),
                    ("ln_post_attn", block.ln_post_attn.as_ref()),
                    ("ln_post_mlp", block.ln_post_mlp.as_ref()),
                ] {
                    if let Some(norm) = norm {
                        let hf = block_norm_name(c.family, codex);
                        norm_tensors(&mut out, &format!("{l}.{hf}"), norm);
                    }
                }
                let a = &block.attn;
                let m = &block.mlp;
                let gate = m.gate_proj.as_ref().expect("rotary families have a gate");
                if c.family == ModelFamily::Phi3 {
                    // One `[rows, din]` weight of the projections stacked by rows.
                    let stacked = |projs: &[&Proj]| {
                        let (mut rows, mut din) = (0, 0);
                        let mut values = Vec::new();
                        for p in projs {
                            let (w, [i, o]) = data(p.base.weight.val());
                            values.extend(transpose(&w, i, o));
                            (rows, din) = (rows + o, i);
                        }
                        (values, [rows, din])
                    };
                    let (w, dims) = stacked(&[&a.q_proj, &a.k_proj, &a.v_proj]);
                    put(&mut out, format!("{l}.self_attn.qkv_proj.weight"), w, &dims);
                    linear_t(&mut out, &format!("{l}.self_attn.o_proj"), &a.o_proj);
                    let (w, dims) = stacked(&[gate, &m.up_proj]);
                    put(&mut out, format!("{l}.mlp.gate_up_proj.weight"), w, &dims);
                    linear_t(&mut out, &format!("{l}.mlp.down_proj"), &m.down_proj);
                    continue;
                }
                for (name, proj) in [
                    ("q_proj", &a.q_proj),
                    ("k_proj", &a.k_proj),
                    ("v_proj", &a.v_proj),
                    ("o_proj", &a.o_proj),
                ] {
                    linear_t(&mut out, &format!("{l}.self_attn.{name}"), proj);
                }
                for (name, norm) in [("q_norm", &a.q_norm), ("k_norm", &a.k_norm)] {
                    if let Some(norm) = norm {
                        let g = vector(norm.gamma.val());
                        let len = g.len();
                        put(&mut out, format!("{l}.self_attn.{name}.weight"), g, &[len]);
                    }
                }
                for (name, proj) in [
                    ("gate_proj", gate),
                    ("up_proj", &m.up_proj),
                    ("down_proj", &m.down_proj),
                ] {
                    linear_t(&mut out, &format!("{l}.mlp.{name}"), proj);
                }
            }
            norm_tensors(&mut out, "model.norm", &model.ln_f);
        }
    }
    if let Some(head) = &model.lm_head {
        let (w, [din, v]) = data(head.weight.val());
        put(
            &mut out,
            "lm_head.weight".into(),
            transpose(&w, din, v),
            &[v, din],
        );
    }
    let mut metadata = BTreeMap::new();
    metadata.insert("format".to_owned(), "pt".to_owned());
    st::write(&dir.join("model.safetensors"), &out, metadata)?;
    let text = serde_json::to_string_pretty(&config).expect("JSON value serializes") + "\n";
    codex_core::write_bytes_atomic(dir.join("config.json"), text.as_bytes()).map_err(ModelError::Io)
}

/// The `config.json` transformers reads for `config`; an error names the
/// switch a family's `config.json` cannot say (q/k/v biases without an output
/// bias in Llama, say).
pub fn hf_config_json(c: &ModelConfig) -> Result<Value, ModelError> {
    let family = c.family;
    let v = &c.variant;
    let cannot = |what: &str| {
        Err(ModelError::InvalidConfig {
            key: "variant".into(),
            message: format!(
                "{what} cannot be written as a `{}` config.json",
                family.name()
            ),
        })
    };
    if family == ModelFamily::Gpt2 {
        return Ok(json!({
            "architectures": ["GPT2LMHeadModel"],
            "model_type": "gpt2",
            "vocab_size": c.vocab_size,
            "n_positions": c.context_length,
            "n_embd": c.d_model,
            "n_layer": c.n_layer,
            "n_head": c.n_head,
            "n_inner": c.d_ff,
            "activation_function": "gelu_new",
            "layer_norm_epsilon": c.norm_eps,
            "resid_pdrop": c.dropout,
            "embd_pdrop": c.dropout,
            "attn_pdrop": c.dropout,
            "tie_word_embeddings": c.tie_embeddings,
            "bos_token_id": null,
            "eos_token_id": null,
            "dtype": "float32",
        }));
    }
    let (architecture, biases_ok) = match family {
        ModelFamily::Llama => ("LlamaForCausalLM", v.qkv_bias == v.o_bias),
        ModelFamily::Qwen2 => ("Qwen2ForCausalLM", v.qkv_bias && !v.o_bias && !v.mlp_bias),
        ModelFamily::Qwen3 => ("Qwen3ForCausalLM", v.qkv_bias == v.o_bias && !v.mlp_bias),
        ModelFamily::Phi3 => ("Phi3ForCausalLM", !v.qkv_bias && !v.o_bias && !v.mlp_bias),
        ModelFamily::Gemma2 => ("Gemma2ForCausalLM", v.qkv_bias == v.o_bias && !v.mlp_bias),
        _ => (
            "MistralForCausalLM",
            !v.qkv_bias && !v.o_bias && !v.mlp_bias,
        ),
    };
    if !biases_ok {
        return cannot(&format!(
            "biases (q/k/v {}, output {}, mlp {})",
            v.qkv_bias, v.o_bias, v.mlp_bias
        ));
    }
    let gemma = family == ModelFamily::Gemma2;
    if !gemma
        && (v.query_pre_attn_scalar.is_some()
            || v.attn_softcap.is_some()
            || v.final_softcap.is_some())
    {
        return cannot("a score scale or soft cap");
    }
    if v.qk_norm != (family == ModelFamily::Qwen3) {
        return cannot("q/k head norms");
    }
    if v.rotary_dim.is_some() && family != ModelFamily::Phi3 {
        return cannot("a partial rotation");
    }
    let mut rope = json!({ "rope_type": v.rope_scaling.name(), "rope_theta": c.rope_theta });
    if family == ModelFamily::Phi3 {
        rope["partial_rotary_factor"] = json!(c.rotary_dim() as f64 / c.head_dim() as f64);
    }
    let mut max_positions = c.context_length;
    match v.rope_scaling {
        RopeScaling::Default => {}
        RopeScaling::Linear { factor } => rope["factor"] = json!(factor),
        RopeScaling::Dynamic {
            factor,
            original_max_position_embeddings: l,
        } => {
            rope["factor"] = json!(factor);
            max_positions = l;
        }
        RopeScaling::Llama3 {
            factor,
            low_freq_factor,
            high_freq_factor,
            original_max_position_embeddings,
        } => {
            rope["factor"] = json!(factor);
            rope["low_freq_factor"] = json!(low_freq_factor);
            rope["high_freq_factor"] = json!(high_freq_factor);
            rope["original_max_position_embeddings"] = json!(original_max_position_embeddings);
        }
    }
    let mut config = json!({
        "architectures": [architecture],
        "model_type": family.name(),
        "vocab_size": c.vocab_size,
        "hidden_size": c.d_model,
        "intermediate_size": c.d_ff,
        "num_hidden_layers": c.n_layer,
        "num_attention_heads": c.n_head,
        "num_key_value_heads": c.n_kv_head,
        "head_dim": c.head_dim(),
        "max_position_embeddings": max_positions,
        "rms_norm_eps": c.norm_eps,
        "rope_theta": c.rope_theta,
        "rope_parameters": rope,
        "hidden_act": "silu",
        "attention_dropout": c.dropout,
        "tie_word_embeddings": c.tie_embeddings,
        "bos_token_id": null,
        "eos_token_id": null,
        "dtype": "float32",
    });
    match family {
        ModelFamily::Llama => {
            config["attention_bias"] = json!(v.qkv_bias);
            config["mlp_bias"] = json!(v.mlp_bias);
        }
        ModelFamily::Qwen3 => config["attention_bias"] = json!(v.qkv_bias),
        ModelFamily::Gemma2 => {
            let map = config.as_object_mut().expect("a JSON object");
            map.remove("hidden_act");
            map.insert("hidden_activation".into(), json!("gelu_pytorch_tanh"));
            map.insert("attention_bias".into(), json!(v.qkv_bias));
            // Gemma2Config types it as an integer.
            let scalar = v.query_pre_attn_scalar.unwrap_or(c.head_dim() as f64);
            let scalar = if scalar.fract() == 0.0 && scalar <= u32::MAX as f64 {
                json!(scalar as u64)
            } else {
                json!(scalar)
            };
            map.insert("query_pre_attn_scalar".into(), scalar);
            map.insert("attn_logit_softcapping".into(), json!(v.attn_softcap));
            map.insert("final_logit_softcapping".into(), json!(v.final_softcap));
        }
        // Phi3Config's own default padding id (32000) lies outside most
        // vocabularies, and its embedding refuses one it cannot hold.
        ModelFamily::Phi3 => config["pad_token_id"] = Value::Null,
        _ => {}
    }
    match (family, v.sliding_window) {
        (ModelFamily::Llama, Some(_)) => return cannot("a sliding window"),
        (ModelFamily::Mistral | ModelFamily::Phi3, w) => {
            if !v.window_layers.is_empty() {
                return cannot("a sliding window on some layers only");
            }
            config["sliding_window"] = json!(w);
        }
        (ModelFamily::Gemma2, w) => {
            // Without a window every layer is full: a sliding layer type with
            // no window breaks transformers' cache.
            let types = layer_types(c);
            // transformers' Gemma 2 builds the windowed mask whatever the
            // layer types say and refuses a null window: with no window of
            // its own the model gets one that spans its whole context.
            config["sliding_window"] = json!(w.unwrap_or(c.context_length));
            config["layer_types"] = json!(types);
        }
        (ModelFamily::Qwen2 | ModelFamily::Qwen3, w) => {
            config["use_sliding_window"] = json!(w.is_some());
            config["sliding_window"] = json!(w);
            if w.is_some() {
                let types = layer_types(c);
                config["max_window_layers"] = json!(
                    types
                        .iter()
                        .position(|t| *t == "sliding_attention")
                        .unwrap_or(c.n_layer)
                );
                config["layer_types"] = json!(types);
            }
        }
        _ => {}
    }
    Ok(config)
}

/// transformers' `layer_types`: which layers attend through the window.
fn layer_types(c: &ModelConfig) -> Vec<&'static str> {
    (0..c.n_layer)
        .map(|i| match c.window(i) {
            Some(_) => "sliding_attention",
            None => "full_attention",
        })
        .collect()
}

/// Save the model in Burn's native record format (burnpack) with its config
/// beside it (`<path>` and `<path>.json`), both written atomically.
pub fn save_native(model: &Transformer, path: &Path) -> Result<(), ModelError> {
    let record = model
        .clone()
        .into_record()
        .into_bytes()
        .map_err(|e| weights_err(path, format!("cannot encode record: {e}")))?;
    codex_core::write_bytes_atomic(path, &record).map_err(ModelError::Io)?;
    let meta = json!({ "model": model.config(), "lora": model.lora_config() });
    let text = serde_json::to_string_pretty(&meta).expect("config serializes") + "\n";
    codex_core::write_bytes_atomic(native_meta_path(path), text.as_bytes()).map_err(ModelError::Io)
}

fn native_meta_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".json");
    PathBuf::from(p)
}

/// Load a model saved by [`save_native`].
pub fn load_native(path: &Path, device: &Device) -> Result<Transformer, ModelError> {
    let meta_path = native_meta_path(path);
    let text = std::fs::read_to_string(&meta_path).map_err(|e| io("cannot read", &meta_path, e))?;
    #[derive(serde::Deserialize)]
    struct Meta {
        model: ModelConfig,
        lora: Option<crate::lora::LoraConfig>,
    }
    let meta: Meta = serde_json::from_str(&text)
        .map_err(|e| weights_err(&meta_path, format!("invalid model metadata: {e}")))?;
    meta.model
        .validate()
        .map_err(|e| weights_err(&meta_path, e.to_string()))?;
    // The record stores every parameter in at least two bytes: a shape the
    // file cannot hold is refused before anything is allocated for it.
    let size = std::fs::metadata(path)
        .map_err(|e| io("cannot read", path, e))?
        .len();
    let wanted = meta.model.param_counts().total() as u64;
    if wanted.saturating_mul(2) > size {
        return Err(weights_err(
            &meta_path,
            format!(
                "declares a model of {wanted} parameters but `{}` has only {size} bytes",
                path.display()
            ),
        ));
    }
    let mut model = Transformer::build(&meta.model, &mut crate::params::Placeholder, device)?;
    if let Some(lora) = &meta.lora {
        model = model.attach_lora(lora, 0)?;
    }
    let bytes = std::fs::read(path).map_err(|e| io("cannot read", path, e))?;
    let record = burn::store::ModuleRecord::from_bytes(burn::tensor::Bytes::from_bytes_vec(bytes))
        .map_err(|e| weights_err(path, format!("not a valid burnpack record: {e}")))?;
    model
        .try_load_record(record)
        .map_err(|e| weights_err(path, format!("record does not fit the model: {e}")))
}

/// What a Hugging Face checkpoint directory holds, for `codex model inspect`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct WeightsSummary {
    /// The safetensors files (one, or every shard).
    pub files: Vec<PathBuf>,
    /// Values stored, by dtype name (`F32`, `BF16`, ...).
    pub dtypes: BTreeMap<String, usize>,
    /// Tensors in all files.
    pub tensors: usize,
    /// Values in all tensors.
    pub values: usize,
}

/// Summarize the safetensors of a Hugging Face checkpoint directory.
pub fn summarize_hf(dir: &Path) -> Result<WeightsSummary, ModelError> {
    let tensors = HfTensors::open(dir)?;
    let mut dtypes = BTreeMap::new();
    let mut count = 0;
    let mut values = 0;
    for file in &tensors.files {
        for entry in file.entries().values() {
            let n = entry.shape.iter().product::<usize>();
            *dtypes.entry(format!("{:?}", entry.dtype)).or_insert(0) += n;
            count += 1;
            values += n;
        }
    }
    let mut files: Vec<PathBuf> = tensors.files.iter().map(|f| f.path.clone()).collect();
    files.sort();
    Ok(WeightsSummary {
        files,
        dtypes,
        tensors: count,
        values,
    })
}
