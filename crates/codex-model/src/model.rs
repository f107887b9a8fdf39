//! The decoder-only transformer: one module tree for every family. GPT-2 and
//! the rotary families (Llama, Qwen2, Qwen3, Mistral, Phi-3, Gemma 2) share
//! the block; the rotary families differ only by the switches of
//! [`crate::Variant`] (biases, head width, q/k norms, rope scaling, partial
//! rotation, sliding window, score scale, soft caps), each a branch at the
//! one place it acts, and Gemma 2 by its norms around both sublayers, scaled
//! embedding and GeGLU ([`ModelConfig::is_gemma`]).
//!
//! Burn's own modules are used for every layer it has: [`Linear`], [`Embedding`],
//! [`LayerNorm`], [`RmsNorm`], [`Dropout`] and the fused attention op
//! [`burn::tensor::module::attention`]. Two pieces are codex's own, for reasons
//! Burn's versions cannot meet:
//!
//! - attention wiring: `burn::nn::attention::MultiHeadAttention` has neither
//!   grouped-query attention nor a hook for rotary embeddings between the
//!   projections and the scores, and its cache has no per-sequence padding;
//! - rotary embeddings: `burn::nn::RotaryEncoding` rotates interleaved pairs from
//!   one start offset shared by the whole batch. Left-padded batched generation
//!   needs a position per sequence, and Hugging Face checkpoints use the
//!   half-split ("rotate half") layout, so codex computes cos/sin from explicit
//!   position ids in that layout and imports weights without permuting them.

use burn::module::{Module, Param};
use burn::nn::{
    Dropout, DropoutConfig, Embedding, LayerNorm, LayerNormConfig, Linear, RmsNorm, RmsNormConfig,
};
use burn::tensor::activation::{gelu_approximate, log_softmax, silu, softmax};
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Bool, DType, Device, FloatDType, Int, Tensor, TensorData};
use codex_core::config::ModelFamily;

use crate::config::ModelConfig;
use crate::error::ModelError;
#[cfg(feature = "flex")]
use crate::fused;
use crate::lora::LoraAdapter;
use crate::params::{Init, ParamSource};

/// A linear projection that can carry a LoRA adapter.
#[derive(Module, Debug)]
pub struct Proj {
    /// The base weight (`[d_in, d_out]`, Burn's layout) and optional bias.
    pub base: Linear,
    /// Low-rank adapter added to the output while attached and not merged.
    pub lora: Option<LoraAdapter>,
}

impl Proj {
    fn build(
        source: &mut dyn ParamSource,
        name: &str,
        d_in: usize,
        d_out: usize,
        bias: bool,
        std: f64,
        device: &Device,
    ) -> Result<Self, ModelError> {
        let weight = source.get(&format!("{name}.weight"), &[d_in, d_out], Init::Normal(std))?;
        let bias = if bias {
            let b = source.get(&format!("{name}.bias"), &[d_out], Init::Zeros)?;
            Some(Param::from_tensor(Tensor::<1>::from_data(b, device)))
        } else {
            None
        };
        Ok(Self {
            base: Linear {
                weight: Param::from_tensor(Tensor::<2>::from_data(weight, device)),
                bias,
            },
            lora: None,
        })
    }

    /// `x W + b`, plus the adapter's contribution when one is attached and unmerged.
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        match &self.lora {
            Some(adapter) if !adapter.is_merged() => {
                let delta = adapter.forward(x.clone());
                linear(&self.base, x) + delta
            }
            _ => linear(&self.base, x),
        }
    }
}

/// `x W + b` over the last dimension: the fused kernel on flex f32 tensors
/// (one gemm over the flattened rows), Burn's `Linear` elsewhere.
fn linear<const D: usize>(layer: &Linear, x: Tensor<D>) -> Tensor<D> {
    #[cfg(feature = "flex")]
    if fused::route(&x).is_some() {
        let y = project(x, layer.weight.val());
        return match &layer.bias {
            Some(b) => y + b.val().unsqueeze(),
            None => y,
        };
    }
    layer.forward(x)
}

/// `x · w` over the last dimension, without bias: on flex f32 tensors the
/// fused kernel over the rows flattened (and shaped back), Burn's `linear`
/// elsewhere.
pub(crate) fn project<const D: usize>(x: Tensor<D>, w: Tensor<2>) -> Tensor<D> {
    #[cfg(feature = "flex")]
    if let Some(route) = fused::route(&x)
        && fused::route(&w) == Some(route)
    {
        let mut dims = x.dims();
        let k = dims[D - 1];
        let m = x.shape().num_elements() / k.max(1);
        dims[D - 1] = w.dims()[1];
        return fused::linear(route, x.reshape([m, k]), w).reshape(dims);
    }
    burn::tensor::module::linear(x, w, None)
}

/// Burn's `Dropout` semantics (active only under autodiff, with `prob > 0`),
/// through the fused hashed-mask kernel on flex f32 tensors.
pub(crate) fn dropout<const D: usize>(layer: &Dropout, x: Tensor<D>) -> Tensor<D> {
    #[cfg(feature = "flex")]
    if layer.prob > 0.0
        && let Some(route @ fused::Route::Autodiff) = fused::route(&x)
    {
        let drop = fused::AttnDropout {
            seed: fused::draw_seed(&x.device()),
            p: layer.prob as f32,
        };
        return fused::dropout(route, x, drop);
    }
    layer.forward(x)
}

