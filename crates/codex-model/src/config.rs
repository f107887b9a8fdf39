//! The transformer's shape: one config for every family, named architectures,
//! parameter counts, rotary frequencies and the FLOPs estimate used for MFU.

use codex_core::Registry;
use codex_core::config::{ModelFamily, ModelSection};
use serde::{Deserialize, Serialize};

use crate::error::ModelError;

/// Everything that fixes a model's shape and numerics.
///
/// GPT-2 family: learned absolute positions, LayerNorm, tanh-GELU MLP, biases,
/// tied embeddings. Rotary families (Llama, Qwen2, Qwen3, Mistral): rotary
/// positions, RMSNorm, SwiGLU MLP, grouped-query attention, tied or untied
/// embeddings, and what [`Variant`] switches on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Architecture family.
    pub family: ModelFamily,
    /// Vocabulary size (rows of the token embedding).
    pub vocab_size: usize,
    /// Transformer blocks.
    pub n_layer: usize,
    /// Query heads.
    pub n_head: usize,
    /// Key/value heads; `n_head` for plain multi-head attention.
    pub n_kv_head: usize,
    /// Residual stream width.
    pub d_model: usize,
    /// MLP hidden width.
    pub d_ff: usize,
    /// Maximum sequence length (positions).
    pub context_length: usize,
    /// Dropout on embeddings, attention probabilities and residual branches while training.
    pub dropout: f64,
    /// Rotary base (Llama family).
    pub rope_theta: f64,
    /// Output projection shares the token embedding.
    pub tie_embeddings: bool,
    /// Epsilon of LayerNorm / RMSNorm.
    pub norm_eps: f64,
    /// What the rotary families add to the shared math; all off by default.
    #[serde(default, skip_serializing_if = "Variant::is_plain")]
    pub variant: Variant,
}

/// The switches by which the rotary families differ from plain Llama, each
/// as its `transformers` implementation computes it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    /// Width of one attention head when it is not `d_model / n_head`
    /// (`head_dim` in `config.json`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_dim: Option<usize>,
    /// Biases on the query, key and value projections (Qwen2; Llama's and
    /// Qwen3's `attention_bias`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub qkv_bias: bool,
    /// A bias on the attention's output projection (`attention_bias` of
    /// Llama and Qwen3; never in Qwen2).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub o_bias: bool,
    /// Biases on the MLP's three projections (Llama's `mlp_bias`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub mlp_bias: bool,
    /// How the rotary frequencies are scaled.
    #[serde(default, skip_serializing_if = "RopeScaling::is_default")]
    pub rope_scaling: RopeScaling,
    /// An RMSNorm over each query and key head, before the rotation (Qwen3).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub qk_norm: bool,
    /// Keys further than this many positions back (the query's own counts
    /// as one) are not attended to, on the layers `window_layers` names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sliding_window: Option<usize>,
    /// Which layers use `sliding_window`, one flag per layer; empty means
    /// every layer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub window_layers: Vec<bool>,
    /// How many leading dimensions of each head rotate, when not all of
    /// them (Phi-3's `partial_rotary_factor`); the rest pass through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotary_dim: Option<usize>,
    /// Scores are scaled by `query_pre_attn_scalar^(-1/2)` instead of
    /// `head_dim^(-1/2)` (Gemma 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_pre_attn_scalar: Option<f64>,
    /// `cap · tanh(s / cap)` on the attention scores before the softmax
    /// (Gemma 2's `attn_logit_softcapping`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attn_softcap: Option<f64>,
    /// `cap · tanh(z / cap)` on the output logits (Gemma 2's
    /// `final_logit_softcapping`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_softcap: Option<f64>,
}

impl Variant {
    /// Plain Llama (or GPT-2): nothing switched on.
    pub fn is_plain(&self) -> bool {
        *self == Self::default()
    }

