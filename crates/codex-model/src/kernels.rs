//! codex's fused CPU kernels as tensor functions, for the micro-benchmarks and
//! for layers built outside this crate.
//!
//! Each runs the fused kernel (one pass forward, one backward registered with
//! Burn's autodiff graph; see [`Transformer`](crate::Transformer)'s CPU path)
//! when its first input is an f32 tensor on the flex backend, plain or under
//! autodiff without gradient checkpointing, and returns `None` otherwise, where
//! the caller composes Burn's own ops instead. The results equal the composed
//! ops' to float rounding and do not depend on the thread count.

use burn::tensor::{Int, Tensor};

use crate::fused::{self, AttnOptions, CeOptions};

/// `x · w` for `x` `[m, k]` and `w` `[k, n]`.
pub fn linear(x: Tensor<2>, w: Tensor<2>) -> Option<Tensor<2>> {
    fused::route(&x).map(|r| fused::linear(r, x, w))
}

/// Per-row cross-entropy of `logits` `[n, vocab]` against `targets` `[n]`:
/// `[n, 2]` holding the negative log-likelihood (differentiable) and 1.0
/// where the row's first argmax is the target.
pub fn cross_entropy(logits: Tensor<2>, targets: Tensor<1, Int>) -> Option<Tensor<2>> {
    fused::route(&logits).map(|r| {
        fused::cross_entropy(
            r,
            logits,
            targets,
            CeOptions {
                ignore: None,
                cap: None,
            },
        )
    })
}

/// RMSNorm of `x` `[m, d]` with scale `gamma` `[d]`.
pub fn rms_norm(x: Tensor<2>, gamma: Tensor<1>, eps: f64) -> Option<Tensor<2>> {
    fused::route(&x).map(|r| fused::rms_norm(r, x, gamma, eps))
}

/// LayerNorm of `x` `[m, d]` with scale `gamma` and shift `beta` `[d]`.
pub fn layer_norm(x: Tensor<2>, gamma: Tensor<1>, beta: Tensor<1>, eps: f64) -> Option<Tensor<2>> {
    fused::route(&x).map(|r| fused::layer_norm(r, x, gamma, beta, eps))
}

/// GELU (tanh approximation), elementwise.
pub fn gelu<const D: usize>(x: Tensor<D>) -> Option<Tensor<D>> {
    fused::route(&x).map(|r| fused::gelu(r, x))
}

/// `silu(gate) · up`, elementwise.
pub fn swiglu<const D: usize>(gate: Tensor<D>, up: Tensor<D>) -> Option<Tensor<D>> {
    fused::route(&gate).map(|r| fused::swiglu(r, gate, up))
}

/// `gelu(gate) · up` (tanh GELU), elementwise.
pub fn geglu<const D: usize>(gate: Tensor<D>, up: Tensor<D>) -> Option<Tensor<D>> {
    fused::route(&gate).map(|r| fused::geglu(r, gate, up))
}

/// `cap · tanh(x / cap)`, elementwise.
pub fn softcap<const D: usize>(x: Tensor<D>, cap: f32) -> Option<Tensor<D>> {
    fused::route(&x).map(|r| fused::softcap(r, x, cap))
}

/// Causal self-attention over `q` `[b, t, h, d]`, `k` and `v` `[b, t, kvh, d]`
/// (grouped queries when `kvh < h`), with the rotary embedding (`cos`, `sin`
/// `[b, t, r / 2]` for the leading `r` dimensions) applied to `q` and `k` when
/// given, and an optional sliding `window`. Returns `[b, t, h, d]`.
pub fn attention(
    q: Tensor<4>,
    k: Tensor<4>,
    v: Tensor<4>,
    rope: Option<(Tensor<3>, Tensor<3>)>,
    window: Option<usize>,
) -> Option<Tensor<4>> {
    fused::route(&q).map(|r| {
        fused::attention(
            r,
            q,
            k,
            v,
            rope,
            None,
            AttnOptions {
                window,
                ..AttnOptions::default()
            },
        )
    })
}