/// LayerNorm (GPT-2), RMSNorm (the rotary families) or Gemma's RMSNorm.
#[derive(Module, Debug)]
pub enum Norm {
    /// Mean-centred, with bias.
    Layer(LayerNorm),
    /// Root-mean-square, scale only.
    Rms(RmsNorm),
    /// Root-mean-square scaled by `1 + w` (Gemma 2 stores `w`, initialized to 0).
    RmsPlusOne(RmsNorm),
}

impl Norm {
    fn build(
        source: &mut dyn ParamSource,
        name: &str,
        config: &ModelConfig,
        device: &Device,
    ) -> Result<Self, ModelError> {
        let d = config.d_model;
        let init = if config.is_gemma() {
            Init::Zeros
        } else {
            Init::Ones
        };
        let gamma = source.get(&format!("{name}.weight"), &[d], init)?;
        let gamma = Param::from_tensor(Tensor::<1>::from_data(gamma, device));
        if config.is_gemma() {
            return Ok(Norm::RmsPlusOne(rms_norm(gamma, config.norm_eps, device)));
        }
        Ok(match config.family {
            ModelFamily::Gpt2 => {
                let beta = source.get(&format!("{name}.bias"), &[d], Init::Zeros)?;
                let mut norm = LayerNormConfig::new(d)
                    .with_epsilon(config.norm_eps)
                    .init(device);
                norm.gamma = gamma;
                norm.beta = Some(Param::from_tensor(Tensor::<1>::from_data(beta, device)));
                Norm::Layer(norm)
            }
            _ => Norm::Rms(rms_norm(gamma, config.norm_eps, device)),
        })
    }

    /// `eps` is the model's `norm_eps`, which built the norm (Burn's
    /// `LayerNorm` keeps its own copy private).
    fn forward(&self, x: Tensor<3>, eps: f64) -> Tensor<3> {
        #[cfg(not(feature = "flex"))]
        let _ = eps;
        match self {
            Norm::Layer(n) => {
                #[cfg(feature = "flex")]
                if let Some(beta) = &n.beta {
                    let (gamma, beta) = (n.gamma.val(), beta.val());
                    if let Some(route) = fused::route(&x)
                        && fused::route(&gamma) == Some(route)
                        && fused::route(&beta) == Some(route)
                    {
                        let [b, t, d] = x.dims();
                        return fused::layer_norm(route, x.reshape([b * t, d]), gamma, beta, eps)
                            .reshape([b, t, d]);
                    }
                }
                n.forward(x)
            }
            Norm::Rms(n) => rms_rows(n, x),
            Norm::RmsPlusOne(n) => rms_plus_one(n, x),
        }
    }
}

fn rms_norm(gamma: Param<Tensor<1>>, eps: f64, device: &Device) -> RmsNorm {
    let mut norm = RmsNormConfig::new(gamma.dims()[0])
        .with_epsilon(eps)
        .init(device);
    norm.gamma = gamma;
    norm
}

/// RMSNorm over the last dimension of `[.., width]` rows, scaled by `gamma`,
/// through the fused kernel where `x` is a flex f32 tensor (`None` elsewhere).
fn fused_rms<const D: usize>(x: &Tensor<D>, gamma: &Tensor<1>, eps: f64) -> Option<Tensor<D>> {
    #[cfg(feature = "flex")]
    if let Some(route) = fused::route(x)
        && fused::route(gamma) == Some(route)
    {
        let dims = x.dims();
        let width = dims[D - 1];
        let rows = x.shape().num_elements() / width.max(1);
        let y = fused::rms_norm(route, x.clone().reshape([rows, width]), gamma.clone(), eps);
        return Some(y.reshape(dims));
    }
    #[cfg(not(feature = "flex"))]
    let _ = (x, gamma, eps);
    None
}

/// RMSNorm over the last dimension of `[.., width]` rows: the fused kernel on
/// flex f32 tensors, Burn's op elsewhere.
fn rms_rows<const D: usize>(norm: &RmsNorm, x: Tensor<D>) -> Tensor<D> {
    fused_rms(&x, &norm.gamma.val(), norm.epsilon).unwrap_or_else(|| norm.forward(x))
}

/// RMSNorm scaled by `1 + w` over the last dimension: the fused kernel with
/// `1 + w` as its scale on flex f32 tensors, Burn's ops elsewhere.
fn rms_plus_one<const D: usize>(norm: &RmsNorm, x: Tensor<D>) -> Tensor<D> {
    let scale = norm.gamma.val() + 1.0;
    fused_rms(&x, &scale, norm.epsilon).unwrap_or_else(|| {
        let rms = (x.clone().powi_scalar(2).mean_dim(D - 1) + norm.epsilon).sqrt();
        x / rms * scale.unsqueeze()
    })
}

/// Cos and sin of the rotary angles for one forward pass: `[batch, 1, seq, head_dim / 2]`.
#[derive(Debug, Clone)]
pub(crate) struct Rotary {
    cos: Tensor<4>,
    sin: Tensor<4>,
}