    /// The switches that are on, in words (`None` when none is).
    pub fn describe(&self, n_layer: usize) -> Option<String> {
        let mut parts = Vec::new();
        if let Some(hd) = self.head_dim {
            parts.push(format!("head_dim {hd}"));
        }
        match (self.qkv_bias, self.o_bias) {
            (true, true) => parts.push("attention biases".to_owned()),
            (true, false) => parts.push("q/k/v biases".to_owned()),
            (false, true) => parts.push("output projection bias".to_owned()),
            (false, false) => {}
        }
        if self.mlp_bias {
            parts.push("mlp biases".to_owned());
        }
        if self.qk_norm {
            parts.push("q/k head norms".to_owned());
        }
        if let Some(r) = self.rotary_dim {
            parts.push(format!("rotary on {r} dimensions of each head"));
        }
        if let Some(q) = self.query_pre_attn_scalar {
            parts.push(format!("scores scaled by {q}^-1/2"));
        }
        if let Some(cap) = self.attn_softcap {
            parts.push(format!("scores capped at {cap}"));
        }
        if let Some(cap) = self.final_softcap {
            parts.push(format!("logits capped at {cap}"));
        }
        match self.rope_scaling {
            RopeScaling::Default => {}
            RopeScaling::Linear { factor } => parts.push(format!("rope linear ×{factor}")),
            RopeScaling::Dynamic {
                factor,
                original_max_position_embeddings: l,
            } => parts.push(format!("rope dynamic ×{factor} past {l} positions")),
            RopeScaling::Llama3 {
                factor,
                original_max_position_embeddings: l,
                ..
            } => parts.push(format!("rope llama3 ×{factor} (original context {l})")),
        }
        if let Some(w) = self.sliding_window {
            let on = if self.window_layers.is_empty() {
                n_layer
            } else {
                self.window_layers.iter().filter(|&&on| on).count()
            };
            parts.push(format!("sliding window {w} on {on} of {n_layer} layers"));
        }
        (!parts.is_empty()).then(|| parts.join(", "))
    }

    /// What a family's configuration implies before a checkpoint says more:
    /// Qwen2's q/k/v biases, Qwen3's q/k norms.
    pub fn for_family(family: ModelFamily) -> Self {
        Self {
            qkv_bias: family == ModelFamily::Qwen2,
            qk_norm: family == ModelFamily::Qwen3,
            ..Self::default()
        }
    }
}

/// How rotary frequencies are scaled: `transformers`' `rope_type` values
/// `default`, `linear`, `dynamic` and `llama3` (see
/// [`ModelConfig::inv_freq`]). Each keeps the attention scaling at 1.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "rope_type", rename_all = "lowercase", deny_unknown_fields)]
pub enum RopeScaling {
    /// `θ^(-2i/d)`.
    #[default]
    Default,
    /// Every frequency divided by `factor` (position interpolation).
    Linear {
        /// The divisor.
        factor: f64,
    },
    /// NTK-aware: past `original_max_position_embeddings` positions the base
    /// grows with the sequence, `θ · (factor·s/L − (factor − 1))^(d/(d−2))`.
    Dynamic {
        /// How far the base is stretched.
        factor: f64,
        /// `L`: the context the model was trained on (`max_position_embeddings`
        /// of the checkpoint); codex reads up to `factor · L` positions.
        original_max_position_embeddings: usize,
    },
    /// Llama 3.1/3.2: low frequencies divided by `factor`, high ones kept,
    /// the band between interpolated smoothly.
    Llama3 {
        /// Divisor of the low frequencies.
        factor: f64,
        /// Wavelengths above `L / low_freq_factor` are divided.
        low_freq_factor: f64,
        /// Wavelengths below `L / high_freq_factor` are kept.
        high_freq_factor: f64,
        /// `L`.
        original_max_position_embeddings: usize,
    },
}

impl RopeScaling {
    /// Whether this is the unscaled rotation.
    pub fn is_default(&self) -> bool {
        *self == RopeScaling::Default
    }

    /// The `rope_type` name `transformers` uses.
    pub fn name(&self) -> &'static str {
        match self {
            RopeScaling::Default => "default",
            RopeScaling::Linear { .. } => "linear",
            RopeScaling::Dynamic { .. } => "dynamic",
            RopeScaling::Llama3 { .. } => "llama3",
        }
    }
}

