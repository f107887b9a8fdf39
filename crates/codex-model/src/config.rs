//! The transformer's shape: one config for both families, named architectures,
//! parameter counts and the FLOPs estimate used for MFU.

use codex_core::Registry;
use codex_core::config::{ModelFamily, ModelSection};
use serde::{Deserialize, Serialize};

use crate::error::ModelError;

/// Everything that fixes a model's shape and numerics.
///
/// GPT-2 family: learned absolute positions, LayerNorm, tanh-GELU MLP, biases,
/// tied embeddings. Llama family: rotary positions, RMSNorm, SwiGLU MLP, no
/// biases, grouped-query attention, tied or untied embeddings.
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
        };
        config.validate()?;
        Ok(config)
    }

    /// The `model` section that describes this shape (what a run's
    /// `config.yaml` records when the model came from elsewhere).
    pub fn section(&self) -> ModelSection {
        let n = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
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
        if !self.d_model.is_multiple_of(self.n_head) {
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
        if self.family == ModelFamily::Llama && !self.head_dim().is_multiple_of(2) {
            return bad(
                "d_model",
                format!(
                    "divided by n_head must be even for rotary embeddings, got head size {}",
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
        match self.family {
            ModelFamily::Gpt2 => "gpt2",
            ModelFamily::Llama => "llama",
        }
    }

    /// Width of one attention head.
    pub fn head_dim(&self) -> usize {
        self.d_model / self.n_head
    }

    /// Whether linear layers and norms carry biases (GPT-2) or not (Llama).
    pub fn has_bias(&self) -> bool {
        self.family == ModelFamily::Gpt2
    }

    /// Parameter counts by module kind, computed from the shape alone.
    pub fn param_counts(&self) -> ParamCounts {
        let (d, f, v, l) = (self.d_model, self.d_ff, self.vocab_size, self.n_layer);
        let kv = self.n_kv_head * self.head_dim();
        let bias = usize::from(self.has_bias());
        let norm = d * (1 + bias);
        let attention = d * d + 2 * d * kv + d * d + bias * (d + 2 * kv + d);
        let mlp = match self.family {
            ModelFamily::Gpt2 => 2 * d * f + bias * (f + d),
            ModelFamily::Llama => 3 * d * f,
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
            norms: (2 * l + 1) * norm,
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
        6.0 * matmul as f64 + 12.0 * (self.n_layer * self.d_model * self.context_length) as f64
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
    }
}

/// The named architectures (`codex registry list`, `codex model inspect gpt2-small`).
pub fn architectures() -> Registry<ModelConfig> {
    use ModelFamily::{Gpt2, Llama};
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