impl Rotary {
    fn new(positions: &Tensor<2, Int>, config: &ModelConfig, dtype: DType) -> Self {
        let half = config.rotary_dim() / 2;
        let device = positions.device();
        // Only dynamic scaling depends on how far the positions reach, as
        // transformers measures it: the largest position id plus one.
        let seq_len = match config.variant.rope_scaling {
            crate::config::RopeScaling::Dynamic { .. } => {
                positions.clone().max().into_scalar::<i64>().max(0) as usize + 1
            }
            _ => 0,
        };
        let inv_freq = config.inv_freq(seq_len);
        let inv_freq = Tensor::<1>::from_data(TensorData::new(inv_freq, [half]), &device);
        let [b, t] = positions.dims();
        let angles =
            positions.clone().float().reshape([b, 1, t, 1]) * inv_freq.reshape([1, 1, 1, half]);
        Self {
            cos: angles.clone().cos().cast(dtype),
            sin: angles.sin().cast(dtype),
        }
    }

    /// Rotate `[batch, heads, seq, head_dim]` in the half-split layout: the
    /// first `2 · half` dimensions (all, unless the rotation is partial).
    fn apply(&self, x: Tensor<4>) -> Tensor<4> {
        let [_, _, _, hd] = x.dims();
        let half = self.cos.dims()[3];
        let x1 = x.clone().narrow(3, 0, half);
        let x2 = x.clone().narrow(3, half, half);
        let r1 = x1.clone() * self.cos.clone() - x2.clone() * self.sin.clone();
        let r2 = x2 * self.cos.clone() + x1 * self.sin.clone();
        if 2 * half < hd {
            let rest = x.narrow(3, 2 * half, hd - 2 * half);
            return Tensor::cat(vec![r1, r2, rest], 3);
        }
        Tensor::cat(vec![r1, r2], 3)
    }
}

/// Keys and values of one layer for the positions seen so far.
#[derive(Debug, Clone)]
struct LayerCache {
    k: Tensor<4>,
    v: Tensor<4>,
}

/// The key/value cache of a whole model, for incremental decoding.
#[derive(Debug, Clone, Default)]
pub struct KvCache {
    layers: Vec<Option<LayerCache>>,
    len: usize,
}

impl KvCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Positions already cached.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is cached yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The cache of a one-sequence batch repeated `n` times: a shared
    /// prompt, read once, continued `n` ways.
    pub fn repeat_batch(&self, n: usize) -> Self {
        Self {
            layers: self
                .layers
                .iter()
                .map(|l| {
                    l.as_ref().map(|l| LayerCache {
                        k: l.k.clone().repeat_dim(0, n),
                        v: l.v.clone().repeat_dim(0, n),
                    })
                })
                .collect(),
            len: self.len,
        }
    }
}

/// Grouped-query self-attention with optional rotary embeddings.
#[derive(Module, Debug)]
pub struct Attention {
    /// Query projection.
    pub q_proj: Proj,
    /// Key projection (`n_kv_head` heads).
    pub k_proj: Proj,
    /// Value projection (`n_kv_head` heads).
    pub v_proj: Proj,
    /// Output projection.
    pub o_proj: Proj,
    /// RMSNorm over each query head before the rotation (Qwen3).
    pub q_norm: Option<RmsNorm>,
    /// RMSNorm over each key head before the rotation (Qwen3).
    pub k_norm: Option<RmsNorm>,
    attn_drop: Dropout,
    resid_drop: Dropout,
    n_head: usize,
    n_kv_head: usize,
    head_dim: usize,
    /// The sliding window of this layer, if it has one.
    window: Option<usize>,
    /// Score scale other than `head_dim^(-1/2)` (Gemma 2).
    #[module(skip)]
    scale: Option<f64>,
    /// Soft cap of the scores (Gemma 2).
    #[module(skip)]
    softcap: Option<f64>,
}

impl Attention {
    fn build(
        source: &mut dyn ParamSource,
        name: &str,
        layer: usize,
        config: &ModelConfig,
        device: &Device,
    ) -> Result<Self, ModelError> {
        let (d, hd) = (config.d_model, config.head_dim());
        let (q, kv) = (config.n_head * hd, config.n_kv_head * hd);
        let (qkv_bias, o_bias, _) = config.biases();
        let std = 0.02;
        let resid_std = 0.02 / ((2 * config.n_layer) as f64).sqrt();
        let head_norm = |source: &mut dyn ParamSource, which: &str| {
            if !config.variant.qk_norm {
                return Ok::<_, ModelError>(None);
            }
            let gamma = source.get(&format!("{name}.{which}.weight"), &[hd], Init::Ones)?;
            let gamma = Param::from_tensor(Tensor::<1>::from_data(gamma, device));
            Ok(Some(rms_norm(gamma, config.norm_eps, device)))
        };
        Ok(Self {
            q_proj: Proj::build(
                source,
                &format!("{name}.q_proj"),
                d,
                q,
                qkv_bias,
                std,
                device,
            )?,
            k_proj: Proj::build(
                source,
                &format!("{name}.k_proj"),
                d,
                kv,
                qkv_bias,
                std,
                device,
            )?,
            v_proj: Proj::build(
                source,
                &format!("{name}.v_proj"),
                d,
                kv,
                qkv_bias,
                std,
                device,
            )?,
            o_proj: Proj::build(
                source,
                &format!("{name}.o_proj"),
                q,
                d,
                o_bias,
                resid_std,
                device,
            )?,
            q_norm: head_norm(source, "q_norm")?,
            k_norm: head_norm(source, "k_norm")?,
            attn_drop: DropoutConfig::new(config.dropout).init(),
            resid_drop: DropoutConfig::new(config.dropout).init(),
            n_head: config.n_head,
            n_kv_head: config.n_kv_head,
            head_dim: hd,
            window: config.window(layer),
            scale: config
                .variant
                .query_pre_attn_scalar
                .map(|_| config.attn_scale()),
            softcap: config.variant.attn_softcap,
        })
    }

