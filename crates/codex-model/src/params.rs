//! Where a model's parameters come from when it is built: codex's seeded
//! initializer, a Hugging Face checkpoint, or zeros to load a record into.

use burn::tensor::TensorData;
use codex_core::Rng;

use crate::error::ModelError;

/// How a parameter is initialized when it is created rather than loaded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Init {
    /// Normal with mean 0 and this standard deviation.
    Normal(f64),
    /// All zeros (biases).
    Zeros,
    /// All ones (norm scales).
    Ones,
}

/// A supplier of parameters by codex name (`blocks.3.attn.q_proj.weight`) and shape.
///
/// Shapes are in Burn's layout: linear weights are `[d_in, d_out]`.
pub trait ParamSource {
    /// The values of parameter `name`, which must have `shape`.
    fn get(&mut self, name: &str, shape: &[usize], init: Init) -> Result<TensorData, ModelError>;
}

/// codex's initializer: every parameter drawn from its own stream of
/// [`codex_core::Rng`], keyed by the seed and the parameter's name, so the
/// values do not depend on backend, thread count or construction order.
#[derive(Debug, Clone)]
pub struct RandomInit {
    seed: u64,
    scale: f64,
}

impl RandomInit {
    /// An initializer for `seed` (normally `Seeds::derive("model.init")`).
    pub fn new(seed: u64) -> Self {
        Self { seed, scale: 1.0 }
    }

    /// The same, with every standard deviation multiplied by `scale`; test models
    /// use it to get logits far enough apart that argmax is not decided by rounding.
    pub fn scaled(seed: u64, scale: f64) -> Self {
        Self { seed, scale }
    }
}

/// FNV-1a of a parameter name: the stream its values are drawn from.
pub(crate) fn stream_of(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// `n` normal samples with standard deviation `std`, by Box–Muller.
pub(crate) fn normal(rng: &mut Rng, n: usize, std: f64) -> Vec<f32> {
    let mut out = Vec::with_capacity(n + 1);
    while out.len() < n {
        let u1 = 1.0 - rng.next_f64();
        let u2 = rng.next_f64();
        let r = (-2.0 * u1.ln()).sqrt() * std;
        let theta = std::f64::consts::TAU * u2;
        out.push((r * theta.cos()) as f32);
        out.push((r * theta.sin()) as f32);
    }
    out.truncate(n);
    out
}

impl ParamSource for RandomInit {
    fn get(&mut self, name: &str, shape: &[usize], init: Init) -> Result<TensorData, ModelError> {
        let n: usize = shape.iter().product();
        let values = match init {
            Init::Normal(std) => normal(
                &mut Rng::new(self.seed, stream_of(name)),
                n,
                std * self.scale,
            ),
            Init::Zeros => vec![0.0; n],
            Init::Ones => vec![1.0; n],
        };
        Ok(TensorData::new(values, shape.to_vec()))
    }
}

/// Zeros of the right shape, for a model whose values are then loaded from a record.
#[derive(Debug, Clone, Copy, Default)]
pub struct Placeholder;

impl ParamSource for Placeholder {
    fn get(&mut self, _name: &str, shape: &[usize], _init: Init) -> Result<TensorData, ModelError> {
        Ok(TensorData::new(
            vec![0.0f32; shape.iter().product()],
            shape.to_vec(),
        ))
    }
}

/// `module` with every parameter's id derived from its path in the module
/// tree (`blocks.0.attn.q_proj.base.weight`), so that two builds of the same
/// model, in any process, write byte-identical records. Burn draws ids at
/// random otherwise; a record loaded later restores its own ids.
pub(crate) fn path_ids<M: burn::module::Module>(module: M) -> M {
    path_ids_where(module, |_| true)
}

/// [`path_ids`] for the parameters whose path `select` accepts.
pub(crate) fn path_ids_where<M: burn::module::Module>(module: M, select: fn(&str) -> bool) -> M {
    struct Ids {
        path: Vec<String>,
        select: fn(&str) -> bool,
    }
    impl burn::module::ModuleMapper for Ids {
        fn enter_module(&mut self, name: &str, _: &str) {
            self.path.push(name.to_owned());
        }

        fn exit_module(&mut self, _: &str, _: &str) {
            self.path.pop();
        }

        fn map_float<const D: usize>(
            &mut self,
            mut param: burn::module::Param<burn::tensor::Tensor<D>>,
        ) -> burn::module::Param<burn::tensor::Tensor<D>> {
            let path = self.path.join(".");
            if (self.select)(&path) {
                param.id = path_id(&path);
            }
            param
        }
    }
    module.map(&mut Ids {
        path: Vec::new(),
        select,
    })
}

/// The id of the parameter at `path`: 64 bits of its BLAKE3.
pub(crate) fn path_id(path: &str) -> burn::module::ParamId {
    let hash = codex_core::Digest::of(format!("codex-param:{path}").as_bytes());
    let bytes: [u8; 8] = hash.as_bytes()[..8].try_into().expect("8 bytes");
    burn::module::ParamId::from(u64::from_le_bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_init_is_keyed_by_name_and_has_the_asked_spread() {
        let mut init = RandomInit::new(5);
        let a = init
            .get("x.weight", &[256, 256], Init::Normal(0.02))
            .unwrap();
        let b = init
            .get("y.weight", &[256, 256], Init::Normal(0.02))
            .unwrap();
        let a2 = RandomInit::new(5)
            .get("x.weight", &[256, 256], Init::Normal(0.02))
            .unwrap();
        assert_eq!(a, a2);
        assert_ne!(a, b);
        let v: Vec<f32> = a.try_to_vec().unwrap();
        let mean = v.iter().map(|&x| f64::from(x)).sum::<f64>() / v.len() as f64;
        let var = v
            .iter()
            .map(|&x| (f64::from(x) - mean).powi(2))
            .sum::<f64>()
            / v.len() as f64;
        assert!(mean.abs() < 1e-3, "{mean}");
        assert!((var.sqrt() - 0.02).abs() < 5e-4, "{}", var.sqrt());
    }
}