impl ModelConfig {
    /// The model described by the `model` section of the configuration, for a
    /// tokenizer with `vocab_size` entries.
    pub fn from_section(section: &ModelSection, vocab_size: usize) -> Result<Self, ModelError> {
        let config = Self {
            family: section.family,
            vocab_size,
            n_layer: section.n_layer as usize,
            n_head: section.n_head as usize,
            n_kv_head: section.n_kv_head as usize,
            d_model: section.d_model as usize,
            d_ff: section.d_ff as usize,
            context_length: section.context_length as usize,
            dropout: section.dropout,
            rope_theta: section.rope_theta,
            tie_embeddings: section.tie_embeddings,
            norm_eps: 1e-5,
            variant: Variant {
                sliding_window: section.sliding_window.map(|w| w as usize),
                ..Variant::for_family(section.family)
            },
        };
        config.validate()?;
        Ok(config)
    }

    /// The `model` section that describes this shape (what a run's
    /// `config.yaml` records when the model came from elsewhere).
    pub fn section(&self) -> ModelSection {
        let n = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
        // The section spells the shape; the variant travels with the model
        // (a checkpoint's metadata, the base directory it came from).
        ModelSection {
            family: self.family,
            n_layer: n(self.n_layer),
            n_head: n(self.n_head),
            n_kv_head: n(self.n_kv_head),
            d_model: n(self.d_model),
            d_ff: n(self.d_ff),
            context_length: n(self.context_length),
            dropout: self.dropout,
            rope_theta: self.rope_theta,
            tie_embeddings: self.tie_embeddings,
            sliding_window: self.variant.sliding_window.map(n),
        }
    }

    /// Check the invariants the modules rely on, naming the offending key.
    pub fn validate(&self) -> Result<(), ModelError> {
        let bad = |key: &str, message: String| {
            Err(ModelError::InvalidConfig {
                key: key.to_owned(),
                message,
            })
        };
        for (key, value) in [
            ("vocab_size", self.vocab_size),
            ("n_layer", self.n_layer),
            ("n_head", self.n_head),
            ("n_kv_head", self.n_kv_head),
            ("d_model", self.d_model),
            ("d_ff", self.d_ff),
            ("context_length", self.context_length),
        ] {
            if value == 0 {
                return bad(key, "must be at least 1".into());
            }
        }
        // Bounds far above any model codex can train, so that the products
        // below cannot overflow and a hostile config cannot ask for an
        // allocation the machine would abort on.
        for (key, value, max) in [
            ("vocab_size", self.vocab_size, Self::MAX_VOCAB),
            ("n_layer", self.n_layer, Self::MAX_LAYERS),
            ("d_model", self.d_model, Self::MAX_WIDTH),
            ("d_ff", self.d_ff, Self::MAX_WIDTH * 8),
            ("n_head", self.n_head, self.d_model),
            ("n_kv_head", self.n_kv_head, self.n_head),
            ("context_length", self.context_length, Self::MAX_CONTEXT),
        ] {
            if value > max {
                return bad(key, format!("must be at most {max}, got {value}"));
            }
        }
        self.validate_variant()?;
        let total = self.param_counts().total() as u128;
        if total > Self::MAX_PARAMS {
            return bad(
                "n_layer",
                format!(
                    "the shape has {total} parameters, more than {} (n_layer {}, d_model {}, d_ff {}, vocab_size {})",
                    Self::MAX_PARAMS,
                    self.n_layer,
                    self.d_model,
                    self.d_ff,
                    self.vocab_size
                ),
            );
        }
        if self.variant.head_dim.is_none() && !self.d_model.is_multiple_of(self.n_head) {
            return bad(
                "d_model",
                format!(
                    "must be divisible by n_head ({}), got {}",
                    self.n_head, self.d_model
                ),
            );
        }
        if !self.n_head.is_multiple_of(self.n_kv_head) {
            return bad(
                "n_head",
                format!(
                    "must be divisible by n_kv_head ({}), got {}",
                    self.n_kv_head, self.n_head
                ),
            );
        }
        if self.family.is_rotary() && !self.head_dim().is_multiple_of(2) {
            return bad(
                if self.variant.head_dim.is_some() {
                    "head_dim"
                } else {
                    "d_model"
                },
                format!(
                    "the head size must be even for rotary embeddings, got {}",
                    self.head_dim()
                ),
            );
        }
        if self.family == ModelFamily::Gpt2 && self.n_kv_head != self.n_head {
            return bad(
                "n_kv_head",
                format!(
                    "must equal n_head ({}) for the gpt2 family, got {}",
                    self.n_head, self.n_kv_head
                ),
            );
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return bad(
                "dropout",
                format!("must be in [0, 1), got {}", self.dropout),
            );
        }
        if !(self.rope_theta.is_finite() && self.rope_theta > 0.0) {
            return bad(
                "rope_theta",
                format!("must be positive, got {}", self.rope_theta),
            );
        }
        if !(self.norm_eps.is_finite() && self.norm_eps > 0.0) {
            return bad(
                "norm_eps",
                format!("must be positive, got {}", self.norm_eps),
            );
        }
        Ok(())
    }