    /// The sliding window of this layer, if it has one.
    pub fn window(&self) -> Option<usize> {
        self.window
    }

    /// The query, key and value heads of `x`, `[b, t, heads, head_dim]`,
    /// with the per-head norms applied.
    fn qkv(&self, x: &Tensor<3>) -> (Tensor<4>, Tensor<4>, Tensor<4>) {
        let [b, t, _] = x.dims();
        let split = |p: &Proj, n: usize| p.forward(x.clone()).reshape([b, t, n, self.head_dim]);
        let (mut q, mut k) = (
            split(&self.q_proj, self.n_head),
            split(&self.k_proj, self.n_kv_head),
        );
        if let Some(norm) = &self.q_norm {
            q = rms_rows(norm, q);
        }
        if let Some(norm) = &self.k_norm {
            k = rms_rows(norm, k);
        }
        (q, k, split(&self.v_proj, self.n_kv_head))
    }

    /// `masks` holds what padding and the window hide; without padding or
    /// cache the fused kernel (flex, f32) applies the causal mask and the
    /// window itself.
    fn forward(
        &self,
        x: Tensor<3>,
        rotary: Option<&Rotary>,
        masks: &Masks,
        cache: Option<&mut Option<LayerCache>>,
    ) -> Tensor<3> {
        let [b, t, _] = x.dims();
        let (h, kvh, hd) = (self.n_head, self.n_kv_head, self.head_dim);
        let training_dropout = self.attn_drop.prob > 0.0 && x.device().is_autodiff();
        #[cfg(feature = "flex")]
        if cache.is_none()
            && !masks.padded
            && let Some(route) = fused::route(&x)
        {
            // Causal attention from position 0 with the rotation inside one kernel.
            let (q, k, v) = self.qkv(&x);
            // The projections and rotary tables live where `x` does, in its dtype.
            let rope = rotary.map(|r| {
                let half = r.cos.dims()[3];
                (
                    r.cos.clone().reshape([b, t, half]),
                    r.sin.clone().reshape([b, t, half]),
                )
            });
            // Dropout's mask comes from a hash seeded by two draws of the
            // device's generator, which training reseeds every step.
            let drop = training_dropout.then(|| fused::AttnDropout {
                seed: fused::draw_seed(&x.device()),
                p: self.attn_drop.prob as f32,
            });
            let options = fused::AttnOptions {
                window: self.window,
                scale: self.scale.map(|s| s as f32),
                softcap: self.softcap.map(|c| c as f32),
                starts: masks.starts.clone(),
            };
            let context =
                fused::attention(route, q, k, v, rope, drop, options).reshape([b, t, h * hd]);
            return dropout(&self.resid_drop, self.o_proj.forward(context));
        }
        let (q, k, v) = self.qkv(&x);
        let (mut q, mut k, mut v) = (q.swap_dims(1, 2), k.swap_dims(1, 2), v.swap_dims(1, 2));
        let mask = masks.get(self.window);
        if let Some(rotary) = rotary {
            q = rotary.apply(q);
            k = rotary.apply(k);
        }
        if let Some(slot) = cache {
            if let Some(past) = slot.take() {
                k = Tensor::cat(vec![past.k, k], 2);
                v = Tensor::cat(vec![past.v, v], 2);
            }
            *slot = Some(LayerCache {
                k: k.clone(),
                v: v.clone(),
            });
        }
        if kvh != h {
            let rep = h / kvh;
            let expand = |x: Tensor<4>| {
                let [b, _, s, _] = x.dims();
                x.unsqueeze_dim::<5>(2)
                    .expand([b, kvh, rep, s, hd])
                    .reshape([b, h, s, hd])
            };
            k = expand(k);
            v = expand(v);
        }
        let scale = self.scale.unwrap_or(1.0 / (hd as f64).sqrt());
        let context = if training_dropout || self.softcap.is_some() {
            // Burn's fused op has no dropout on the probabilities, so the training
            // path with dropout spells the attention out; so does a soft cap,
            // computed as transformers does (scale, cap, mask, softmax).
            let [_, _, tq, tk] = [b, h, t, k.dims()[2]];
            let mut scores = q.matmul(k.swap_dims(2, 3)) * scale;
            if let Some(cap) = self.softcap {
                scores = (scores / cap).tanh() * cap;
            }
            let mask = match mask {
                Some(m) => m.clone(),
                None => causal_mask(b, tq, tk, &scores.device()),
            };
            let scores = scores.mask_fill(mask, f32::NEG_INFINITY);
            let probs = self.attn_drop.forward(softmax(scores, 3));
            probs.matmul(v)
        } else {
            let options = AttentionModuleOptions {
                is_causal: mask.is_none(),
                scale: self.scale,
                ..AttentionModuleOptions::default()
            };
            attention(q, k, v, mask.cloned(), None, options)
        };
        let out = context.swap_dims(1, 2).reshape([b, t, h * hd]);
        dropout(&self.resid_drop, self.o_proj.forward(out))
    }
}

