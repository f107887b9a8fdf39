//! The fused ops' arithmetic on contiguous f32 slices, parallel over rows.
//!
//! Every function is deterministic whatever rayon's thread count: work is cut
//! into fixed blocks of rows, nothing is summed across blocks except in block
//! order, and gemm never splits a dot product across threads.

#![allow(
    unsafe_code,
    reason = "`macerator::with_simd` dispatchers call the body compiled for the detected CPU; the bodies are safe code"
)]
#![allow(
    clippy::extra_unused_type_parameters,
    reason = "a `with_simd` body names its instruction set `S` to be compiled once per set; plain loops need nothing else from it"
)]

use macerator::Simd;
use rayon::prelude::*;

use super::gemm::{Mat, MatMut, matmul};
use super::simd;

/// Rows per rayon task for a row-wise kernel over rows of `width` elements.
fn rows_per_task(width: usize) -> usize {
    (16_384 / width.max(1)).clamp(1, 256)
}

/// Elements per rayon task for elementwise kernels.
const ELEMS_PER_TASK: usize = 16_384;

/// A new vector of `len` values filled in parallel, [`ELEMS_PER_TASK`] at a
/// time: `fill(range, out)` writes the outputs of input elements `range`.
fn fill_chunks(len: usize, fill: impl Fn(std::ops::Range<usize>, &mut [f32]) + Sync) -> Vec<f32> {
    let mut out = vec![0.0f32; len];
    out.par_chunks_mut(ELEMS_PER_TASK)
        .enumerate()
        .for_each(|(c, out)| {
            let start = c * ELEMS_PER_TASK;
            fill(start..start + out.len(), out);
        });
    out
}

/// The position of target `t` in a row of `vocab` logits.
///
/// # Panics
/// When `t` is negative or not below `vocab` (and not the ignore index).
fn target_index(t: i64, vocab: usize) -> usize {
    usize::try_from(t)
        .ok()
        .filter(|&t| t < vocab)
        .unwrap_or_else(|| panic!("target id {t} is outside the vocabulary of {vocab} tokens"))
}

/// What a cross-entropy counts: rows whose target is `ignore` count nothing,
/// and with `cap` the logits are soft-capped (`cap · tanh(x / cap)`, Gemma 2's
/// final cap) inside the kernel rather than in a pass of their own.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CeOptions {
    pub(crate) ignore: Option<i64>,
    pub(crate) cap: Option<f32>,
}

/// Cross-entropy of every row of `logits` (`[n, vocab]`) against its target:
/// `[n, 2]` holding the negative log-likelihood and 1.0 where the row's first
/// argmax is the target (both 0 for ignored rows), and each row's log-sum-exp
/// (of the capped logits with a cap).
pub(crate) fn cross_entropy_forward(
    logits: &[f32],
    vocab: usize,
    targets: &[i64],
    options: CeOptions,
) -> (Vec<f32>, Vec<f32>) {
    let n = targets.len();
    assert_eq!(
        logits.len(),
        n * vocab,
        "cross_entropy: logits and targets disagree"
    );
    let mut out = vec![0.0f32; n * 2];
    let mut lse = vec![0.0f32; n];
    let rpt = rows_per_task(vocab);
    out.par_chunks_mut(2 * rpt)
        .zip(lse.par_chunks_mut(rpt))
        .enumerate()
        .for_each(|(c, (out, lse))| {
            let rows = c * rpt..c * rpt + lse.len();
            let logits = &logits[rows.start * vocab..rows.end * vocab];
            ce_forward_rows(logits, vocab, &targets[rows], options, out, lse);
        });
    (out, lse)
}

#[macerator::with_simd]
fn ce_forward_rows<S: Simd>(
    logits: &[f32],
    vocab: usize,
    targets: &[i64],
    options: CeOptions,
    out: &mut [f32],
    lse: &mut [f32],
) {
    let mut capped = vec![0.0f32; if options.cap.is_some() { vocab } else { 0 }];
    for (r, (o, l)) in out.chunks_exact_mut(2).zip(lse.iter_mut()).enumerate() {
        let mut x = &logits[r * vocab..(r + 1) * vocab];
        if let Some(cap) = options.cap {
            let inv = 1.0 / cap;
            for (y, &v) in capped.iter_mut().zip(x) {
                *y = cap * tanh_sech2(v * inv).0;
            }
            x = &capped;
        }
        let (max, arg) = simd::max_argmax(x);
        let lse_row = max + simd::sum_map(x, |v| simd::exp(v - max)).ln();
        *l = lse_row;
        let t = targets[r];
        if Some(t) == options.ignore {
            continue;
        }
        let t = target_index(t, vocab);
        o[0] = lse_row - x[t];
        o[1] = if arg == t { 1.0 } else { 0.0 };
    }
}

/// The gradient of [`cross_entropy_forward`]'s negative log-likelihoods:
/// `g_r · (softmax(y_r) − onehot(t_r))` per row, zero for ignored rows, where
/// `y` is the (capped) logits; with a cap, times `1 − tanh²(x / cap)`. `grad`
/// is the `[n, 2]` upstream gradient (its second column is ignored). Written
/// over `logits` in place.
pub(crate) fn cross_entropy_backward_in_place(
    logits: &mut [f32],
    vocab: usize,
    targets: &[i64],
    options: CeOptions,
    lse: &[f32],
    grad: &[f32],
) {
    let rpt = rows_per_task(vocab);
    logits
        .par_chunks_mut(rpt * vocab)
        .enumerate()
        .for_each(|(c, rows)| {
            let range = c * rpt..c * rpt + rows.len() / vocab;
            ce_backward_rows(
                rows,
                vocab,
                &targets[range.clone()],
                options,
                &lse[range.clone()],
                &grad[2 * range.start..2 * range.end],
            );
        });
}