    fn validate_variant(&self) -> Result<(), ModelError> {
        let bad = |key: &str, message: String| {
            Err(ModelError::InvalidConfig {
                key: key.to_owned(),
                message,
            })
        };
        let v = &self.variant;
        if self.family == ModelFamily::Gpt2 && !v.is_plain() {
            return bad(
                "variant",
                format!("the gpt2 family has no rotary variants, got {v:?}"),
            );
        }
        if let Some(hd) = v.head_dim
            && !(1..=Self::MAX_WIDTH).contains(&hd)
        {
            return bad(
                "head_dim",
                format!("must be in 1..={}, got {hd}", Self::MAX_WIDTH),
            );
        }
        if let Some(w) = v.sliding_window
            && w == 0
        {
            return bad("sliding_window", "must be at least 1".into());
        }
        for (key, value) in [
            ("query_pre_attn_scalar", v.query_pre_attn_scalar),
            ("attn_softcap", v.attn_softcap),
            ("final_softcap", v.final_softcap),
        ] {
            if let Some(x) = value
                && !(x.is_finite() && x > 0.0)
            {
                return bad(key, format!("must be positive, got {x}"));
            }
        }
        if let Some(r) = v.rotary_dim
            && (r < 2 || !r.is_multiple_of(2) || r > self.head_dim())
        {
            return bad(
                "rotary_dim",
                format!(
                    "must be even and in 2..={} (the head size), got {r}",
                    self.head_dim()
                ),
            );
        }
        if !v.window_layers.is_empty() && v.window_layers.len() != self.n_layer {
            return bad(
                "window_layers",
                format!(
                    "must name every one of the {} layers, got {}",
                    self.n_layer,
                    v.window_layers.len()
                ),
            );
        }
        let positive = |key: &str, x: f64| {
            if x.is_finite() && x > 0.0 {
                Ok(())
            } else {
                bad(key, format!("must be positive, got {x}"))
            }
        };
        match v.rope_scaling {
            RopeScaling::Default => {}
            RopeScaling::Linear { factor } => positive("rope_scaling.factor", factor)?,
            RopeScaling::Dynamic {
                factor,
                original_max_position_embeddings: l,
            } => {
                positive("rope_scaling.factor", factor)?;
                if l == 0 || l > self.context_length {
                    return bad(
                        "rope_scaling.original_max_position_embeddings",
                        format!("must be in 1..={}, got {l}", self.context_length),
                    );
                }
                if self.rotary_dim() <= 2 {
                    return bad(
                        "head_dim",
                        format!(
                            "dynamic rope scaling needs a rotary size above 2, got {}",
                            self.rotary_dim()
                        ),
                    );
                }
            }
            RopeScaling::Llama3 {
                factor,
                low_freq_factor,
                high_freq_factor,
                original_max_position_embeddings: l,
            } => {
                positive("rope_scaling.factor", factor)?;
                positive("rope_scaling.low_freq_factor", low_freq_factor)?;
                positive("rope_scaling.high_freq_factor", high_freq_factor)?;
                if high_freq_factor <= low_freq_factor {
                    return bad(
                        "rope_scaling.high_freq_factor",
                        format!(
                            "must exceed low_freq_factor ({low_freq_factor}), got {high_freq_factor}"
                        ),
                    );
                }
                if l == 0 {
                    return bad(
                        "rope_scaling.original_max_position_embeddings",
                        "must be at least 1".into(),
                    );
                }
            }
        }
        Ok(())
    }