/// The attention masks of one forward pass, `[batch, heads, seq, past + seq]`,
/// true where a query must not see a key: with padding, `padding` (causal
/// and padding), and for each sliding window the same with the keys out of
/// the window added. `None` is the plain causal mask, which attention
/// applies itself.
struct Masks {
    padding: Option<Tensor<4, Bool>>,
    windowed: Vec<(usize, Tensor<4, Bool>)>,
    /// Whether a padding mask was given (the fused kernel takes none).
    #[cfg_attr(
        not(feature = "flex"),
        allow(dead_code, reason = "read by the flex attention path only")
    )]
    padded: bool,
    /// Where each token's packed example starts, `[b · t]`, for the fused
    /// kernel (the tensor masks above hold the same for the composed path).
    #[cfg_attr(
        not(feature = "flex"),
        allow(dead_code, reason = "read by the flex attention path only")
    )]
    starts: Option<std::sync::Arc<Vec<u32>>>,
}

impl Masks {
    fn get(&self, window: Option<usize>) -> Option<&Tensor<4, Bool>> {
        match window {
            Some(w) => self
                .windowed
                .iter()
                .find(|(size, _)| *size == w)
                .map(|(_, m)| m),
            None => self.padding.as_ref(),
        }
    }
}

/// An integer tensor's values on the host.
fn host_u32(t: Tensor<2, Int>) -> Vec<u32> {
    t.into_data()
        .convert::<i64>()
        .iter::<i64>()
        .map(|s| s as u32)
        .collect()
}

/// `[batch, 1, tq, tk]`, true where a query must not see a key (bottom-right aligned).
fn causal_mask(b: usize, tq: usize, tk: usize, device: &Device) -> Tensor<4, Bool> {
    let offset = (tk - tq) as i64;
    let rows = Tensor::<1, Int>::arange(offset..offset + tq as i64, device).reshape([tq, 1]);
    let cols = Tensor::<1, Int>::arange(0..tk as i64, device).reshape([1, tk]);
    cols.greater(rows)
        .reshape([1, 1, tq, tk])
        .expand([b, 1, tq, tk])
}

/// The feed-forward block: tanh-GELU (GPT-2) or SwiGLU (Llama).
#[derive(Module, Debug)]
pub struct Mlp {
    /// SwiGLU gate (Llama only).
    pub gate_proj: Option<Proj>,
    /// Up projection (`c_fc` in GPT-2).
    pub up_proj: Proj,
    /// Down projection (`c_proj` in GPT-2).
    pub down_proj: Proj,
    drop: Dropout,
    /// The gate's activation is tanh-GELU (GeGLU, Gemma 2) instead of SiLU.
    gelu_gate: bool,
}

impl Mlp {
    fn build(
        source: &mut dyn ParamSource,
        name: &str,
        config: &ModelConfig,
        device: &Device,
    ) -> Result<Self, ModelError> {
        let (d, f) = (config.d_model, config.d_ff);
        let (_, _, bias) = config.biases();
        let resid_std = 0.02 / ((2 * config.n_layer) as f64).sqrt();
        let gate_proj = if config.family.is_rotary() {
            Some(Proj::build(
                source,
                &format!("{name}.gate_proj"),
                d,
                f,
                bias,
                0.02,
                device,
            )?)
        } else {
            None
        };
        Ok(Self {
            gate_proj,
            up_proj: Proj::build(source, &format!("{name}.up_proj"), d, f, bias, 0.02, device)?,
            down_proj: Proj::build(
                source,
                &format!("{name}.down_proj"),
                f,
                d,
                bias,
                resid_std,
                device,
            )?,
            drop: DropoutConfig::new(config.dropout).init(),
            gelu_gate: config.is_gemma(),
        })
    }

    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let hidden = match &self.gate_proj {
            Some(gate) => {
                let (g, u) = (gate.forward(x.clone()), self.up_proj.forward(x));
                #[cfg(feature = "flex")]
                if let Some(route) = fused::route(&g)
                    && fused::route(&u) == Some(route)
                {
                    let h = if self.gelu_gate {
                        fused::geglu(route, g, u)
                    } else {
                        fused::swiglu(route, g, u)
                    };
                    return dropout(&self.drop, self.down_proj.forward(h));
                }
                if self.gelu_gate {
                    gelu_approximate(g) * u
                } else {
                    silu(g) * u
                }
            }
            None => {
                let u = self.up_proj.forward(x);
                #[cfg(feature = "flex")]
                if let Some(route) = fused::route(&u) {
                    return dropout(&self.drop, self.down_proj.forward(fused::gelu(route, u)));
                }
                gelu_approximate(u)
            }
        };
        dropout(&self.drop, self.down_proj.forward(hidden))
    }
}

/// One pre-norm transformer block.
#[derive(Module, Debug)]
pub struct Block {
    /// Norm before attention.
    pub ln_1: Norm,
    /// Self-attention.
    pub attn: Attention,
    /// Norm before the MLP.
    pub ln_2: Norm,
    /// Feed-forward.
    pub mlp: Mlp,
    /// Norm of the attention's output before the residual add (Gemma 2).
    pub ln_post_attn: Option<Norm>,
    /// Norm of the MLP's output before the residual add (Gemma 2).
    pub ln_post_mlp: Option<Norm>,
}