#[macerator::with_simd]
fn ce_backward_rows<S: Simd>(
    rows: &mut [f32],
    vocab: usize,
    targets: &[i64],
    options: CeOptions,
    lse: &[f32],
    grad: &[f32],
) {
    for (r, x) in rows.chunks_exact_mut(vocab).enumerate() {
        let t = targets[r];
        if Some(t) == options.ignore {
            x.fill(0.0);
            continue;
        }
        let t = target_index(t, vocab);
        let (g, l) = (grad[2 * r], lse[r]);
        match options.cap {
            None => {
                for v in x.iter_mut() {
                    *v = g * simd::exp(*v - l);
                }
                x[t] -= g;
            }
            Some(cap) => {
                let inv = 1.0 / cap;
                let target_sech2 = tanh_sech2(x[t] * inv).1;
                for v in x.iter_mut() {
                    let (tanh, sech2) = tanh_sech2(*v * inv);
                    *v = g * simd::exp(cap * tanh - l) * sech2;
                }
                x[t] -= g * target_sech2;
            }
        }
    }
}

/// RMSNorm of every row: `y = x · rstd · γ` with `rstd = 1/√(mean(x²) + eps)`;
/// returns `y` and each row's `rstd`.
pub(crate) fn rms_norm_forward(x: &[f32], gamma: &[f32], eps: f32) -> (Vec<f32>, Vec<f32>) {
    let d = gamma.len();
    let n = x.len() / d;
    let mut y = vec![0.0f32; x.len()];
    let mut rstd = vec![0.0f32; n];
    let rpt = rows_per_task(d);
    y.par_chunks_mut(rpt * d)
        .zip(rstd.par_chunks_mut(rpt))
        .enumerate()
        .for_each(|(c, (y, rstd))| {
            let start = c * rpt * d;
            rms_forward_rows(&x[start..start + y.len()], gamma, eps, y, rstd);
        });
    (y, rstd)
}

#[macerator::with_simd]
fn rms_forward_rows<S: Simd>(x: &[f32], gamma: &[f32], eps: f32, y: &mut [f32], rstd: &mut [f32]) {
    let d = gamma.len();
    for ((yr, s), xr) in y
        .chunks_exact_mut(d)
        .zip(rstd.iter_mut())
        .zip(x.chunks_exact(d))
    {
        let inv = 1.0 / (simd::sum_map(xr, |v| v * v) / d as f32 + eps).sqrt();
        *s = inv;
        for ((o, &v), &g) in yr.iter_mut().zip(xr).zip(gamma) {
            *o = v * inv * g;
        }
    }
}

/// Rows summed per partial of a parameter gradient; the partials are added in
/// order, so the sum does not depend on how many threads computed them.
const GRAD_BLOCK: usize = 32;

/// Gradients of [`rms_norm_forward`]: `dx` and `dγ`.
pub(crate) fn rms_norm_backward(
    x: &[f32],
    gamma: &[f32],
    rstd: &[f32],
    dy: &[f32],
) -> (Vec<f32>, Vec<f32>) {
    let d = gamma.len();
    let n = x.len() / d;
    let mut dx = vec![0.0f32; x.len()];
    let mut partial = vec![0.0f32; n.div_ceil(GRAD_BLOCK) * d];
    dx.par_chunks_mut(GRAD_BLOCK * d)
        .zip(partial.par_chunks_mut(d))
        .enumerate()
        .for_each(|(b, (dx, part))| {
            let rows = b * GRAD_BLOCK..b * GRAD_BLOCK + dx.len() / d;
            let span = rows.start * d..rows.end * d;
            rms_backward_rows(&x[span.clone()], gamma, &rstd[rows], &dy[span], dx, part);
        });
    (dx, sum_partials(&partial, d))
}

#[macerator::with_simd]
fn rms_backward_rows<S: Simd>(
    x: &[f32],
    gamma: &[f32],
    rstd: &[f32],
    dy: &[f32],
    dx: &mut [f32],
    part: &mut [f32],
) {
    let d = gamma.len();
    for (r, dxr) in dx.chunks_exact_mut(d).enumerate() {
        let (xr, dyr) = (&x[r * d..(r + 1) * d], &dy[r * d..(r + 1) * d]);
        let s = rstd[r];
        let c = s * s * s * simd::sum_zip3(dyr, gamma, xr, |a, g, x| a * g * x) / d as f32;
        for j in 0..d {
            dxr[j] = s * (dyr[j] * gamma[j]) - xr[j] * c;
            part[j] += dyr[j] * (xr[j] * s);
        }
    }
}

/// Column sums of `[blocks, d]` partials, block by block in order.
fn sum_partials(partial: &[f32], d: usize) -> Vec<f32> {
    let mut total = vec![0.0f32; d];
    for p in partial.chunks_exact(d) {
        for (t, &v) in total.iter_mut().zip(p) {
            *t += v;
        }
    }
    total
}

/// LayerNorm of every row: `y = (x − μ)·rstd·γ + β` with the biased variance
/// and `rstd = 1/√(var + eps)`; returns `y` and each row's `μ` and `rstd`.
pub(crate) fn layer_norm_forward(
    x: &[f32],
    gamma: &[f32],
    beta: &[f32],
    eps: f32,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let d = gamma.len();
    let n = x.len() / d;
    let mut y = vec![0.0f32; x.len()];
    let mut stats = vec![0.0f32; 2 * n];
    let rpt = rows_per_task(d);
    y.par_chunks_mut(rpt * d)
        .zip(stats.par_chunks_mut(2 * rpt))
        .enumerate()
        .for_each(|(c, (y, stats))| {
            let start = c * rpt * d;
            layer_norm_rows(&x[start..start + y.len()], gamma, beta, eps, y, stats);
        });
    let (mean, rstd) = stats.chunks_exact(2).map(|s| (s[0], s[1])).unzip();
    (y, mean, rstd)
}

#[macerator::with_simd]
fn layer_norm_rows<S: Simd>(
    x: &[f32],
    gamma: &[f32],
    beta: &[f32],
    eps: f32,
    y: &mut [f32],
    stats: &mut [f32],
) {
    let d = gamma.len();
    for ((yr, s), xr) in y
        .chunks_exact_mut(d)
        .zip(stats.chunks_exact_mut(2))
        .zip(x.chunks_exact(d))
    {
        let mean = simd::sum_map(xr, |v| v) / d as f32;
        let var = simd::sum_map(xr, |v| (v - mean) * (v - mean)) / d as f32;
        let inv = 1.0 / (var + eps).sqrt();
        s[0] = mean;
        s[1] = inv;
        for (((o, &v), &g), &b) in yr.iter_mut().zip(xr).zip(gamma).zip(beta) {
            *o = (v - mean) * inv * g + b;
        }
    }
}