    /// Whether layer `layer` attends through the sliding window, and its size.
    pub fn window(&self, layer: usize) -> Option<usize> {
        let w = self.variant.sliding_window?;
        let on = self
            .variant
            .window_layers
            .get(layer)
            .copied()
            .unwrap_or(true);
        on.then_some(w)
    }

    /// The scale of the attention scores: `query_pre_attn_scalar^(-1/2)`
    /// where set, else `head_dim^(-1/2)`.
    pub fn attn_scale(&self) -> f64 {
        1.0 / self
            .variant
            .query_pre_attn_scalar
            .unwrap_or(self.head_dim() as f64)
            .sqrt()
    }

    /// Whether the family wraps both sublayers in norms, scales the
    /// embedding by `√d_model`, keeps `1 + w` in its RMSNorms and gates its
    /// MLP with tanh-GELU (Gemma 2).
    pub fn is_gemma(&self) -> bool {
        self.family == ModelFamily::Gemma2
    }

    /// How many leading dimensions of each head rotate (all by default).
    pub fn rotary_dim(&self) -> usize {
        self.variant.rotary_dim.unwrap_or(self.head_dim())
    }

    /// The rotary inverse frequencies, `rotary_dim / 2` of them, for a forward
    /// pass whose furthest position is `seq_len − 1`, in `f32` as
    /// `transformers` computes them (only `dynamic` scaling depends on
    /// `seq_len`).
    pub fn inv_freq(&self, seq_len: usize) -> Vec<f32> {
        let dim = self.rotary_dim();
        let default = |theta: f32| -> Vec<f32> {
            (0..dim / 2)
                .map(|i| 1.0 / theta.powf((2 * i) as f32 / dim as f32))
                .collect()
        };
        let theta = self.rope_theta as f32;
        match self.variant.rope_scaling {
            RopeScaling::Default => default(theta),
            RopeScaling::Linear { factor } => default(theta)
                .into_iter()
                .map(|f| f / factor as f32)
                .collect(),
            RopeScaling::Dynamic {
                factor,
                original_max_position_embeddings: l,
            } => {
                if seq_len <= l {
                    return default(theta);
                }
                let factor = factor as f32;
                let stretch = factor * seq_len as f32 / l as f32 - (factor - 1.0);
                let exponent = (dim as f64 / (dim as f64 - 2.0)) as f32;
                default(theta * stretch.powf(exponent))
            }
            RopeScaling::Llama3 {
                factor,
                low_freq_factor,
                high_freq_factor,
                original_max_position_embeddings: l,
            } => {
                let (factor, low, high) = (
                    factor as f32,
                    low_freq_factor as f32,
                    high_freq_factor as f32,
                );
                let l = l as f32;
                let (low_wavelen, high_wavelen) = (l / low, l / high);
                default(theta)
                    .into_iter()
                    .map(|f| {
                        let wavelen = 2.0 * std::f32::consts::PI / f;
                        if wavelen > low_wavelen {
                            f / factor
                        } else if wavelen < high_wavelen {
                            f
                        } else {
                            let smooth = (l / wavelen - low) / (high - low);
                            (1.0 - smooth) * f / factor + smooth * f
                        }
                    })
                    .collect()
            }
        }
    }

    /// Largest vocabulary accepted (16 Mi entries).
    pub const MAX_VOCAB: usize = 1 << 24;
    /// Most layers accepted.
    pub const MAX_LAYERS: usize = 1 << 12;
    /// Widest `d_model` accepted (`d_ff` may be 8 times this).
    pub const MAX_WIDTH: usize = 1 << 17;
    /// Longest context accepted.
    pub const MAX_CONTEXT: usize = 1 << 24;
    /// Most parameters accepted (2^40, about 1.1 trillion).
    pub const MAX_PARAMS: u128 = 1 << 40;