/// A decoder-only transformer language model.
#[derive(Module, Debug)]
pub struct Transformer {
    /// Token embedding `[vocab, d_model]`; also the output projection when tied.
    pub wte: Embedding,
    /// Learned positions `[context, d_model]` (GPT-2 family).
    pub wpe: Option<Embedding>,
    /// The blocks.
    pub blocks: Vec<Block>,
    /// Final norm.
    pub ln_f: Norm,
    /// Untied output projection `[d_model, vocab]`.
    pub lm_head: Option<Linear>,
    drop: Dropout,
    #[module(skip)]
    config: ModelConfig,
    #[module(skip)]
    pub(crate) lora: Option<crate::lora::LoraConfig>,
}

/// Extra inputs of one forward pass; the default is a plain causal pass from position 0.
#[derive(Debug, Default)]
pub struct ForwardOptions<'a> {
    /// Position of every input token, `[batch, seq]`; default `cache.len()..`.
    pub positions: Option<Tensor<2, Int>>,
    /// Padding of every key (cached and new), `[batch, cache + seq]`, true for padding.
    pub key_padding: Option<Tensor<2, Bool>>,
    /// Key/value cache to read and extend.
    pub cache: Option<&'a mut KvCache>,
    /// Packed examples, `[batch, seq]`: the position in its row where each
    /// token's example starts. No token attends to a key before it, so each
    /// example sees only itself (give `positions` restarting at each example
    /// too). Not with a cache.
    pub segment_starts: Option<Tensor<2, Int>>,
}

impl Transformer {
    /// A freshly initialized model: N(0, 0.02) weights, residual projections scaled
    /// by `1/sqrt(2 n_layer)`, zero biases, unit norms. The values come from codex's
    /// own seeded generator on the host, so they are the same on every backend.
    pub fn init(config: &ModelConfig, seed: u64, device: &Device) -> Result<Self, ModelError> {
        Self::build(config, &mut crate::params::RandomInit::new(seed), device)
    }

    /// Build the module tree, taking every parameter from `source` by codex name.
    pub fn build(
        config: &ModelConfig,
        source: &mut dyn ParamSource,
        device: &Device,
    ) -> Result<Self, ModelError> {
        config.validate()?;
        let (v, d) = (config.vocab_size, config.d_model);
        let embedding = |source: &mut dyn ParamSource, name: &str, rows: usize| {
            let w = source.get(name, &[rows, d], Init::Normal(0.02))?;
            Ok::<_, ModelError>(Embedding {
                weight: Param::from_tensor(Tensor::<2>::from_data(w, device)),
            })
        };
        let wte = embedding(source, "wte.weight", v)?;
        let wpe = if config.family.is_rotary() {
            None
        } else {
            Some(embedding(source, "wpe.weight", config.context_length)?)
        };
        let post_norm = |source: &mut dyn ParamSource, name: &str| {
            if config.is_gemma() {
                Norm::build(source, name, config, device).map(Some)
            } else {
                Ok(None)
            }
        };
        let mut blocks = Vec::with_capacity(config.n_layer);
        for i in 0..config.n_layer {
            let name = format!("blocks.{i}");
            blocks.push(Block {
                ln_1: Norm::build(source, &format!("{name}.ln_1"), config, device)?,
                attn: Attention::build(source, &format!("{name}.attn"), i, config, device)?,
                ln_2: Norm::build(source, &format!("{name}.ln_2"), config, device)?,
                mlp: Mlp::build(source, &format!("{name}.mlp"), config, device)?,
                ln_post_attn: post_norm(source, &format!("{name}.ln_post_attn"))?,
                ln_post_mlp: post_norm(source, &format!("{name}.ln_post_mlp"))?,
            });
        }
        let ln_f = Norm::build(source, "ln_f", config, device)?;
        let lm_head = if config.tie_embeddings {
            None
        } else {
            let w = source.get("lm_head.weight", &[d, v], Init::Normal(0.02))?;
            Some(Linear {
                weight: Param::from_tensor(Tensor::<2>::from_data(w, device)),
                bias: None,
            })
        };
        Ok(crate::params::path_ids(Self {
            wte,
            wpe,
            blocks,
            ln_f,
            lm_head,
            drop: DropoutConfig::new(config.dropout).init(),
            config: config.clone(),
            lora: None,
        }))
    }