/// Gradients of [`layer_norm_forward`]: `dx`, `dγ` and `dβ`.
pub(crate) fn layer_norm_backward(
    x: &[f32],
    gamma: &[f32],
    mean: &[f32],
    rstd: &[f32],
    dy: &[f32],
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let d = gamma.len();
    let n = x.len() / d;
    let mut dx = vec![0.0f32; x.len()];
    let blocks = n.div_ceil(GRAD_BLOCK);
    let mut partial = vec![0.0f32; blocks * 2 * d];
    dx.par_chunks_mut(GRAD_BLOCK * d)
        .zip(partial.par_chunks_mut(2 * d))
        .enumerate()
        .for_each(|(b, (dx, part))| {
            let rows = b * GRAD_BLOCK..b * GRAD_BLOCK + dx.len() / d;
            let span = rows.start * d..rows.end * d;
            let (dg, db) = part.split_at_mut(d);
            layer_norm_backward_rows(
                &x[span.clone()],
                gamma,
                &mean[rows.clone()],
                &rstd[rows],
                &dy[span],
                dx,
                dg,
                db,
            );
        });
    let mut dgamma = vec![0.0f32; d];
    let mut dbeta = vec![0.0f32; d];
    for p in partial.chunks_exact(2 * d) {
        for j in 0..d {
            dgamma[j] += p[j];
            dbeta[j] += p[d + j];
        }
    }
    (dx, dgamma, dbeta)
}

#[macerator::with_simd]
#[allow(
    clippy::too_many_arguments,
    reason = "one block's rows, statistics and gradients"
)]
fn layer_norm_backward_rows<S: Simd>(
    x: &[f32],
    gamma: &[f32],
    mean: &[f32],
    rstd: &[f32],
    dy: &[f32],
    dx: &mut [f32],
    dgamma: &mut [f32],
    dbeta: &mut [f32],
) {
    let d = gamma.len();
    for (r, dxr) in dx.chunks_exact_mut(d).enumerate() {
        let (xr, dyr) = (&x[r * d..(r + 1) * d], &dy[r * d..(r + 1) * d]);
        let (mu, s) = (mean[r], rstd[r]);
        // mean(dy ⊙ γ) and mean(dy ⊙ γ ⊙ x̂), x̂ = (x − μ)·rstd.
        let a = simd::sum_zip(dyr, gamma, |g, w| g * w) / d as f32;
        let b = simd::sum_zip3(dyr, gamma, xr, |g, w, v| g * w * ((v - mu) * s)) / d as f32;
        for j in 0..d {
            let xhat = (xr[j] - mu) * s;
            dxr[j] = s * (dyr[j] * gamma[j] - a - xhat * b);
            dgamma[j] += dyr[j] * xhat;
            dbeta[j] += dyr[j];
        }
    }
}

/// √(2/π), the tanh-GELU's inner scale.
const SQRT_2_OVER_PI: f32 = 0.797_884_6;
/// The cubic coefficient of the tanh-GELU.
const GELU_CUBIC: f32 = 0.044_715;

/// `(1 + tanh(u), 1 − tanh²(u))` through `e = exp(−2|u|)`, accurate even where
/// `tanh(u)` rounds to ±1 (where `1 + tanh(u)` computed as a sum would lose
/// every digit): `1 + tanh u` is `2/(1+e)` for `u ≥ 0` and `2e/(1+e)` below.
#[inline(always)]
fn tanh_terms(u: f32) -> (f32, f32) {
    let e = simd::exp(-2.0 * u.abs());
    let inv = 1.0 / (1.0 + e);
    let one_plus = if u >= 0.0 { 2.0 * inv } else { 2.0 * e * inv };
    (one_plus, 4.0 * e * inv * inv)
}

/// The tanh approximation of GELU, `½x(1 + tanh(√(2/π)(x + 0.044715x³)))`,
/// as GPT-2 uses it, elementwise.
pub(crate) fn gelu_forward(x: &[f32]) -> Vec<f32> {
    fill_chunks(x.len(), |r, y| gelu_chunk(&x[r], y))
}

#[macerator::with_simd]
fn gelu_chunk<S: Simd>(x: &[f32], y: &mut [f32]) {
    for (o, &v) in y.iter_mut().zip(x) {
        let (one_plus, _) = tanh_terms(SQRT_2_OVER_PI * (v + GELU_CUBIC * v * v * v));
        *o = 0.5 * v * one_plus;
    }
}

/// The gradient of [`gelu_forward`].
pub(crate) fn gelu_backward(x: &[f32], dy: &[f32]) -> Vec<f32> {
    fill_chunks(x.len(), |r, dx| {
        gelu_backward_chunk(&x[r.clone()], &dy[r], dx)
    })
}

#[macerator::with_simd]
fn gelu_backward_chunk<S: Simd>(x: &[f32], dy: &[f32], dx: &mut [f32]) {
    for ((o, &v), &g) in dx.iter_mut().zip(x).zip(dy) {
        let (one_plus, sech2) = tanh_terms(SQRT_2_OVER_PI * (v + GELU_CUBIC * v * v * v));
        let inner = SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_CUBIC * v * v);
        *o = g * (0.5 * one_plus + 0.5 * v * sech2 * inner);
    }
}

/// `tanh u` and its derivative `1 − tanh² u`, from one `exp` of `−2|u|`
/// (accurate to a few ulp near 0 too, unlike `(1 + tanh u) − 1`).
#[inline(always)]
fn tanh_sech2(u: f32) -> (f32, f32) {
    let e = simd::exp(-2.0 * u.abs());
    let inv = 1.0 / (1.0 + e);
    let t = (1.0 - e) * inv;
    (if u >= 0.0 { t } else { -t }, 4.0 * e * inv * inv)
}

/// `cap · tanh(x / cap)` (Gemma 2's soft cap of scores and logits), elementwise.
pub(crate) fn softcap_forward(x: &[f32], cap: f32) -> Vec<f32> {
    fill_chunks(x.len(), |r, y| softcap_chunk(&x[r], cap, y))
}