    /// The family's name as configurations and `config.json` spell it.
    pub fn family_name(&self) -> &'static str {
        self.family.name()
    }

    /// Width of one attention head: `head_dim` where the checkpoint sets
    /// it, else `d_model / n_head`.
    pub fn head_dim(&self) -> usize {
        self.variant.head_dim.unwrap_or(self.d_model / self.n_head)
    }

    /// Whether linear layers and norms carry biases (GPT-2) or not (the
    /// rotary families, unless [`Variant`] adds some).
    pub fn has_bias(&self) -> bool {
        self.family == ModelFamily::Gpt2
    }

    /// Biases of the q/k/v projections, of the output projection and of the MLP.
    pub fn biases(&self) -> (bool, bool, bool) {
        let all = self.has_bias();
        let v = &self.variant;
        (all || v.qkv_bias, all || v.o_bias, all || v.mlp_bias)
    }

    /// Parameter counts by module kind, computed from the shape alone.
    pub fn param_counts(&self) -> ParamCounts {
        let (d, f, v, l) = (self.d_model, self.d_ff, self.vocab_size, self.n_layer);
        let hd = self.head_dim();
        let (q, kv) = (self.n_head * hd, self.n_kv_head * hd);
        let (qkv_bias, o_bias, mlp_bias) = self.biases();
        let norm = d * (1 + usize::from(self.has_bias()));
        // Gemma 2 adds a norm after each sublayer.
        let block_norms = if self.is_gemma() { 4 } else { 2 };
        let qk_norm = if self.variant.qk_norm { 2 * hd } else { 0 };
        let attention = d * q
            + 2 * d * kv
            + q * d
            + usize::from(qkv_bias) * (q + 2 * kv)
            + usize::from(o_bias) * d;
        let mlp = if self.family.is_rotary() {
            3 * d * f + usize::from(mlp_bias) * (2 * f + d)
        } else {
            2 * d * f + usize::from(mlp_bias) * (f + d)
        };
        ParamCounts {
            token_embedding: v * d,
            position_embedding: if self.family == ModelFamily::Gpt2 {
                self.context_length * d
            } else {
                0
            },
            attention: l * attention,
            mlp: l * mlp,
            norms: (block_norms * l + 1) * norm + l * qk_norm,
            lm_head: if self.tie_embeddings { 0 } else { v * d },
        }
    }

    /// Training FLOPs per token (forward and backward): `6 N + 12 L d T`, where `N`
    /// counts the weights of every matrix multiplication (attention, MLP and the
    /// output projection, not embedding look-ups) and the second term is attention
    /// over a full context of `T` positions (PaLM, appendix B).
    pub fn flops_per_token(&self) -> f64 {
        let c = self.param_counts();
        let matmul = c.attention + c.mlp + self.vocab_size * self.d_model;
        let width = self.n_head * self.head_dim();
        6.0 * matmul as f64 + 12.0 * (self.n_layer * width * self.context_length) as f64
    }
}

/// Parameter counts by module kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ParamCounts {
    /// Token embedding.
    pub token_embedding: usize,
    /// Learned positions (GPT-2 family).
    pub position_embedding: usize,
    /// Attention projections of every block.
    pub attention: usize,
    /// MLPs of every block.
    pub mlp: usize,
    /// Every LayerNorm / RMSNorm.
    pub norms: usize,
    /// Untied output projection.
    pub lm_head: usize,
}

impl ParamCounts {
    /// All parameters.
    pub fn total(&self) -> usize {
        self.token_embedding
            + self.position_embedding
            + self.attention
            + self.mlp
            + self.norms
            + self.lm_head
    }
}

#[allow(
    clippy::too_many_arguments,
    reason = "a table of shapes reads best as one call per row"
)]
fn arch(
    family: ModelFamily,
    vocab_size: usize,
    n_layer: usize,
    n_head: usize,
    n_kv_head: usize,
    d_model: usize,
    d_ff: usize,
    context_length: usize,
    tie_embeddings: bool,
) -> ModelConfig {
    ModelConfig {
        family,
        vocab_size,
        n_layer,
        n_head,
        n_kv_head,
        d_model,
        d_ff,
        context_length,
        dropout: 0.0,
        rope_theta: 10_000.0,
        tie_embeddings,
        norm_eps: 1e-5,
        variant: Variant::default(),
    }
}

