//! Fused CPU kernels for the training hot path on the `flex` backend.
//!
//! burn-flex runs every tensor op on its own (one pass over memory and one
//! fresh output buffer each), and Burn's autodiff differentiates compositions
//! op by op. For the few places where a transformer spends its time outside
//! matrix multiplies that costs more than the multiplies themselves. So on
//! flex, for f32 tensors, codex computes these as single ops with hand-written
//! backward passes, registered with Burn's autodiff graph:
//!
//! - `linear`: `x · W` straight into gemm over the flattened rows (no batched
//!   broadcast of the weight, no reduction of per-batch weight gradients);
//! - `cross_entropy`: max, log-sum-exp, the target's NLL and the argmax hit in
//!   one pass over each row of logits; the gradient `softmax − onehot` in one
//!   more, written over the logits' own buffer;
//! - `rms_norm`, `layer_norm`, `swiglu`, `geglu`, `gelu` (tanh), `softcap`
//!   and `dropout` (a
//!   hashed mask, rebuilt for the gradient): one pass forward, one backward;
//! - `attention`: causal attention with the rotary embedding applied inside,
//!   an optional sliding window, scale and soft cap, score blocks kept in cache, only the causal
//!   triangle computed, and the
//!   softmax recomputed from its log-sum-exp in the backward pass, and dropout
//!   on the probabilities from a hashed mask the backward pass rebuilds;
//! - `adamw`: [`crate::AdamW`]'s update of a parameter and its two moments in
//!   one pass, in place.
//!
//! Every other backend, dtype, and the paths these do not cover (KV cache,
//! padding masks) keep using Burn's ops.
//! Results are deterministic and independent of the thread count (see
//! [`cpu`]); they equal the composed ops' to float rounding, which the tests
//! in this module check for values and gradients.

mod cpu;
mod flex;
mod gemm;
mod simd;

use burn::backend::{Autodiff, Flex, GradientCheckpointingStrategy};
use burn::tensor::{DType, Int, Tensor};

pub(crate) use cpu::{AdamWStep, AttnDims, AttnDropout, CeOptions};

type AdFlex = Autodiff<Flex>;

/// Where a tensor lives, for the fused ops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    /// A plain flex tensor (inference, evaluation).
    Flex,
    /// A flex tensor under autodiff without gradient checkpointing (training).
    Autodiff,
}

/// How the fused ops can take `t`, or `None` when Burn's own ops must.
pub(crate) fn route<const D: usize>(t: &Tensor<D>) -> Option<Route> {
    use burn::backend::DispatchDevice;
    if t.dtype() != DType::F32 {
        return None;
    }
    match t.device().as_dispatch() {
        DispatchDevice::Flex(_) => Some(Route::Flex),
        DispatchDevice::Autodiff(ad)
            if matches!(**ad, DispatchDevice::Flex(_))
                && ad.gradient_checkpointing_strategy()
                    == GradientCheckpointingStrategy::Disabled =>
        {
            Some(Route::Autodiff)
        }
        _ => None,
    }
}

fn plain<const D: usize>(t: Tensor<D>) -> burn_flex::FlexTensor {
    t.try_into_primitive::<Flex>()
        .expect("a flex tensor (checked by `route`)")
}

fn tracked<const D: usize>(t: Tensor<D>) -> flex::AdTensor {
    t.try_into_primitive::<AdFlex>()
        .expect("an autodiff flex tensor (checked by `route`)")
}

fn from_plain<const D: usize>(t: burn_flex::FlexTensor) -> Tensor<D> {
    Tensor::from_primitive::<Flex>(t)
}

fn from_tracked<const D: usize>(t: flex::AdTensor) -> Tensor<D> {
    Tensor::from_primitive::<AdFlex>(t)
}

/// `x · w` for `x` `[m, k]` and `w` `[k, n]` (any strides, e.g. a transposed view).
pub(crate) fn linear(route: Route, x: Tensor<2>, w: Tensor<2>) -> Tensor<2> {
    match route {
        Route::Flex => from_plain(flex::linear(&plain(x), &plain(w))),
        Route::Autodiff => from_tracked(flex::linear_ad(tracked(x), tracked(w))),
    }
}