#[macerator::with_simd]
fn softcap_chunk<S: Simd>(x: &[f32], cap: f32, y: &mut [f32]) {
    let inv = 1.0 / cap;
    for (o, &v) in y.iter_mut().zip(x) {
        *o = cap * tanh_sech2(v * inv).0;
    }
}

/// The gradient of [`softcap_forward`] from its output `y`:
/// `dy · (1 − (y / cap)²)`.
pub(crate) fn softcap_backward(y: &[f32], dy: &[f32], cap: f32) -> Vec<f32> {
    fill_chunks(y.len(), |r, dx| {
        softcap_backward_chunk(&y[r.clone()], &dy[r], cap, dx)
    })
}

#[macerator::with_simd]
fn softcap_backward_chunk<S: Simd>(y: &[f32], dy: &[f32], cap: f32, dx: &mut [f32]) {
    let inv = 1.0 / cap;
    for ((o, &v), &g) in dx.iter_mut().zip(y).zip(dy) {
        let t = v * inv;
        *o = g * (1.0 - t * t);
    }
}

/// `gelu(gate) · up` with GPT-2's tanh GELU (Gemma's GeGLU), elementwise.
pub(crate) fn geglu_forward(gate: &[f32], up: &[f32]) -> Vec<f32> {
    assert_eq!(gate.len(), up.len(), "geglu: gate and up differ in size");
    fill_chunks(gate.len(), |r, h| {
        geglu_forward_chunk(&gate[r.clone()], &up[r], h)
    })
}

#[macerator::with_simd]
fn geglu_forward_chunk<S: Simd>(g: &[f32], u: &[f32], h: &mut [f32]) {
    for ((o, &g), &u) in h.iter_mut().zip(g).zip(u) {
        let (one_plus, _) = tanh_terms(SQRT_2_OVER_PI * (g + GELU_CUBIC * g * g * g));
        *o = 0.5 * g * one_plus * u;
    }
}

/// Gradients of [`geglu_forward`] for the gate and the up projection.
pub(crate) fn geglu_backward(gate: &[f32], up: &[f32], dh: &[f32]) -> (Vec<f32>, Vec<f32>) {
    gated_backward(gate, up, dh, geglu_backward_chunk)
}

/// A block of a gated activation's backward pass: from gate, up and the
/// output gradient, the gate and up gradients.
type GatedChunk = fn(&[f32], &[f32], &[f32], &mut [f32], &mut [f32]);

/// The gate and up gradients of a gated activation, `chunk` computing them
/// over fixed blocks of elements in parallel.
fn gated_backward(gate: &[f32], up: &[f32], dh: &[f32], chunk: GatedChunk) -> (Vec<f32>, Vec<f32>) {
    let mut dg = vec![0.0f32; gate.len()];
    let mut du = vec![0.0f32; gate.len()];
    dg.par_chunks_mut(ELEMS_PER_TASK)
        .zip(du.par_chunks_mut(ELEMS_PER_TASK))
        .enumerate()
        .for_each(|(c, (dg, du))| {
            let start = c * ELEMS_PER_TASK;
            let end = start + dg.len();
            chunk(&gate[start..end], &up[start..end], &dh[start..end], dg, du);
        });
    (dg, du)
}

#[macerator::with_simd]
fn geglu_backward_chunk<S: Simd>(g: &[f32], u: &[f32], d: &[f32], dg: &mut [f32], du: &mut [f32]) {
    for i in 0..dg.len() {
        let v = g[i];
        let (one_plus, sech2) = tanh_terms(SQRT_2_OVER_PI * (v + GELU_CUBIC * v * v * v));
        let inner = SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_CUBIC * v * v);
        du[i] = d[i] * 0.5 * v * one_plus;
        dg[i] = d[i] * u[i] * (0.5 * one_plus + 0.5 * v * sech2 * inner);
    }
}

/// `silu(gate) · up`, elementwise.
pub(crate) fn swiglu_forward(gate: &[f32], up: &[f32]) -> Vec<f32> {
    assert_eq!(gate.len(), up.len(), "swiglu: gate and up differ in size");
    fill_chunks(gate.len(), |r, h| {
        swiglu_forward_chunk(&gate[r.clone()], &up[r], h)
    })
}

#[macerator::with_simd]
fn swiglu_forward_chunk<S: Simd>(g: &[f32], u: &[f32], h: &mut [f32]) {
    for ((o, &g), &u) in h.iter_mut().zip(g).zip(u) {
        *o = g * simd::sigmoid(g) * u;
    }
}

/// Gradients of [`swiglu_forward`] for the gate and the up projection.
pub(crate) fn swiglu_backward(gate: &[f32], up: &[f32], dh: &[f32]) -> (Vec<f32>, Vec<f32>) {
    gated_backward(gate, up, dh, swiglu_backward_chunk)
}

#[macerator::with_simd]
fn swiglu_backward_chunk<S: Simd>(g: &[f32], u: &[f32], d: &[f32], dg: &mut [f32], du: &mut [f32]) {
    for i in 0..dg.len() {
        let s = simd::sigmoid(g[i]);
        du[i] = d[i] * g[i] * s;
        dg[i] = d[i] * u[i] * (s * (1.0 + g[i] * (1.0 - s)));
    }
}

/// `Σ x²`, summed in fixed chunks whose partials are added in order.
pub(crate) fn sum_squares(x: &[f32]) -> f32 {
    let partial: Vec<f32> = x
        .par_chunks(ELEMS_PER_TASK)
        .map(sum_squares_chunk)
        .collect();
    partial.iter().sum()
}

#[macerator::with_simd]
fn sum_squares_chunk<S: Simd>(x: &[f32]) -> f32 {
    simd::sum_map(x, |v| v * v)
}

/// One AdamW step's hyper-parameters, as f32 the way Burn's AdamW applies
/// them (scalars reach f32 tensors as f32).
#[derive(Debug, Clone, Copy)]
pub(crate) struct AdamWStep {
    pub(crate) beta_1: f32,
    pub(crate) beta_2: f32,
    pub(crate) epsilon: f32,
    /// `1 − β₁ᵗ` and `1 − β₂ᵗ`.
    pub(crate) bias_1: f32,
    pub(crate) bias_2: f32,
    /// `1 − lr·λ`, or `None` without weight decay.
    pub(crate) keep: Option<f32>,
    pub(crate) lr: f32,
}

