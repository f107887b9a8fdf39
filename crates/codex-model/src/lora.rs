//! LoRA adapters on the transformer's projections.
//!
//! Burn's `Lora` reparameterizer adapts a weight as `W + s·AB` inside the
//! parameter, which leaves no place for dropout on the adapter's input and no
//! merged/unmerged switch; codex's adapter is a module beside the base `Linear`,
//! computing `x W + s · dropout(x) A B` until merged into `W`.

use std::collections::BTreeMap;
use std::path::Path;

use burn::module::{Module, Param, ParamId};
use burn::nn::{Dropout, DropoutConfig};
use burn::tensor::{Tensor, TensorData};
use codex_core::Rng;
use serde::{Deserialize, Serialize};

use crate::error::ModelError;
use crate::model::{Proj, Transformer};
use crate::st;

/// Which projections receive adapters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LoraTarget {
    /// Query projection.
    Q,
    /// Key projection.
    K,
    /// Value projection.
    V,
    /// Attention output projection.
    O,
    /// Every MLP projection (gate, up, down).
    Mlp,
    /// The MLP's gate projection (rotary families).
    Gate,
    /// The MLP's up projection.
    Up,
    /// The MLP's down projection.
    Down,
}

/// The target names `lora.targets` accepts, as [`LoraTarget::parse_names`]
/// reads them.
pub const LORA_TARGET_NAMES: &str = "q, k, v, o, mlp, q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj, qkv_proj, gate_up_proj";

impl LoraTarget {
    /// The targets a name stands for: codex's (`q`, `k`, `v`, `o`, `mlp`),
    /// the projection names of Hugging Face checkpoints as PEFT's
    /// `target_modules` spell them (`q_proj` … `down_proj`), and Phi-3's
    /// fused ones, which codex keeps split (`qkv_proj`: q, k and v;
    /// `gate_up_proj`: gate and up).
    pub fn parse_names(name: &str) -> Result<Vec<LoraTarget>, ModelError> {
        use LoraTarget::{Down, Gate, K, Mlp, O, Q, Up, V};
        Ok(match name.trim().to_ascii_lowercase().as_str() {
            "q" | "q_proj" => vec![Q],
            "k" | "k_proj" => vec![K],
            "v" | "v_proj" => vec![V],
            "o" | "o_proj" => vec![O],
            "mlp" => vec![Mlp],
            "gate_proj" => vec![Gate],
            "up_proj" => vec![Up],
            "down_proj" => vec![Down],
            "qkv_proj" => vec![Q, K, V],
            "gate_up_proj" => vec![Gate, Up],
            other => {
                return Err(ModelError::InvalidConfig {
                    key: "lora.targets".into(),
                    message: format!(
                        "unknown target `{other}`; expected one of {LORA_TARGET_NAMES}"
                    ),
                });
            }
        })
    }
}

impl std::str::FromStr for LoraTarget {
    type Err = ModelError;

    /// One target; the fused names (`qkv_proj`, `gate_up_proj`) stand for
    /// several and are read by [`LoraTarget::parse_names`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match Self::parse_names(s)?.as_slice() {
            [one] => Ok(*one),
            _ => Err(ModelError::InvalidConfig {
                key: "lora.targets".into(),
                message: format!("`{s}` names several targets; list them one by one"),
            }),
        }
    }
}

/// Rank, scale, dropout and placement of the adapters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoraConfig {
    /// Rank of `A` (`[d_in, r]`) and `B` (`[r, d_out]`).
    pub rank: usize,
    /// Scale numerator: the update is `alpha / rank · A B`.
    pub alpha: f64,
    /// Dropout on the adapter's input while training.
    pub dropout: f64,
    /// Projections that receive adapters.
    pub targets: Vec<LoraTarget>,
}