/// The model families (`codex registry list`): what each computes, and the
/// Hugging Face `model_type` it imports and exports.
pub fn families() -> Registry<ModelFamily> {
    let mut r = Registry::new("model-family");
    for family in ModelFamily::ALL {
        let description = match family {
            ModelFamily::Gpt2 => "learned positions, LayerNorm, GELU MLP, biases (GPT2LMHeadModel)",
            ModelFamily::Llama => {
                "rotary (default, linear, dynamic, llama3 scaling), RMSNorm, SwiGLU, GQA, optional attention/mlp biases and head_dim (LlamaForCausalLM: Llama 2/3.x, SmolLM2)"
            }
            ModelFamily::Qwen2 => {
                "Llama with q/k/v biases and optional sliding-window layers (Qwen2ForCausalLM: Qwen2, Qwen2.5)"
            }
            ModelFamily::Qwen3 => {
                "Llama with RMSNorm on each query and key head, own head_dim (Qwen3ForCausalLM)"
            }
            ModelFamily::Mistral => {
                "Llama with sliding-window attention in training and generation (MistralForCausalLM)"
            }
            ModelFamily::Phi3 => {
                "Llama with fused qkv_proj and gate_up_proj in the checkpoint, partial rotation, optional sliding window (Phi3ForCausalLM: Phi-3, Phi-4-mini)"
            }
            ModelFamily::Gemma2 => {
                "embeddings scaled by sqrt(d), (1 + w) RMSNorm before and after each sublayer, GeGLU (tanh-GELU), soft-capped scores and logits, query_pre_attn_scalar, alternating sliding windows (Gemma2ForCausalLM)"
            }
        };
        r.register(family.name(), description, family)
            .expect("family names are distinct");
    }
    r
}