/// AdamW on one parameter in place, with the arithmetic of Burn's `AdamW`
/// in the same order (so the same bits): `m ← β₁m + (1−β₁)g`,
/// `v ← β₂v + (1−β₂)g²`, `p ← p·(1−lr·λ) − lr·(m/b₁)/(√(v/b₂) + ε)`.
pub(crate) fn adamw_in_place(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], h: AdamWStep) {
    assert!(
        p.len() == g.len() && m.len() == g.len() && v.len() == g.len(),
        "adamw: parameter, gradient and moments differ in size"
    );
    p.par_chunks_mut(ELEMS_PER_TASK)
        .zip(m.par_chunks_mut(ELEMS_PER_TASK))
        .zip(v.par_chunks_mut(ELEMS_PER_TASK))
        .enumerate()
        .for_each(|(c, ((p, m), v))| {
            let start = c * ELEMS_PER_TASK;
            adamw_chunk(p, &g[start..start + p.len()], m, v, h);
        });
}

#[macerator::with_simd]
fn adamw_chunk<S: Simd>(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], h: AdamWStep) {
    let (f1, f2) = (1.0 - h.beta_1, 1.0 - h.beta_2);
    for i in 0..p.len() {
        let gi = g[i];
        let mi = m[i] * h.beta_1 + gi * f1;
        let vi = v[i] * h.beta_2 + (gi * gi) * f2;
        m[i] = mi;
        v[i] = vi;
        let delta = (mi / h.bias_1) / ((vi / h.bias_2).sqrt() + h.epsilon);
        let decayed = match h.keep {
            Some(k) => p[i] * k,
            None => p[i],
        };
        p[i] = decayed - delta * h.lr;
    }
}

/// Shapes of one causal self-attention: batch, sequence, query heads, key/value
/// heads (dividing the query heads) and head size; and its options: the
/// sliding window (with `Some(w)`, query `i` sees keys `i + 1 − w ..= i`
/// only), the score scale (`1/√d` when `None`) and the soft cap of the
/// scores (`cap · tanh(s / cap)` before the softmax, Gemma 2).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct AttnDims {
    pub(crate) b: usize,
    pub(crate) t: usize,
    pub(crate) h: usize,
    pub(crate) kvh: usize,
    pub(crate) d: usize,
    pub(crate) window: Option<usize>,
    pub(crate) scale: Option<f32>,
    pub(crate) softcap: Option<f32>,
}

impl AttnDims {
    /// The window as a plain bound (`usize::MAX` without one).
    fn span(&self) -> usize {
        self.window.unwrap_or(usize::MAX)
    }

    fn rep(&self) -> usize {
        self.h / self.kvh
    }

    fn scale(&self) -> f32 {
        self.scale.unwrap_or(1.0 / (self.d as f32).sqrt())
    }
}

/// What the attention backward pass needs from its forward pass.
#[derive(Debug, Clone)]
pub(crate) struct AttnSaved {
    /// Rotated queries, head-major `[b, h, t, d]`.
    pub(crate) qr: Vec<f32>,
    /// Rotated keys, head-major `[b, kvh, t, d]`.
    pub(crate) kr: Vec<f32>,
    /// Outputs, head-major `[b, h, t, d]`.
    pub(crate) oh: Vec<f32>,
    /// Log-sum-exp of every query's scaled scores, `[b, h, t]`.
    pub(crate) lse: Vec<f32>,
}

/// Query rows per block of the attention kernels; a block's scores (`64 × t`)
/// stay in cache.
const QBLOCK: usize = 64;

/// Rotary cos and sin of every (batch, position): `[b, t, d / 2]` each.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rope<'a> {
    pub(crate) cos: &'a [f32],
    pub(crate) sin: &'a [f32],
}

/// How many dimension pairs of a head rotate: the tables' width (`d / 2`
/// unless the rotation is partial).
fn rope_half(rope: Rope<'_>, dims: AttnDims) -> usize {
    rope.cos.len() / (dims.b * dims.t)
}

/// Copy one head of a `[b, t, heads, d]` tensor into `[t, d]`, rotating its
/// first `2 · half` dimensions in the half-split layout when `rope` is given
/// (the rest pass through).
fn gather_head(
    src: &[f32],
    dims: AttnDims,
    heads: usize,
    b: usize,
    head: usize,
    rope: Option<Rope<'_>>,
    dst: &mut [f32],
) {
    let (t, d) = (dims.t, dims.d);
    let half = rope.map_or(0, |r| rope_half(r, dims));
    for (ti, out) in dst.chunks_exact_mut(d).enumerate() {
        let x = &src[((b * t + ti) * heads + head) * d..][..d];
        match rope {
            None => out.copy_from_slice(x),
            Some(r) => {
                let at = (b * t + ti) * half;
                let (c, s) = (&r.cos[at..at + half], &r.sin[at..at + half]);
                let (x1, rest) = x.split_at(half);
                let (x2, pass) = rest.split_at(half);
                let (o1, rest) = out.split_at_mut(half);
                let (o2, opass) = rest.split_at_mut(half);
                for i in 0..half {
                    o1[i] = x1[i] * c[i] - x2[i] * s[i];
                    o2[i] = x2[i] * c[i] + x1[i] * s[i];
                }
                opass.copy_from_slice(pass);
            }
        }
    }
}