impl LoraConfig {
    /// Check rank, alpha, dropout and targets, naming the offending key.
    pub fn validate(&self) -> Result<(), ModelError> {
        let bad = |key: &str, message: String| {
            Err(ModelError::InvalidConfig {
                key: format!("lora.{key}"),
                message,
            })
        };
        if self.rank == 0 {
            return bad("rank", "must be at least 1".into());
        }
        if !(self.alpha.is_finite() && self.alpha > 0.0) {
            return bad("alpha", format!("must be positive, got {}", self.alpha));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return bad(
                "dropout",
                format!("must be in [0, 1), got {}", self.dropout),
            );
        }
        if self.targets.is_empty() {
            return bad(
                "targets",
                "must name at least one of q, k, v, o, mlp".into(),
            );
        }
        Ok(())
    }

    fn scale(&self) -> f64 {
        self.alpha / self.rank as f64
    }
}

/// One adapter: `scale · dropout(x) A B`.
#[derive(Module, Debug)]
pub struct LoraAdapter {
    /// `[d_in, rank]`, initialized uniformly in `±1/sqrt(d_in)`.
    pub a: Param<Tensor<2>>,
    /// `[rank, d_out]`, initialized to zero so attaching changes nothing.
    pub b: Param<Tensor<2>>,
    dropout: Dropout,
    scale: f64,
    #[module(skip)]
    merged: bool,
}

impl LoraAdapter {
    /// Whether the update currently lives in the base weight.
    pub fn is_merged(&self) -> bool {
        self.merged
    }

    /// The adapter's contribution for input `x`.
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let x = crate::model::dropout(&self.dropout, x);
        crate::model::project(crate::model::project(x, self.a.val()), self.b.val()) * self.scale
    }

    fn delta(&self) -> Tensor<2> {
        self.a.val().matmul(self.b.val()) * self.scale
    }
}

impl LoraTarget {
    /// Whether this target covers the projection named `name`
    /// (`blocks.3.attn.q_proj`, `blocks.0.mlp.up_proj`, …).
    fn covers(self, name: &str) -> bool {
        match self {
            LoraTarget::Q => name.ends_with(".attn.q_proj"),
            LoraTarget::K => name.ends_with(".attn.k_proj"),
            LoraTarget::V => name.ends_with(".attn.v_proj"),
            LoraTarget::O => name.ends_with(".attn.o_proj"),
            LoraTarget::Mlp => name.contains(".mlp."),
            LoraTarget::Gate => name.ends_with(".mlp.gate_proj"),
            LoraTarget::Up => name.ends_with(".mlp.up_proj"),
            LoraTarget::Down => name.ends_with(".mlp.down_proj"),
        }
    }
}

impl Transformer {
    /// Every projection of the model, by codex name.
    pub(crate) fn projections_mut(&mut self) -> Vec<(String, &mut Proj)> {
        let mut out = Vec::new();
        for (i, block) in self.blocks.iter_mut().enumerate() {
            let p = format!("blocks.{i}");
            let attn = &mut block.attn;
            out.push((format!("{p}.attn.q_proj"), &mut attn.q_proj));
            out.push((format!("{p}.attn.k_proj"), &mut attn.k_proj));
            out.push((format!("{p}.attn.v_proj"), &mut attn.v_proj));
            out.push((format!("{p}.attn.o_proj"), &mut attn.o_proj));
            let mlp = &mut block.mlp;
            if let Some(gate) = mlp.gate_proj.as_mut() {
                out.push((format!("{p}.mlp.gate_proj"), gate));
            }
            out.push((format!("{p}.mlp.up_proj"), &mut mlp.up_proj));
            out.push((format!("{p}.mlp.down_proj"), &mut mlp.down_proj));
        }
        out
    }