/// The named architectures (`codex registry list`, `codex model inspect gpt2-small`).
pub fn architectures() -> Registry<ModelConfig> {
    use ModelFamily::{Gemma2, Gpt2, Llama, Mistral, Phi3, Qwen2, Qwen3};
    let with = |mut c: ModelConfig, variant: Variant| {
        c.variant = variant;
        c
    };
    let mut r = Registry::new("architecture");
    let rows = [
        (
            "gpt2-tiny",
            "GPT-2 family, 2 layers, d_model 128 (~0.4M + embeddings)",
            arch(Gpt2, 2048, 2, 4, 4, 128, 512, 256, true),
        ),
        (
            "gpt2-mini",
            "GPT-2 family, 6 layers, d_model 384",
            arch(Gpt2, 8192, 6, 6, 6, 384, 1536, 512, true),
        ),
        (
            "gpt2-small",
            "GPT-2 124M: 12 layers, d_model 768, vocab 50257",
            arch(Gpt2, 50257, 12, 12, 12, 768, 3072, 1024, true),
        ),
        (
            "llama-tiny",
            "Llama family, 4 layers, d_model 128, GQA 4/2",
            arch(Llama, 2048, 4, 4, 2, 128, 352, 256, true),
        ),
        (
            "llama-10m",
            "Llama family, 6 layers, d_model 256, GQA 8/4, d_ff 1024, vocab 8192, untied (~10M)",
            arch(Llama, 8192, 6, 8, 4, 256, 1024, 256, false),
        ),
        (
            "llama-60m",
            "Llama family, 8 layers, d_model 512, GQA 8/4, vocab 32000",
            arch(Llama, 32000, 8, 8, 4, 512, 1376, 1024, false),
        ),
        (
            "llama3-tiny",
            "Llama 3 rope scaling (llama3, factor 8, original context 64), 4 layers, d_model 128, GQA 4/2",
            with(
                arch(Llama, 2048, 4, 4, 2, 128, 352, 256, true),
                Variant {
                    rope_scaling: RopeScaling::Llama3 {
                        factor: 8.0,
                        low_freq_factor: 1.0,
                        high_freq_factor: 4.0,
                        original_max_position_embeddings: 64,
                    },
                    ..Variant::default()
                },
            ),
        ),
        (
            "qwen2-tiny",
            "Qwen2 family (q/k/v biases), 4 layers, d_model 128, GQA 4/2",
            with(
                arch(Qwen2, 2048, 4, 4, 2, 128, 352, 256, true),
                Variant::for_family(Qwen2),
            ),
        ),
        (
            "qwen3-tiny",
            "Qwen3 family (q/k head norms, head_dim 64 over d_model 128), 4 layers, GQA 4/2",
            with(
                arch(Qwen3, 2048, 4, 4, 2, 128, 352, 256, true),
                Variant {
                    head_dim: Some(64),
                    ..Variant::for_family(Qwen3)
                },
            ),
        ),
        (
            "mistral-tiny",
            "Mistral family, sliding window 64 on every layer, 4 layers, d_model 128, GQA 4/2",
            with(
                arch(Mistral, 2048, 4, 4, 2, 128, 352, 256, true),
                Variant {
                    sliding_window: Some(64),
                    ..Variant::default()
                },
            ),
        ),
        (
            "phi3-tiny",
            "Phi-3 family, rotary on 24 of 32 head dimensions (partial_rotary_factor 0.75), 4 layers, d_model 128, GQA 4/2",
            with(
                arch(Phi3, 2048, 4, 4, 2, 128, 352, 256, true),
                Variant {
                    rotary_dim: Some(24),
                    ..Variant::default()
                },
            ),
        ),
        (
            "gemma2-tiny",
            "Gemma 2 family: soft caps 50 (scores) and 30 (logits), window 64 on every other layer, 4 layers, d_model 128, GQA 4/2",
            with(
                arch(Gemma2, 2048, 4, 4, 2, 128, 352, 256, true),
                Variant {
                    query_pre_attn_scalar: Some(32.0),
                    attn_softcap: Some(50.0),
                    final_softcap: Some(30.0),
                    sliding_window: Some(64),
                    window_layers: vec![true, false, true, false],
                    ..Variant::default()
                },
            ),
        ),
    ];
    for (name, description, config) in rows {
        r.register(name, description, config)
            .expect("architecture names are distinct");
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gpt2_small_has_124m_parameters() {
        let c = architectures().get("gpt2-small").unwrap().value.clone();
        // The figure transformers reports for GPT2LMHeadModel (tied head counted once).
        assert_eq!(c.param_counts().total(), 124_439_808);
        let c = architectures().get("llama-10m").unwrap().value.clone();
        assert_eq!(c.param_counts().total(), 10_095_872);
    }

    #[test]
    fn a_section_sets_the_family_switches_and_the_window() {
        let mut section = codex_core::config::ConfigLoader::new()
            .load()
            .unwrap()
            .config
            .model;
        section.family = ModelFamily::Mistral;
        section.sliding_window = Some(16);
        let c = ModelConfig::from_section(&section, 100).unwrap();
        assert_eq!((c.window(0), c.window(3)), (Some(16), Some(16)));
        assert_eq!(c.section(), section);
        section.family = ModelFamily::Qwen2;
        section.sliding_window = None;
        let c = ModelConfig::from_section(&section, 100).unwrap();
        assert!(c.variant.qkv_bias && !c.variant.o_bias && c.window(0).is_none());
        section.family = ModelFamily::Qwen3;
        assert!(
            ModelConfig::from_section(&section, 100)
                .unwrap()
                .variant
                .qk_norm
        );
    }

    /// The llama3 rule keeps short wavelengths, divides long ones by the
    /// factor and blends the band between (values from the rule by hand:
    /// head_dim 16, θ 10000, L 32, factors 1 and 4 → kept below 8, divided
    /// above 32).
    #[test]
    fn llama3_scaling_keeps_divides_and_blends() {
        let mut c = architectures().get("llama-tiny").unwrap().value.clone();
        c.n_head = 8; // head_dim 16
        c.n_kv_head = 4;
        let plain = c.inv_freq(0);
        c.variant.rope_scaling = RopeScaling::Llama3 {
            factor: 8.0,
            low_freq_factor: 1.0,
            high_freq_factor: 4.0,
            original_max_position_embeddings: 32,
        };
        let scaled = c.inv_freq(0);
        assert_eq!(scaled[0], plain[0], "wavelength 2π is kept");
        assert_eq!(scaled[7], plain[7] / 8.0, "the longest is divided");
        let wavelen = 2.0 * std::f32::consts::PI / plain[1];
        assert!((8.0..32.0).contains(&wavelen), "{wavelen}");
        assert!(scaled[1] < plain[1] && scaled[1] > plain[1] / 8.0);
    }

    #[test]
    fn validation_names_the_key() {
        let mut c = architectures().get("llama-tiny").unwrap().value.clone();
        c.n_kv_head = 3;
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains("n_head"), "{err}");
        c.n_kv_head = 2;
        c.d_model = 130;
        assert!(c.validate().unwrap_err().to_string().contains("d_model"));
    }
}