/// Write head-major `[b, heads, t, d]` gradients back to `[b, t, heads, d]`,
/// undoing the rotation (its transpose) when `rope` is given.
fn scatter_heads(src: &[f32], dims: AttnDims, heads: usize, rope: Option<Rope<'_>>) -> Vec<f32> {
    let (t, d) = (dims.t, dims.d);
    let half = rope.map_or(0, |r| rope_half(r, dims));
    let mut out = vec![0.0f32; dims.b * t * heads * d];
    out.par_chunks_mut(heads * d)
        .enumerate()
        .for_each(|(bt, row)| {
            let (b, ti) = (bt / t, bt % t);
            for (head, o) in row.chunks_exact_mut(d).enumerate() {
                let g = &src[((b * heads + head) * t + ti) * d..][..d];
                match rope {
                    None => o.copy_from_slice(g),
                    Some(r) => {
                        let at = bt * half;
                        let (c, s) = (&r.cos[at..at + half], &r.sin[at..at + half]);
                        let (g1, rest) = g.split_at(half);
                        let (g2, pass) = rest.split_at(half);
                        let (o1, rest) = o.split_at_mut(half);
                        let (o2, opass) = rest.split_at_mut(half);
                        for i in 0..half {
                            o1[i] = g1[i] * c[i] + g2[i] * s[i];
                            o2[i] = g2[i] * c[i] - g1[i] * s[i];
                        }
                        opass.copy_from_slice(pass);
                    }
                }
            }
        });
    out
}

/// The first key each query of one sequence sees: `i + 1 − span` (0 without
/// a window), and no key before the start of the query's own example when
/// examples are packed (`starts[i]`: the position where query `i`'s example
/// starts in the row).
#[derive(Debug, Clone, Copy)]
struct FirstKey<'a> {
    span: usize,
    starts: Option<&'a [u32]>,
}

impl FirstKey<'_> {
    #[inline(always)]
    fn of(&self, i: usize) -> usize {
        let w = (i + 1).saturating_sub(self.span);
        match self.starts {
            Some(s) => w.max(s[i] as usize),
            None => w,
        }
    }
}

/// Causal softmax of one block of score rows in place: row `r` is query
/// `first + r` and sees keys `lower.of(first + r) ..= first + r`; the others
/// are set to zero. Each row's log-sum-exp goes to `lse`.
#[macerator::with_simd]
fn causal_softmax_rows<'a, S: Simd>(
    s: &mut [f32],
    keys: usize,
    first: usize,
    lower: FirstKey<'a>,
    lse: &mut [f32],
) {
    for (r, row) in s.chunks_exact_mut(keys).enumerate() {
        let (seen, future) = row.split_at_mut(first + r + 1);
        future.fill(0.0);
        let (gone, seen) = seen.split_at_mut(lower.of(first + r));
        gone.fill(0.0);
        let (max, _) = simd::max_argmax(seen);
        for v in seen.iter_mut() {
            *v = simd::exp(*v - max);
        }
        let sum = simd::sum_map(seen, |v| v);
        lse[r] = max + sum.ln();
        let inv = 1.0 / sum;
        for v in seen.iter_mut() {
            *v *= inv;
        }
    }
}

/// Dropout on the attention probabilities: probability `(b, h, i, j)` is
/// kept when a hash of its index and `seed` clears `p`, and kept ones are
/// scaled by `1/(1 − p)`. The mask is a function of `(seed, index)` alone, so
/// the backward pass rebuilds it instead of storing it, and it does not depend
/// on how the work is split across threads.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct AttnDropout {
    pub(crate) seed: u64,
    pub(crate) p: f32,
}

impl AttnDropout {
    /// Hash values below this are dropped.
    fn threshold(&self) -> u32 {
        (f64::from(self.p) * 4_294_967_296.0).min(f64::from(u32::MAX)) as u32
    }
}

/// 32 well-mixed bits of `(seed, index)` (splitmix64's finalizer).
#[inline(always)]
pub(crate) fn dropout_hash(seed: u64, index: u64) -> u32 {
    let mut z = index.wrapping_add(seed).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ((z ^ (z >> 31)) >> 32) as u32
}

/// Applies the dropout mask to one block of causal rows in place: row `r` is
/// query `first + r` of the head whose first probability has index `head_base`
/// in `[b, h, t, t]`; keys after the query stay zero.
#[macerator::with_simd]
#[allow(
    clippy::too_many_arguments,
    reason = "one block's rows and the mask's parameters"
)]
fn dropout_rows<S: Simd>(
    p: &mut [f32],
    keys: usize,
    first: usize,
    head_base: u64,
    t: usize,
    seed: u64,
    threshold: u32,
    scale: f32,
) {
    for (r, row) in p.chunks_exact_mut(keys).enumerate() {
        let i = first + r;
        let base = head_base + (i * t) as u64;
        for (j, x) in row[..=i].iter_mut().enumerate() {
            let keep = dropout_hash(seed, base + j as u64) >= threshold;
            *x *= if keep { scale } else { 0.0 };
        }
    }
}

/// [`dropout_rows`] for head `bh` (`b·h + head`) of a `t`-long sequence.
fn drop_block(p: &mut [f32], keys: usize, first: usize, bh: usize, t: usize, drop: AttnDropout) {
    let scale = 1.0 / (1.0 - drop.p);
    dropout_rows(
        p,
        keys,
        first,
        (bh * t * t) as u64,
        t,
        drop.seed,
        drop.threshold(),
        scale,
    );
}

/// Dropout of a whole tensor with the same hashed mask as [`AttnDropout`]:
/// element `i` is kept, scaled by `1/(1 − p)`, when the hash of `(seed, i)`
/// clears `p`. The same function is its own gradient (applied to `dy`).
pub(crate) fn dropout(x: &[f32], drop: AttnDropout) -> Vec<f32> {
    let (threshold, scale) = (drop.threshold(), 1.0 / (1.0 - drop.p));
    fill_chunks(x.len(), |r, y| {
        dropout_chunk(
            &x[r.clone()],
            r.start as u64,
            drop.seed,
            threshold,
            scale,
            y,
        )
    })
}

#[macerator::with_simd]
fn dropout_chunk<S: Simd>(
    x: &[f32],
    first: u64,
    seed: u64,
    threshold: u32,
    scale: f32,
    y: &mut [f32],
) {
    for (i, (o, &v)) in y.iter_mut().zip(x).enumerate() {
        let keep = dropout_hash(seed, first + i as u64) >= threshold;
        *o = if keep { v * scale } else { 0.0 };
    }
}