    /// Freeze every base parameter and attach fresh adapters to the chosen
    /// projections; only the adapters then receive gradients.
    pub fn attach_lora(self, config: &LoraConfig, seed: u64) -> Result<Self, ModelError> {
        config.validate()?;
        let mut model = self.no_grad();
        for (name, proj) in model.projections_mut() {
            if !config.targets.iter().any(|t| t.covers(&name)) {
                continue;
            }
            let weight = proj.base.weight.val();
            let device = weight.device();
            let [d_in, d_out] = weight.dims();
            let bound = 1.0 / (d_in as f64).sqrt();
            let mut rng = Rng::new(seed, crate::params::stream_of(&format!("{name}.lora_a")));
            let a: Vec<f32> = (0..d_in * config.rank)
                .map(|_| ((rng.next_f64() * 2.0 - 1.0) * bound) as f32)
                .collect();
            let a = Tensor::<2>::from_data(TensorData::new(a, [d_in, config.rank]), &device);
            let b = Tensor::<2>::zeros([config.rank, d_out], &device);
            proj.lora = Some(LoraAdapter {
                a: Param::from_tensor(a),
                b: Param::from_tensor(b),
                dropout: DropoutConfig::new(config.dropout).init(),
                scale: config.scale(),
                merged: false,
            });
        }
        model.lora = Some(config.clone());
        // The new adapters' ids, like every parameter's, follow from their
        // paths; the base keeps the ids it has (a loaded record's own).
        Ok(crate::params::path_ids_where(model, |path| {
            path.contains(".lora.")
        }))
    }

    /// Fold every adapter into its base weight (`W += s·AB`); the forward pass then
    /// costs what the base model costs. Merging twice is a no-op.
    pub fn merge_lora(mut self) -> Self {
        for (_, proj) in self.projections_mut() {
            if let Some(adapter) = proj.lora.as_mut()
                && !adapter.merged
            {
                let delta = adapter.delta().detach();
                let weight = proj.base.weight.clone();
                proj.base.weight = weight.map(|w| w + delta);
                adapter.merged = true;
            }
        }
        self
    }

    /// Take every merged adapter back out of its base weight (`W -= s·AB`).
    pub fn unmerge_lora(mut self) -> Self {
        for (_, proj) in self.projections_mut() {
            if let Some(adapter) = proj.lora.as_mut()
                && adapter.merged
            {
                let delta = adapter.delta().detach();
                let weight = proj.base.weight.clone();
                proj.base.weight = weight.map(|w| w - delta);
                adapter.merged = false;
            }
        }
        self
    }

    /// The attached adapters' configuration, if any.
    pub fn lora_config(&self) -> Option<&LoraConfig> {
        self.lora.as_ref()
    }

    /// Parameters that training updates: the adapters' when LoRA is
    /// attached (the base is frozen), else every parameter.
    pub fn trainable_params(&self) -> usize {
        if self.lora.is_none() {
            return Module::num_params(self);
        }
        let mut model = self.clone();
        model
            .projections_mut()
            .into_iter()
            .filter_map(|(_, p)| p.lora.as_ref())
            .map(|l| {
                l.a.val().dims().iter().product::<usize>()
                    + l.b.val().dims().iter().product::<usize>()
            })
            .sum()
    }

    /// Write the adapters alone (safetensors, `<proj>.lora_a` / `<proj>.lora_b`,
    /// with the LoRA config in the metadata), atomically.
    pub fn save_lora(&mut self, path: &Path) -> Result<(), ModelError> {
        let config = self.lora.clone().ok_or_else(|| ModelError::Weights {
            path: path.to_owned(),
            message: "the model has no LoRA adapters to save".into(),
        })?;
        let mut tensors = BTreeMap::new();
        let mut ids = BTreeMap::new();
        for (name, proj) in self.projections_mut() {
            if let Some(adapter) = &proj.lora {
                if adapter.merged {
                    return Err(ModelError::Weights {
                        path: path.to_owned(),
                        message: format!(
                            "the adapter of {name} is merged into its base weight; unmerge before saving adapters alone"
                        ),
                    });
                }
                tensors.insert(format!("{name}.lora_a"), adapter.a.val().into_data());
                tensors.insert(format!("{name}.lora_b"), adapter.b.val().into_data());
                ids.insert(name, [adapter.a.id.val(), adapter.b.id.val()]);
            }
        }
        let mut metadata = BTreeMap::new();
        metadata.insert("format".to_owned(), "codex-lora-v1".to_owned());
        metadata.insert(
            "lora_config".to_owned(),
            serde_json::to_string(&config).expect("LoraConfig serializes"),
        );
        // Parameter ids key the optimizer's state: restoring them lets a
        // checkpoint that holds only adapters resume its AdamW moments.
        metadata.insert(
            "param_ids".to_owned(),
            serde_json::to_string(&ids).expect("ids serialize"),
        );
        st::write(path, &tensors, metadata)
    }

