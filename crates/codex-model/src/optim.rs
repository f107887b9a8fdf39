//! AdamW for codex's training loop: Burn's `AdamW` arithmetic and state, one
//! fused pass per parameter on the flex backend.

use burn::optim::{AdamWConfig, AdamWState, LearningRate, Optimizer, RecordState};
use burn::optim::{StateSink, StateSource};
use burn::tensor::{Device, Tensor};

/// AdamW (decoupled weight decay) with the arithmetic of Burn's `AdamW`,
/// operation for operation, and its state type, so optimizer records load in
/// either. On flex f32 tensors the update of a parameter and both moments is
/// one pass over memory, in place; elsewhere Burn's `AdamW` runs.
#[derive(Clone)]
pub struct AdamW {
    beta_1: f32,
    beta_2: f32,
    epsilon: f32,
    weight_decay: f32,
    burn: burn::optim::AdamW,
}

impl std::fmt::Debug for AdamW {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdamW")
            .field("beta_1", &self.beta_1)
            .field("beta_2", &self.beta_2)
            .field("epsilon", &self.epsilon)
            .field("weight_decay", &self.weight_decay)
            .finish()
    }
}

impl AdamW {
    /// AdamW with moment decays `beta_1`, `beta_2`, denominator `epsilon` and
    /// decoupled weight decay `weight_decay` (scaled by the learning rate).
    pub fn new(beta_1: f32, beta_2: f32, epsilon: f32, weight_decay: f32) -> Self {
        Self {
            beta_1,
            beta_2,
            epsilon,
            weight_decay,
            burn: AdamWConfig::new()
                .with_beta_1(beta_1)
                .with_beta_2(beta_2)
                .with_epsilon(epsilon)
                .with_weight_decay(weight_decay)
                .build(),
        }
    }
}

/// One parameter's AdamW state: Burn's `AdamWState`, recorded under the same
/// names, so records stay interchangeable with Burn's `AdamW`.
///
/// Burn's `ModuleOptimizer::load_record` rebuilds every state on Burn's default
/// device, which is CUDA whenever the `cuda` backend is compiled in, GPU or
/// not: resuming a run with such a build on a machine without the CUDA driver
/// panicked. Read back, this state is built in host memory instead (on flex, or
/// ndarray, when compiled) and the first step moves it to its parameter's
/// device, as it moved it from the default device before.
#[derive(Clone)]
pub struct AdamWMoments<const D: usize>(pub AdamWState<D>);

impl<const D: usize> std::fmt::Debug for AdamWMoments<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdamWMoments")
            .field("time", &self.0.momentum.time)
            .finish_non_exhaustive()
    }
}

impl<const D: usize> RecordState for AdamWMoments<D> {
    fn state_flatten(&self, prefix: &str, out: &mut StateSink) {
        self.0.state_flatten(prefix, out);
    }

    fn state_unflatten(prefix: &str, src: &mut StateSource, device: &Device) -> Option<Self> {
        let host = host_device().unwrap_or_else(|| device.clone());
        AdamWState::state_unflatten(prefix, src, &host).map(Self)
    }
}

/// A CPU backend's device, where one is compiled.
fn host_device() -> Option<Device> {
    #[cfg(feature = "flex")]
    return Some(Device::flex());
    #[cfg(all(feature = "ndarray", not(feature = "flex")))]
    #[expect(deprecated, reason = "ndarray is offered for comparison with flex")]
    return Some(Device::ndarray());
    #[allow(
        unreachable_code,
        reason = "without a CPU backend the load device is kept"
    )]
    None
}