/// Causal self-attention `softmax(q kᵀ / √d) v` from position 0, with rotary
/// embeddings applied to `q` and `k` when `rope` is given. `q` is
/// `[b, t, h, d]`, `k` and `v` are `[b, t, kvh, d]`; query head `i` reads
/// key/value head `i / (h / kvh)`. With `drop`, the probabilities pass
/// through [`AttnDropout`] before they weight the values. Returns the output
/// `[b, t, h, d]`.
pub(crate) fn attention_forward(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    rope: Option<Rope<'_>>,
    drop: Option<AttnDropout>,
    starts: Option<&[u32]>,
    dims: AttnDims,
) -> (Vec<f32>, AttnSaved) {
    let AttnDims {
        b, t, h, kvh, d, ..
    } = dims;
    let span = dims.span();
    assert_eq!(q.len(), b * t * h * d, "attention: query size");
    assert_eq!(k.len(), b * t * kvh * d, "attention: key size");
    assert_eq!(v.len(), k.len(), "attention: value size");
    let mut qr = vec![0.0f32; q.len()];
    let mut kr = vec![0.0f32; k.len()];
    qr.par_chunks_mut(t * d)
        .enumerate()
        .for_each(|(bh, dst)| gather_head(q, dims, h, bh / h, bh % h, rope, dst));
    kr.par_chunks_mut(t * d)
        .enumerate()
        .for_each(|(bh, dst)| gather_head(k, dims, kvh, bh / kvh, bh % kvh, rope, dst));
    let mut oh = vec![0.0f32; q.len()];
    let mut lse = vec![0.0f32; b * h * t];
    let (rep, scale) = (dims.rep(), dims.scale());
    oh.par_chunks_mut(t * d)
        .zip(lse.par_chunks_mut(t))
        .enumerate()
        .for_each(|(bh, (o, lse))| {
            let (bi, head) = (bh / h, bh % h);
            let lower = FirstKey {
                span,
                starts: starts.map(|s| &s[bi * t..][..t]),
            };
            let kv = bi * kvh + head / rep;
            let qh = &qr[bh * t * d..][..t * d];
            let kh = &kr[kv * t * d..][..t * d];
            // Value rows of this head, read in place from [b, t, kvh, d].
            let vh = &v[(bi * t * kvh + head / rep) * d..];
            let mut s = vec![0.0f32; QBLOCK.min(t) * t];
            for first in (0..t).step_by(QBLOCK) {
                let rows = QBLOCK.min(t - first);
                let keys = first + rows;
                let s = &mut s[..rows * keys];
                matmul(
                    MatMut::rows(s, rows, keys, keys),
                    false,
                    Mat::rows(&qh[first * d..], rows, d, d),
                    Mat::rows(kh, keys, d, d).t(),
                    scale,
                    false,
                );
                if let Some(cap) = dims.softcap {
                    soft_cap(s, keys, first, cap, None);
                }
                causal_softmax_rows(s, keys, first, lower, &mut lse[first..first + rows]);
                if let Some(drop) = drop {
                    drop_block(s, keys, first, bh, t, drop);
                }
                matmul(
                    MatMut::rows(&mut o[first * d..], rows, d, d),
                    false,
                    Mat::rows(s, rows, keys, keys),
                    Mat::rows(vh, keys, d, kvh * d),
                    1.0,
                    false,
                );
            }
        });
    let out = scatter_heads(&oh, dims, h, None);
    (out, AttnSaved { qr, kr, oh, lse })
}

/// Gradients of [`attention_forward`] for `q`, `k` and `v` (each in its input
/// layout) from the output gradient `dout` (`[b, t, h, d]`), with the same
/// `rope` and `drop`. With dropout, `O = P̃ V` for the dropped probabilities
/// `P̃ = P ⊙ M/(1−p)`: `dV = P̃ᵀ dO`, `dP = (dO Vᵀ) ⊙ M/(1−p)`, and
/// `rowsum(dP ⊙ P) = rowsum(dO ⊙ O)` still, so the score gradient keeps its form.
pub(crate) fn attention_backward(
    dout: &[f32],
    v: &[f32],
    rope: Option<Rope<'_>>,
    drop: Option<AttnDropout>,
    starts: Option<&[u32]>,
    saved: &AttnSaved,
    dims: AttnDims,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let AttnDims {
        b, t, h, kvh, d, ..
    } = dims;
    let (rep, scale, span) = (dims.rep(), dims.scale(), dims.span());
    let mut doh = vec![0.0f32; dout.len()];
    doh.par_chunks_mut(t * d)
        .enumerate()
        .for_each(|(bh, dst)| gather_head(dout, dims, h, bh / h, bh % h, None, dst));
    let mut dqr = vec![0.0f32; dout.len()];
    let mut dkr = vec![0.0f32; b * kvh * t * d];
    let mut dvh = vec![0.0f32; b * kvh * t * d];
    dqr.par_chunks_mut(rep * t * d)
        .zip(dkr.par_chunks_mut(t * d))
        .zip(dvh.par_chunks_mut(t * d))
        .enumerate()
        .for_each(|(kv, ((dq, dk), dv))| {
            let (bi, g) = (kv / kvh, kv % kvh);
            let lower = FirstKey {
                span,
                starts: starts.map(|s| &s[bi * t..][..t]),
            };
            let kh = &saved.kr[kv * t * d..][..t * d];
            let vh = &v[(bi * t * kvh + g) * d..];
            let rows_max = QBLOCK.min(t);
            let mut p = vec![0.0f32; rows_max * t];
            let mut dp = vec![0.0f32; rows_max * t];
            // The dropped probabilities, with dropout only.
            let mut pd = vec![0.0f32; if drop.is_some() { rows_max * t } else { 0 }];
            // The soft cap's slope at each score, with a cap only.
            let mut slope = vec![
                0.0f32;
                if dims.softcap.is_some() {
                    rows_max * t
                } else {
                    0
                }
            ];
            for r in 0..rep {
                let bh = bi * h + g * rep + r;
                let qh = &saved.qr[bh * t * d..][..t * d];
                let oh = &saved.oh[bh * t * d..][..t * d];
                let dh = &doh[bh * t * d..][..t * d];
                let lse = &saved.lse[bh * t..][..t];
                let dqh = &mut dq[r * t * d..][..t * d];
                for first in (0..t).step_by(QBLOCK) {
                    let rows = QBLOCK.min(t - first);
                    let keys = first + rows;
                    let (p, dp) = (&mut p[..rows * keys], &mut dp[..rows * keys]);
                    // P from the saved log-sum-exp.
                    matmul(
                        MatMut::rows(p, rows, keys, keys),
                        false,
                        Mat::rows(&qh[first * d..], rows, d, d),
                        Mat::rows(kh, keys, d, d).t(),
                        scale,
                        false,
                    );
                    if let Some(cap) = dims.softcap {
                        soft_cap(p, keys, first, cap, Some(&mut slope[..rows * keys]));
                    }
                    causal_probs_rows(p, keys, first, lower, &lse[first..first + rows]);
                    let weights: &[f32] = match drop {
                        Some(drop) => {
                            let pd = &mut pd[..rows * keys];
                            pd.copy_from_slice(p);
                            drop_block(pd, keys, first, bh, t, drop);
                            pd
                        }
                        None => p,
                    };
                    let dblk = &dh[first * d..][..rows * d];
                    // dV += P̃ᵀ dO.
                    matmul(
                        MatMut::rows(dv, keys, d, d),
                        true,
                        Mat::rows(weights, rows, keys, keys).t(),
                        Mat::rows(dblk, rows, d, d),
                        1.0,
                        false,
                    );
                    // dP = (dO Vᵀ) ⊙ M/(1−p).
                    matmul(
                        MatMut::rows(dp, rows, keys, keys),
                        false,
                        Mat::rows(dblk, rows, d, d),
                        Mat::rows(vh, keys, d, kvh * d).t(),
                        1.0,
                        false,
                    );
                    if let Some(drop) = drop {
                        drop_block(dp, keys, first, bh, t, drop);
                    }
                    // dS = P ⊙ (dP − rowsum(dO ⊙ O)) · scale, in dp.
                    let span = first * d..(first + rows) * d;
                    score_grad_rows(p, dp, keys, first, &dh[span.clone()], &oh[span], d, scale);
                    if dims.softcap.is_some() {
                        // Through the cap: d(cap·tanh(s/cap))/ds = 1 − tanh².
                        for (g, k) in dp.iter_mut().zip(&slope[..rows * keys]) {
                            *g *= k;
                        }
                    }
                    // dQ = dS K; dK += dSᵀ Q.
                    matmul(
                        MatMut::rows(&mut dqh[first * d..], rows, d, d),
                        false,
                        Mat::rows(dp, rows, keys, keys),
                        Mat::rows(kh, keys, d, d),
                        1.0,
                        false,
                    );
                    matmul(
                        MatMut::rows(dk, keys, d, d),
                        true,
                        Mat::rows(dp, rows, keys, keys).t(),
                        Mat::rows(&qh[first * d..], rows, d, d),
                        1.0,
                        false,
                    );
                }
            }
        });
    (
        scatter_heads(&dqr, dims, h, rope),
        scatter_heads(&dkr, dims, kvh, rope),
        scatter_heads(&dvh, dims, kvh, None),
    )
}