/// Per-row cross-entropy of `logits` `[n, vocab]` against `targets` `[n]`:
/// `[n, 2]` with the negative log-likelihood (differentiable) and 1.0 where
/// the first argmax is the target (no gradient); both 0 for ignored rows.
/// With `options.cap`, of the soft-capped logits.
pub(crate) fn cross_entropy(
    route: Route,
    logits: Tensor<2>,
    targets: Tensor<1, Int>,
    options: CeOptions,
) -> Tensor<2> {
    let ids = flex::target_ids(
        &match route {
            Route::Flex => targets.try_into_primitive::<Flex>(),
            Route::Autodiff => targets.try_into_primitive::<AdFlex>(),
        }
        .expect("int targets on the logits' device"),
    );
    match route {
        Route::Flex => from_plain(flex::cross_entropy(&plain(logits), &ids, options).0),
        Route::Autodiff => from_tracked(flex::cross_entropy_ad(tracked(logits), ids, options)),
    }
}

/// RMSNorm of `x` `[m, d]` with scale `gamma` `[d]`.
pub(crate) fn rms_norm(route: Route, x: Tensor<2>, gamma: Tensor<1>, eps: f64) -> Tensor<2> {
    let eps = eps as f32;
    match route {
        Route::Flex => from_plain(flex::rms_norm(&plain(x), &plain(gamma), eps).0),
        Route::Autodiff => from_tracked(flex::rms_norm_ad(tracked(x), tracked(gamma), eps)),
    }
}

/// LayerNorm of `x` `[m, d]` with scale `gamma` and shift `beta` `[d]`.
pub(crate) fn layer_norm(
    route: Route,
    x: Tensor<2>,
    gamma: Tensor<1>,
    beta: Tensor<1>,
    eps: f64,
) -> Tensor<2> {
    let eps = eps as f32;
    match route {
        Route::Flex => from_plain(flex::layer_norm(&plain(x), &plain(gamma), &plain(beta), eps).0),
        Route::Autodiff => from_tracked(flex::layer_norm_ad(
            tracked(x),
            tracked(gamma),
            tracked(beta),
            eps,
        )),
    }
}

/// The tanh approximation of GELU, elementwise.
pub(crate) fn gelu<const D: usize>(route: Route, x: Tensor<D>) -> Tensor<D> {
    match route {
        Route::Flex => from_plain(flex::gelu(&plain(x))),
        Route::Autodiff => from_tracked(flex::gelu_ad(tracked(x))),
    }
}

/// `silu(gate) · up`, elementwise.
pub(crate) fn swiglu<const D: usize>(route: Route, gate: Tensor<D>, up: Tensor<D>) -> Tensor<D> {
    match route {
        Route::Flex => from_plain(flex::swiglu(&plain(gate), &plain(up))),
        Route::Autodiff => from_tracked(flex::swiglu_ad(tracked(gate), tracked(up))),
    }
}

/// What an attention layer adds to plain causal attention: a sliding
/// window (each query sees its last `window` keys, its own included), a score
/// scale other than `1/√d`, a soft cap on the scores, and for packed examples
/// the position where each query's example starts in its row (`[b · t]`; no
/// query sees a key before it).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct AttnOptions {
    pub(crate) window: Option<usize>,
    pub(crate) scale: Option<f32>,
    pub(crate) softcap: Option<f32>,
    pub(crate) starts: Option<std::sync::Arc<Vec<u32>>>,
}

/// `cap · tanh(x / cap)`, elementwise (Gemma 2's logit soft cap).
pub(crate) fn softcap<const D: usize>(route: Route, x: Tensor<D>, cap: f32) -> Tensor<D> {
    match route {
        Route::Flex => from_plain(flex::softcap(&plain(x), cap)),
        Route::Autodiff => from_tracked(flex::softcap_ad(tracked(x), cap)),
    }
}