impl Optimizer for AdamW {
    type State<const D: usize> = AdamWMoments<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        #[cfg(feature = "flex")]
        {
            use crate::fused::{self, Route};
            use burn::optim::AdaptiveMomentumState;
            let plain = |t: &Tensor<D>| fused::route(t) == Some(Route::Flex);
            let moments_plain = state.as_ref().is_none_or(|AdamWMoments(s)| {
                s.momentum.max_moment_2.is_none()
                    && plain(&s.momentum.moment_1)
                    && plain(&s.momentum.moment_2)
            });
            if plain(&tensor) && plain(&grad) && moments_plain {
                let (time, moments) = match state {
                    Some(AdamWMoments(s)) => (
                        s.momentum.time + 1,
                        Some((s.momentum.moment_1, s.momentum.moment_2)),
                    ),
                    None => (1, None),
                };
                let t = time as i32;
                let decay_rate = lr * f64::from(self.weight_decay);
                let h = fused::AdamWStep {
                    beta_1: self.beta_1,
                    beta_2: self.beta_2,
                    epsilon: self.epsilon,
                    bias_1: 1.0 - self.beta_1.powi(t),
                    bias_2: 1.0 - self.beta_2.powi(t),
                    keep: (decay_rate != 0.0).then_some((1.0 - decay_rate) as f32),
                    lr: lr as f32,
                };
                let (p, m, v) = fused::adamw(tensor, grad, moments, h);
                let momentum = AdaptiveMomentumState::new(time, m, v);
                return (p, Some(AdamWMoments(AdamWState::new(momentum))));
            }
        }
        let (p, state) = self.burn.step(lr, tensor, grad, state.map(|s| s.0));
        (p, state.map(AdamWMoments))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        AdamWMoments(<burn::optim::AdamW as Optimizer>::to_device(
            state.0, device,
        ))
    }
}

#[cfg(all(test, feature = "flex"))]
mod tests {
    use burn::nn::{Linear, LinearConfig};
    use burn::optim::{AdamWConfig, GradientsParams, ModuleOptimizer};
    use burn::tensor::{Device, Tensor, TensorData};

    use super::AdamW;

    fn step(optim: &mut ModuleOptimizer, model: Linear, i: usize) -> Linear {
        let device = model.weight.val().device();
        let x: Vec<f32> = (0..4 * 37)
            .map(|j| ((j * 31 + i * 7) % 19) as f32 * 0.1 - 0.9)
            .collect();
        let x = Tensor::<2>::from_data(TensorData::new(x, [4, 37]), &device);
        let loss = model.forward(x).powi_scalar(2).sum();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        optim.step(1e-2 / (1.0 + i as f64), model, grads)
    }

    fn bits(model: &Linear) -> Vec<u32> {
        let w = model.weight.val().into_data().convert::<f32>();
        let b = model
            .bias
            .as_ref()
            .expect("bias")
            .val()
            .into_data()
            .convert::<f32>();
        let mut out: Vec<u32> = w
            .as_slice::<f32>()
            .expect("f32")
            .iter()
            .map(|x| x.to_bits())
            .collect();
        out.extend(
            b.as_slice::<f32>()
                .expect("f32")
                .iter()
                .map(|x| x.to_bits()),
        );
        out
    }

    #[test]
    fn equals_burns_adamw_bit_for_bit_and_reads_its_records() {
        let device = Device::flex().autodiff();
        let start = LinearConfig::new(37, 23).init(&device);
        let ours = || ModuleOptimizer::from(AdamW::new(0.9, 0.95, 1e-8, 0.1));
        let theirs = || {
            AdamWConfig::new()
                .with_beta_1(0.9)
                .with_beta_2(0.95)
                .with_epsilon(1e-8)
                .with_weight_decay(0.1)
                .init()
        };
        let (mut a, mut b) = (ours(), theirs());
        let (mut ma, mut mb) = (start.clone(), start.clone());
        for i in 0..5 {
            ma = step(&mut a, ma, i);
            mb = step(&mut b, mb, i);
            assert_eq!(bits(&ma), bits(&mb), "step {i}");
        }
        // Each optimizer resumes from the other's record.
        let mut a2 = ours().load_record(b.to_record());
        let mut b2 = theirs().load_record(a.to_record());
        let (ra, rb) = (step(&mut a2, ma.clone(), 5), step(&mut b2, mb.clone(), 5));
        let (ca, cb) = (step(&mut a, ma, 5), step(&mut b, mb, 5));
        assert_eq!(bits(&ra), bits(&cb));
        assert_eq!(bits(&rb), bits(&ca));
        assert_eq!(bits(&ca), bits(&cb));
    }
}