/// `cap · tanh(s / cap)` over a block of score rows in place, on each row's
/// causal part only (row `r` is query `first + r`, keys after it are masked
/// anyway); with `slope`, the derivative `1 − tanh²` of each is written there
/// too (zero where the row is masked).
#[macerator::with_simd]
#[allow(
    clippy::needless_lifetimes,
    reason = "macerator's with_simd cannot take an elided lifetime"
)]
fn soft_cap<'a, S: Simd>(
    s: &mut [f32],
    keys: usize,
    first: usize,
    cap: f32,
    slope: Option<&'a mut [f32]>,
) {
    let inv = 1.0 / cap;
    match slope {
        None => {
            for (r, row) in s.chunks_exact_mut(keys).enumerate() {
                for v in &mut row[..first + r + 1] {
                    *v = cap * tanh_sech2(*v * inv).0;
                }
            }
        }
        Some(slope) => {
            for (r, (row, krow)) in s
                .chunks_exact_mut(keys)
                .zip(slope.chunks_exact_mut(keys))
                .enumerate()
            {
                let seen = first + r + 1;
                for (v, k) in row[..seen].iter_mut().zip(&mut krow[..seen]) {
                    let (t, sech2) = tanh_sech2(*v * inv);
                    *v = cap * t;
                    *k = sech2;
                }
                krow[seen..].fill(0.0);
            }
        }
    }
}

/// Attention probabilities of one block rebuilt from the saved log-sum-exp:
/// row `r` (query `first + r`) gets `exp(s − lse)` on the keys it sees (see
/// [`causal_softmax_rows`]) and zero elsewhere. The score gradient is then
/// zero wherever the probability is.
#[macerator::with_simd]
fn causal_probs_rows<'a, S: Simd>(
    p: &mut [f32],
    keys: usize,
    first: usize,
    lower: FirstKey<'a>,
    lse: &[f32],
) {
    for (r, row) in p.chunks_exact_mut(keys).enumerate() {
        let (seen, future) = row.split_at_mut(first + r + 1);
        let (gone, seen) = seen.split_at_mut(lower.of(first + r));
        gone.fill(0.0);
        let l = lse[r];
        for x in seen.iter_mut() {
            *x = simd::exp(*x - l);
        }
        future.fill(0.0);
    }
}

/// The score gradient of one block, written over `dp`:
/// `P ⊙ (dP − rowsum(dO ⊙ O)) · scale` on the causal triangle, zero after.
#[macerator::with_simd]
#[allow(clippy::too_many_arguments, reason = "one block's slices and shapes")]
fn score_grad_rows<S: Simd>(
    p: &[f32],
    dp: &mut [f32],
    keys: usize,
    first: usize,
    dout: &[f32],
    out: &[f32],
    d: usize,
    scale: f32,
) {
    for (r, (prow, dprow)) in p
        .chunks_exact(keys)
        .zip(dp.chunks_exact_mut(keys))
        .enumerate()
    {
        let delta = simd::sum_zip(
            &dout[r * d..(r + 1) * d],
            &out[r * d..(r + 1) * d],
            |a, b| a * b,
        );
        let n = first + r + 1;
        for j in 0..n {
            dprow[j] = prow[j] * (dprow[j] - delta) * scale;
        }
        dprow[n..].fill(0.0);
    }
}