    /// The same model with every parameter stored and computed in `dtype`
    /// (`F32`, `F16`, `BF16`); an error where the device cannot hold that dtype.
    pub fn cast(self, dtype: FloatDType) -> Result<Self, ModelError> {
        let device = self.wte.weight.val().device();
        if !device.supports_dtype(DType::from(dtype)) {
            return Err(ModelError::DTypeUnsupported {
                dtype: format!("{dtype:?}"),
                device: format!("{device:?}"),
            });
        }
        struct Cast(FloatDType);
        impl burn::module::ModuleMapper for Cast {
            fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
                let dtype = self.0;
                param.map(|t| t.cast(dtype))
            }
        }
        Ok(self.map(&mut Cast(dtype)))
    }

    /// The dtype the parameters are stored in.
    pub fn dtype(&self) -> DType {
        self.wte.weight.val().dtype()
    }

    /// The model's shape.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// Logits `[batch, seq, vocab]` of a causal pass over `tokens` from position 0.
    pub fn forward(&self, tokens: Tensor<2, Int>) -> Result<Tensor<3>, ModelError> {
        self.forward_with(tokens, ForwardOptions::default())
    }

    /// Logits `[batch, seq, vocab]` with explicit positions, padding and cache.
    pub fn forward_with(
        &self,
        tokens: Tensor<2, Int>,
        options: ForwardOptions<'_>,
    ) -> Result<Tensor<3>, ModelError> {
        let logits = self.uncapped_logits(tokens, options)?;
        Ok(match self.final_cap() {
            Some(cap) => {
                #[cfg(feature = "flex")]
                if let Some(route) = fused::route(&logits) {
                    return Ok(fused::softcap(route, logits, cap));
                }
                (logits / cap).tanh() * cap
            }
            None => logits,
        })
    }

    /// The loss of a causal pass over `tokens` against `targets` `[batch, seq]`
    /// (targets equal to `ignore_index` count neither in the loss nor in the
    /// accuracy): [`cross_entropy`] of the logits [`Transformer::forward_with`]
    /// returns, computed in f32 whatever the model's dtype, with Gemma 2's final
    /// soft cap folded into the fused kernel's pass over each row.
    pub fn loss(
        &self,
        tokens: Tensor<2, Int>,
        targets: Tensor<2, Int>,
        ignore_index: Option<i64>,
        options: ForwardOptions<'_>,
    ) -> Result<LossOutput, ModelError> {
        let logits = self.uncapped_logits(tokens, options)?.cast(FloatDType::F32);
        Ok(capped_cross_entropy(
            logits,
            targets,
            ignore_index,
            self.final_cap(),
        ))
    }

    fn final_cap(&self) -> Option<f32> {
        self.config.variant.final_softcap.map(|c| c as f32)
    }

    /// The logits before the final soft cap.
    fn uncapped_logits(
        &self,
        tokens: Tensor<2, Int>,
        options: ForwardOptions<'_>,
    ) -> Result<Tensor<3>, ModelError> {
        let [b, t] = tokens.dims();
        let device = tokens.device();
        let ForwardOptions {
            positions,
            key_padding,
            mut cache,
            segment_starts,
        } = options;
        let past = cache.as_ref().map_or(0, |c| c.len);
        if past + t > self.config.context_length {
            return Err(ModelError::SequenceTooLong {
                len: past + t,
                max: self.config.context_length,
            });
        }
        let positions = match positions {
            Some(p) => p,
            None => Tensor::<1, Int>::arange(past as i64..(past + t) as i64, &device)
                .reshape([1, t])
                .expand([b, t]),
        };
        let mut x = self.wte.forward(tokens);
        if self.config.is_gemma() {
            // Gemma scales the embedding by √d_model, rounded to the dtype.
            x = x * (self.config.d_model as f64).sqrt() as f32;
        }
        if let Some(wpe) = &self.wpe {
            x = x + wpe.forward(positions.clone());
        }
        x = dropout(&self.drop, x);
        let rotary = self
            .config
            .family
            .is_rotary()
            .then(|| Rotary::new(&positions, &self.config, x.dtype()));
        if segment_starts.is_some() && past > 0 {
            return Err(ModelError::InvalidConfig {
                key: "segment_starts".into(),
                message: "packed examples cannot be read with a key/value cache".into(),
            });
        }
        // The fused kernel applies the causal mask, windows and packed
        // examples itself; the tensor masks are built only for the other path.
        #[cfg(feature = "flex")]
        let fused = cache.is_none() && key_padding.is_none() && fused::route(&x).is_some();
        #[cfg(not(feature = "flex"))]
        let fused = false;
        let masks = if fused {
            Masks {
                padding: None,
                windowed: Vec::new(),
                padded: false,
                starts: segment_starts.map(|s| std::sync::Arc::new(host_u32(s))),
            }
        } else {
            self.masks(b, t, past, key_padding, segment_starts, &device)
        };
        if let Some(c) = cache.as_deref_mut()
            && c.layers.len() != self.blocks.len()
        {
            c.layers = vec![None; self.blocks.len()];
        }
        for (i, block) in self.blocks.iter().enumerate() {
            let slot = cache.as_deref_mut().map(|c| &mut c.layers[i]);
            let eps = self.config.norm_eps;
            let h = block.ln_1.forward(x.clone(), eps);
            let mut a = block.attn.forward(h, rotary.as_ref(), &masks, slot);
            if let Some(norm) = &block.ln_post_attn {
                a = norm.forward(a, eps);
            }
            x = x + a;
            let h = block.ln_2.forward(x.clone(), eps);
            let mut m = block.mlp.forward(h);
            if let Some(norm) = &block.ln_post_mlp {
                m = norm.forward(m, eps);
            }
            x = x + m;
        }
        if let Some(c) = cache {
            c.len += t;
        }
        let x = self.ln_f.forward(x, self.config.norm_eps);
        Ok(match &self.lm_head {
            Some(head) => linear(head, x),
            None => project(x, self.wte.weight.val().transpose()),
        })
    }
}