    /// BLAKE3 (hex) of the base weights — every parameter but the adapters, each
    /// as its module path, shape and little-endian f32 values — so that a
    /// checkpoint holding adapters alone can check it is put back on the base it
    /// was trained on, wherever that base was loaded from. Merged adapters are
    /// part of their base weight; fingerprint before merging.
    pub fn base_fingerprint(&self) -> String {
        struct V {
            hasher: codex_core::Hasher,
            path: Vec<String>,
        }
        impl burn::module::ModuleVisitor for V {
            fn enter_module(&mut self, name: &str, _container_type: &str) {
                self.path.push(name.to_owned());
            }
            fn exit_module(&mut self, _name: &str, _container_type: &str) {
                self.path.pop();
            }
            fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
                if self.path.iter().any(|p| p == "lora") {
                    return;
                }
                let tensor = param.val();
                let name = self.path.join(".");
                let h = &mut self.hasher;
                h.update(&(name.len() as u64).to_le_bytes());
                h.update(name.as_bytes());
                for d in tensor.dims() {
                    h.update(&(d as u64).to_le_bytes());
                }
                let values: Vec<f32> = tensor
                    .into_data()
                    .convert::<f32>()
                    .try_into_vec::<f32>()
                    .expect("float parameters convert to f32");
                for chunk in values.chunks(16_384) {
                    let bytes: Vec<u8> = chunk.iter().flat_map(|v| v.to_le_bytes()).collect();
                    h.update(&bytes);
                }
            }
        }
        let mut v = V {
            hasher: codex_core::Hasher::new(),
            path: Vec::new(),
        };
        self.visit(&mut v);
        v.hasher.finalize().to_string()
    }

    /// Attach the adapters saved by [`Transformer::save_lora`] (unmerged); the base
    /// is frozen as by [`Transformer::attach_lora`].
    pub fn load_lora(self, path: &Path) -> Result<Self, ModelError> {
        let file = st::SafeTensorsFile::open(path)?;
        let config: LoraConfig = file
            .metadata("lora_config")
            .ok_or_else(|| ModelError::Weights {
                path: path.to_owned(),
                message: "not a codex LoRA adapter file (no `lora_config` metadata)".into(),
            })
            .and_then(|text| {
                serde_json::from_str(text).map_err(|e| ModelError::Weights {
                    path: path.to_owned(),
                    message: format!("invalid `lora_config` metadata: {e}"),
                })
            })?;
        let ids: BTreeMap<String, [u64; 2]> = match file.metadata("param_ids") {
            None => BTreeMap::new(),
            Some(text) => serde_json::from_str(text).map_err(|e| ModelError::Weights {
                path: path.to_owned(),
                message: format!("invalid `param_ids` metadata: {e}"),
            })?,
        };
        let mut model = self.attach_lora(&config, 0)?;
        for (name, proj) in model.projections_mut() {
            let Some(adapter) = proj.lora.as_mut() else {
                continue;
            };
            let device = adapter.a.val().device();
            let a_shape = adapter.a.val().dims().to_vec();
            let b_shape = adapter.b.val().dims().to_vec();
            let a = file.tensor(&format!("{name}.lora_a"), &a_shape)?;
            let b = file.tensor(&format!("{name}.lora_b"), &b_shape)?;
            adapter.a = Param::from_tensor(Tensor::<2>::from_data(a, &device));
            adapter.b = Param::from_tensor(Tensor::<2>::from_data(b, &device));
            if let Some(&[a_id, b_id]) = ids.get(&name) {
                adapter.a.id = ParamId::from(a_id);
                adapter.b.id = ParamId::from(b_id);
            }
        }
        Ok(model)
    }
}