/// `gelu(gate) · up` with the tanh GELU, elementwise (Gemma's GeGLU).
pub(crate) fn geglu<const D: usize>(route: Route, gate: Tensor<D>, up: Tensor<D>) -> Tensor<D> {
    match route {
        Route::Flex => from_plain(flex::geglu(&plain(gate), &plain(up))),
        Route::Autodiff => from_tracked(flex::geglu_ad(tracked(gate), tracked(up))),
    }
}

/// Causal self-attention from position 0 over `q` `[b, t, h, d]`, `k` and `v`
/// `[b, t, kvh, d]`, with the rotary embedding (`cos`, `sin`: `[b, t, r / 2]`
/// for the leading `r` dimensions) applied to `q` and `k` when given, dropout
/// on the probabilities when `drop` is given, and `options`. Returns
/// `[b, t, h, d]`.
pub(crate) fn attention(
    route: Route,
    q: Tensor<4>,
    k: Tensor<4>,
    v: Tensor<4>,
    rope: Option<(Tensor<3>, Tensor<3>)>,
    drop: Option<AttnDropout>,
    options: AttnOptions,
) -> Tensor<4> {
    let [b, t, h, d] = q.dims();
    let kvh = k.dims()[2];
    let dims = AttnDims {
        b,
        t,
        h,
        kvh,
        d,
        window: options.window,
        scale: options.scale,
        softcap: options.softcap,
    };
    let tables = rope.map(|(cos, sin)| {
        let prim = |x: Tensor<3>| match route {
            Route::Flex => plain(x),
            Route::Autodiff => tracked(x).into_primitive(),
        };
        flex::RopeTables::new(&prim(cos), &prim(sin))
    });
    match route {
        Route::Flex => {
            let (out, _) = flex::attention(
                &plain(q),
                &plain(k),
                &plain(v),
                tables.as_ref(),
                drop,
                options.starts.as_deref().map(Vec::as_slice),
                dims,
            );
            from_plain(out)
        }
        Route::Autodiff => from_tracked(flex::attention_ad(
            tracked(q),
            tracked(k),
            tracked(v),
            tables,
            drop,
            options.starts,
            dims,
        )),
    }
}

/// Dropout with a hashed mask (see [`AttnDropout`]); the gradient uses the
/// same mask.
pub(crate) fn dropout<const D: usize>(route: Route, x: Tensor<D>, drop: AttnDropout) -> Tensor<D> {
    match route {
        Route::Flex => from_plain(flex::dropout(&plain(x), drop)),
        Route::Autodiff => from_tracked(flex::dropout_ad(tracked(x), drop)),
    }
}

/// A dropout seed from two draws of `device`'s generator (which training
/// reseeds every step, so the masks are part of the run's exact replay).
pub(crate) fn draw_seed(device: &burn::tensor::Device) -> u64 {
    use burn::tensor::Distribution;
    let draws = Tensor::<1>::random([2], Distribution::Default, device)
        .into_data()
        .convert::<f32>();
    let bits: Vec<u64> = draws
        .as_slice::<f32>()
        .expect("f32 draws")
        .iter()
        .map(|v| u64::from(v.to_bits()))
        .collect();
    (bits[0] << 32) | bits[1]
}

/// `Σ x²` of a plain flex tensor, as a one-element tensor.
pub(crate) fn sum_squares<const D: usize>(x: Tensor<D>) -> Tensor<1> {
    from_plain(flex::sum_squares(&plain(x)))
}

/// One AdamW step of `param` on plain flex tensors: the new parameter and
/// moments (`moments` `None` on the first step).
pub(crate) fn adamw<const D: usize>(
    param: Tensor<D>,
    grad: Tensor<D>,
    moments: Option<(Tensor<D>, Tensor<D>)>,
    h: AdamWStep,
) -> (Tensor<D>, Tensor<D>, Tensor<D>) {
    let moments = moments.map(|(m, v)| (plain(m), plain(v)));
    let (p, m, v) = flex::adamw(plain(param), &plain(grad), moments, h);
    (from_plain(p), from_plain(m), from_plain(v))
}

#[cfg(test)]
mod tests;