impl Transformer {
    /// The masks of a pass of `t` new positions after `past` cached ones:
    /// padding (a padding query may still see itself, so no row is entirely
    /// masked) and, for each layer's sliding window, the keys `w` or more
    /// positions before the query.
    fn masks(
        &self,
        b: usize,
        t: usize,
        past: usize,
        key_padding: Option<Tensor<2, Bool>>,
        segment_starts: Option<Tensor<2, Int>>,
        device: &Device,
    ) -> Masks {
        let tk = past + t;
        let h = self.config.n_head;
        let rows = || Tensor::<1, Int>::arange(past as i64..tk as i64, device).reshape([t, 1]);
        let cols = || Tensor::<1, Int>::arange(0..tk as i64, device).reshape([1, tk]);
        let padded = key_padding.is_some();
        let mut base = key_padding.map(|pad| {
            let not_self = cols()
                .not_equal(rows())
                .reshape([1, 1, t, tk])
                .expand([b, 1, t, tk]);
            let pad = pad.reshape([b, 1, 1, tk]).expand([b, 1, t, tk]);
            causal_mask(b, t, tk, device).bool_or(pad.bool_and(not_self))
        });
        let mut starts = None;
        if let Some(seg) = segment_starts {
            starts = Some(std::sync::Arc::new(host_u32(seg.clone())));
            // Keys before the query's example start are hidden.
            let before = cols()
                .reshape([1, 1, 1, tk])
                .expand([b, 1, t, tk])
                .lower(seg.reshape([b, 1, t, 1]).expand([b, 1, t, tk]));
            let causal = base.take().unwrap_or_else(|| causal_mask(b, t, tk, device));
            base = Some(causal.bool_or(before));
        }
        let mut windowed: Vec<(usize, Tensor<4, Bool>)> = Vec::new();
        for block in &self.blocks {
            let Some(w) = block.attn.window else { continue };
            if windowed.iter().any(|(size, _)| *size == w) {
                continue;
            }
            let far = cols()
                .add_scalar(w as i64)
                .lower_equal(rows())
                .reshape([1, 1, t, tk])
                .expand([b, 1, t, tk]);
            let base = base
                .clone()
                .unwrap_or_else(|| causal_mask(b, t, tk, device));
            windowed.push((w, base.bool_or(far).expand([b, h, t, tk])));
        }
        Masks {
            padding: base.map(|m| m.expand([b, h, t, tk])),
            windowed,
            padded,
            starts,
        }
    }
}

/// Summed negative log-likelihood and counts of one batch.
#[derive(Debug, Clone)]
pub struct LossOutput {
    /// Mean cross-entropy over the counted targets (differentiable).
    pub loss: Tensor<1>,
    /// Sum of the per-token negative log-likelihoods.
    pub nll_sum: Tensor<1>,
    /// Targets that count (not equal to the ignore index).
    pub count: Tensor<1, Int>,
    /// Counted targets the argmax predicted.
    pub correct: Tensor<1, Int>,
}

/// Cross-entropy of `logits` `[batch, seq, vocab]` against `targets` `[batch, seq]`;
/// targets equal to `ignore_index` count neither in the loss nor in the accuracy.
///
/// Burn's `CrossEntropyLoss` returns only the mean, and corpus perplexity needs the
/// sum and the count, so the few lines are codex's own.
pub fn cross_entropy(
    logits: Tensor<3>,
    targets: Tensor<2, Int>,
    ignore_index: Option<i64>,
) -> LossOutput {
    capped_cross_entropy(logits, targets, ignore_index, None)
}

/// [`cross_entropy`] of `cap · tanh(logits / cap)` with a cap.
fn capped_cross_entropy(
    logits: Tensor<3>,
    targets: Tensor<2, Int>,
    ignore_index: Option<i64>,
    cap: Option<f32>,
) -> LossOutput {
    let [b, t, v] = logits.dims();
    #[cfg(feature = "flex")]
    if let Some(route) = fused::route(&logits) {
        // One pass over each row of logits: NLL, argmax hit and, backward, the
        // gradient written over the logits' buffer.
        let targets = targets.reshape([b * t]);
        let rows = fused::cross_entropy(
            route,
            logits.reshape([b * t, v]),
            targets.clone(),
            fused::CeOptions {
                ignore: ignore_index,
                cap,
            },
        );
        let nll_sum = rows.clone().narrow(1, 0, 1).sum();
        let correct = rows.narrow(1, 1, 1).detach().sum().int();
        let count = match ignore_index {
            Some(i) => targets.not_equal_elem(i).int().sum(),
            None => Tensor::<1, Int>::from_data(
                TensorData::new(vec![(b * t) as i64], [1]),
                &targets.device(),
            ),
        };
        let loss = nll_sum.clone() / count.clone().float().clamp_min(1.0);
        return LossOutput {
            loss,
            nll_sum,
            count,
            correct,
        };
    }
    let mut logits = logits.reshape([b * t, v]);
    if let Some(cap) = cap {
        logits = (logits / cap).tanh() * cap;
    }
    let targets = targets.reshape([b * t, 1]);
    let ignored = match ignore_index {
        Some(i) => targets.clone().equal_elem(i),
        None => targets
            .clone()
            .equal_elem(-1)
            .bool_and(targets.clone().equal_elem(-2)),
    };
    let safe_targets = targets.clone().mask_fill(ignored.clone(), 0);
    let predicted = logits.clone().argmax(1);
    let logp = log_softmax(logits, 1).gather(1, safe_targets);
    let keep = ignored.clone().bool_not();
    let nll = logp.neg().mask_fill(ignored, 0.0);
    let nll_sum = nll.sum();
    let count = keep.clone().int().sum();
    let correct = predicted.equal(targets).bool_and(keep).int().sum();
    let loss = nll_sum.clone() / count.clone().float().clamp_min(1.0);
    LossOutput {
        loss,
        nll_sum,
        count,
        correct,
    }
}
