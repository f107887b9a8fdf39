//! The fused ops on burn-flex tensor primitives, and their autodiff nodes on
//! `Autodiff<Flex>` (backward passes written out, not derived).

use std::sync::Arc;

use burn::backend::Flex;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::tensor::{DType, TensorData};
use burn_flex::FlexTensor;

use super::AdFlex;
use super::cpu::{self, AttnDims, AttnDropout, AttnSaved, CeOptions, Rope};
use super::gemm::{Mat, matmul_new};

/// A tracked tensor of `Autodiff<Flex>`.
pub(crate) type AdTensor = FloatTensor<AdFlex>;

fn dims(t: &FlexTensor) -> Vec<usize> {
    t.layout().shape().to_vec()
}

/// The tensor with a contiguous, offset-free f32 layout (a no-op when it has one).
fn contiguous(t: &FlexTensor) -> FlexTensor {
    assert_eq!(t.dtype(), DType::F32, "fused ops take f32 tensors");
    t.to_contiguous()
}

fn values(t: &FlexTensor) -> &[f32] {
    t.as_slice::<f32>()
        .expect("a contiguous f32 tensor (made so by `contiguous`)")
}

fn tensor(values: Vec<f32>, shape: Vec<usize>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}

/// Target ids as i64, whatever integer dtype holds them.
pub(crate) fn target_ids(t: &FlexTensor) -> Vec<i64> {
    let t = t.to_contiguous();
    match t.dtype() {
        DType::I64 => t.as_slice::<i64>().expect("contiguous").to_vec(),
        DType::I32 => t
            .as_slice::<i32>()
            .expect("contiguous")
            .iter()
            .map(|&v| i64::from(v))
            .collect(),
        DType::U32 => t
            .as_slice::<u32>()
            .expect("contiguous")
            .iter()
            .map(|&v| i64::from(v))
            .collect(),
        other => panic!("fused cross-entropy: unsupported target dtype {other:?}"),
    }
}

/// A 2-D tensor as a matrix view: the tensor to borrow from (made contiguous
/// when its strides are negative) and the view's offset and strides.
fn matrix(t: &FlexTensor) -> (FlexTensor, usize, usize, usize) {
    assert_eq!(t.dtype(), DType::F32, "fused ops take f32 tensors");
    let strides = t.layout().strides();
    assert_eq!(strides.len(), 2, "a matrix");
    match (usize::try_from(strides[0]), usize::try_from(strides[1])) {
        (Ok(rs), Ok(cs)) => (t.clone(), t.layout().start_offset(), rs, cs),
        _ => {
            let c = t.to_contiguous();
            let cols = dims(&c)[1];
            (c, 0, cols, 1)
        }
    }
}

fn view<'a>(held: &'a (FlexTensor, usize, usize, usize), rows: usize, cols: usize) -> Mat<'a> {
    let (t, offset, rs, cs) = held;
    Mat {
        data: &t.storage::<f32>()[*offset..],
        rows,
        cols,
        rs: *rs,
        cs: *cs,
    }
}

/// `x · w` for `x` `[m, k]` and `w` `[k, n]`, any strides.
pub(crate) fn linear(x: &FlexTensor, w: &FlexTensor) -> FlexTensor {
    let ([m, k], [k2, n]) = (two(x), two(w));
    assert_eq!(k, k2, "linear: input width {k} and weight rows {k2} differ");
    let (xh, wh) = (matrix(x), matrix(w));
    let out = matmul_new(view(&xh, m, k), view(&wh, k, n), 1.0, true);
    tensor(out, vec![m, n])
}

fn two(t: &FlexTensor) -> [usize; 2] {
    let d = dims(t);
    assert_eq!(d.len(), 2, "a matrix");
    [d[0], d[1]]
}

/// `g · wᵀ`, the input gradient of [`linear`].
fn linear_dx(g: &FlexTensor, w: &FlexTensor) -> FlexTensor {
    let ([m, n], [k, _]) = (two(g), two(w));
    let (gh, wh) = (matrix(g), matrix(w));
    let out = matmul_new(view(&gh, m, n), view(&wh, k, n).t(), 1.0, true);
    tensor(out, vec![m, k])
}

/// `xᵀ · g`, the weight gradient of [`linear`].
fn linear_dw(x: &FlexTensor, g: &FlexTensor) -> FlexTensor {
    let ([m, k], [_, n]) = (two(x), two(g));
    let (xh, gh) = (matrix(x), matrix(g));
    let out = matmul_new(view(&xh, m, k).t(), view(&gh, m, n), 1.0, true);
    tensor(out, vec![k, n])
}

/// Record an op with `N` parents: `forward` computes the output from the
/// primitives; `state` is kept for the backward pass only when some parent
/// needs a gradient.
fn record<BO, S, const N: usize>(
    op: BO,
    inputs: [AdTensor; N],
    forward: impl FnOnce(&[FlexTensor; N]) -> (FlexTensor, S),
    state: impl FnOnce([FlexTensor; N], S) -> BO::State,
) -> AdTensor
where
    BO: Backward<Flex, N>,
{
    let guards = inputs.each_ref().map(|t| t.node());
    let prims = inputs.map(|t| t.into_primitive());
    let (out, extra) = forward(&prims);
    match op
        .prepare::<NoCheckpointing>(guards)
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => prep.finish(state(prims, extra), out),
        OpsKind::UnTracked(prep) => prep.finish(out),
    }
}

#[derive(Debug)]
struct LinearBackward;

impl Backward<Flex, 2> for LinearBackward {
    type State = (FlexTensor, FlexTensor);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [px, pw] = ops.parents;
        let g = grads.consume::<Flex>(&ops.node);
        let (x, w) = ops.state;
        if let Some(node) = pw {
            grads.register::<Flex>(node.id, linear_dw(&x, &g));
        }
        if let Some(node) = px {
            grads.register::<Flex>(node.id, linear_dx(&g, &w));
        }
    }
}

/// [`linear`] with its gradient.
pub(crate) fn linear_ad(x: AdTensor, w: AdTensor) -> AdTensor {
    record(
        LinearBackward,
        [x, w],
        |[x, w]| (linear(x, w), ()),
        |[x, w], ()| (x, w),
    )
}

/// Cross-entropy rows `[n, 2]` (NLL, hit) and the log-sum-exp of each row.
pub(crate) fn cross_entropy(
    logits: &FlexTensor,
    targets: &[i64],
    options: CeOptions,
) -> (FlexTensor, Vec<f32>) {
    let [n, vocab] = two(logits);
    let logits = contiguous(logits);
    let (out, lse) = cpu::cross_entropy_forward(values(&logits), vocab, targets, options);
    (tensor(out, vec![n, 2]), lse)
}

#[derive(Debug)]
struct CrossEntropyBackward;

impl Backward<Flex, 1> for CrossEntropyBackward {
    type State = (FlexTensor, Arc<Vec<i64>>, CeOptions, Arc<Vec<f32>>);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [parent] = ops.parents;
        let g = contiguous(&grads.consume::<Flex>(&ops.node));
        let (logits, targets, options, lse) = ops.state;
        let Some(node) = parent else { return };
        let [n, vocab] = two(&logits);
        // The gradient overwrites the logits when nothing else holds them.
        let mut buf = logits;
        let whole = buf.is_contiguous()
            && buf.layout().start_offset() == 0
            && buf.bytes().len() == n * vocab * 4;
        if !whole || buf.try_storage_mut::<f32>().is_none() {
            buf = tensor(values(&contiguous(&buf)).to_vec(), vec![n, vocab]);
        }
        let slice = buf
            .try_storage_mut::<f32>()
            .expect("a uniquely held buffer");
        cpu::cross_entropy_backward_in_place(slice, vocab, &targets, options, &lse, values(&g));
        grads.register::<Flex>(node.id, buf);
    }
}

/// [`cross_entropy`] with the gradient of its first column.
pub(crate) fn cross_entropy_ad(
    logits: AdTensor,
    targets: Vec<i64>,
    options: CeOptions,
) -> AdTensor {
    let targets = Arc::new(targets);
    let t2 = Arc::clone(&targets);
    record(
        CrossEntropyBackward,
        [logits],
        |[l]| {
            let (out, lse) = cross_entropy(l, &t2, options);
            (out, Arc::new(lse))
        },
        |[l], lse| (l, targets, options, lse),
    )
}

/// RMSNorm over the last dimension of `x` `[m, d]`; the output and each row's
/// reciprocal RMS.
pub(crate) fn rms_norm(x: &FlexTensor, gamma: &FlexTensor, eps: f32) -> (FlexTensor, Vec<f32>) {
    let (x, gamma) = (contiguous(x), contiguous(gamma));
    let (y, rstd) = cpu::rms_norm_forward(values(&x), values(&gamma), eps);
    (tensor(y, dims(&x)), rstd)
}

#[derive(Debug)]
struct RmsNormBackward;

impl Backward<Flex, 2> for RmsNormBackward {
    type State = (FlexTensor, FlexTensor, Arc<Vec<f32>>);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [px, pg] = ops.parents;
        let dy = contiguous(&grads.consume::<Flex>(&ops.node));
        let (x, gamma, rstd) = ops.state;
        let (x, gamma) = (contiguous(&x), contiguous(&gamma));
        let (dx, dgamma) = cpu::rms_norm_backward(values(&x), values(&gamma), &rstd, values(&dy));
        if let Some(node) = pg {
            grads.register::<Flex>(node.id, tensor(dgamma, dims(&gamma)));
        }
        if let Some(node) = px {
            grads.register::<Flex>(node.id, tensor(dx, dims(&x)));
        }
    }
}

/// [`rms_norm`] with its gradients.
pub(crate) fn rms_norm_ad(x: AdTensor, gamma: AdTensor, eps: f32) -> AdTensor {
    record(
        RmsNormBackward,
        [x, gamma],
        |[x, g]| {
            let (y, rstd) = rms_norm(x, g, eps);
            (y, Arc::new(rstd))
        },
        |[x, g], rstd| (x, g, rstd),
    )
}

/// LayerNorm over the last dimension of `x` `[m, d]`; the output and each
/// row's mean and reciprocal standard deviation.
pub(crate) fn layer_norm(
    x: &FlexTensor,
    gamma: &FlexTensor,
    beta: &FlexTensor,
    eps: f32,
) -> (FlexTensor, Vec<f32>, Vec<f32>) {
    let (x, gamma, beta) = (contiguous(x), contiguous(gamma), contiguous(beta));
    let (y, mean, rstd) = cpu::layer_norm_forward(values(&x), values(&gamma), values(&beta), eps);
    (tensor(y, dims(&x)), mean, rstd)
}

#[derive(Debug)]
struct LayerNormBackward;

impl Backward<Flex, 3> for LayerNormBackward {
    type State = (FlexTensor, FlexTensor, Arc<(Vec<f32>, Vec<f32>)>);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [px, pg, pb] = ops.parents;
        let dy = contiguous(&grads.consume::<Flex>(&ops.node));
        let (x, gamma, stats) = ops.state;
        let (x, gamma) = (contiguous(&x), contiguous(&gamma));
        let (dx, dgamma, dbeta) =
            cpu::layer_norm_backward(values(&x), values(&gamma), &stats.0, &stats.1, values(&dy));
        if let Some(node) = pb {
            grads.register::<Flex>(node.id, tensor(dbeta, dims(&gamma)));
        }
        if let Some(node) = pg {
            grads.register::<Flex>(node.id, tensor(dgamma, dims(&gamma)));
        }
        if let Some(node) = px {
            grads.register::<Flex>(node.id, tensor(dx, dims(&x)));
        }
    }
}

/// [`layer_norm`] with its gradients.
pub(crate) fn layer_norm_ad(x: AdTensor, gamma: AdTensor, beta: AdTensor, eps: f32) -> AdTensor {
    record(
        LayerNormBackward,
        [x, gamma, beta],
        |[x, g, b]| {
            let (y, mean, rstd) = layer_norm(x, g, b, eps);
            (y, Arc::new((mean, rstd)))
        },
        |[x, g, _], stats| (x, g, stats),
    )
}

/// The tanh-GELU.
pub(crate) fn gelu(x: &FlexTensor) -> FlexTensor {
    let x = contiguous(x);
    tensor(cpu::gelu_forward(values(&x)), dims(&x))
}

#[derive(Debug)]
struct GeluBackward;

impl Backward<Flex, 1> for GeluBackward {
    type State = FlexTensor;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [px] = ops.parents;
        let dy = contiguous(&grads.consume::<Flex>(&ops.node));
        let x = contiguous(&ops.state);
        if let Some(node) = px {
            grads.register::<Flex>(
                node.id,
                tensor(cpu::gelu_backward(values(&x), values(&dy)), dims(&x)),
            );
        }
    }
}

/// [`gelu`] with its gradient.
pub(crate) fn gelu_ad(x: AdTensor) -> AdTensor {
    record(GeluBackward, [x], |[x]| (gelu(x), ()), |[x], ()| x)
}

/// `silu(gate) · up`.
pub(crate) fn swiglu(gate: &FlexTensor, up: &FlexTensor) -> FlexTensor {
    let (g, u) = (contiguous(gate), contiguous(up));
    tensor(cpu::swiglu_forward(values(&g), values(&u)), dims(&g))
}

#[derive(Debug)]
struct SwigluBackward;

impl Backward<Flex, 2> for SwigluBackward {
    type State = (FlexTensor, FlexTensor);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [pg, pu] = ops.parents;
        let dh = contiguous(&grads.consume::<Flex>(&ops.node));
        let (g, u) = ops.state;
        let (g, u) = (contiguous(&g), contiguous(&u));
        let (dg, du) = cpu::swiglu_backward(values(&g), values(&u), values(&dh));
        if let Some(node) = pg {
            grads.register::<Flex>(node.id, tensor(dg, dims(&g)));
        }
        if let Some(node) = pu {
            grads.register::<Flex>(node.id, tensor(du, dims(&u)));
        }
    }
}

/// [`swiglu`] with its gradients.
pub(crate) fn swiglu_ad(gate: AdTensor, up: AdTensor) -> AdTensor {
    record(
        SwigluBackward,
        [gate, up],
        |[g, u]| (swiglu(g, u), ()),
        |[g, u], ()| (g, u),
    )
}

/// `cap · tanh(x / cap)`.
pub(crate) fn softcap(x: &FlexTensor, cap: f32) -> FlexTensor {
    let x = contiguous(x);
    tensor(cpu::softcap_forward(values(&x), cap), dims(&x))
}

#[derive(Debug)]
struct SoftcapBackward;

impl Backward<Flex, 1> for SoftcapBackward {
    /// The output, and the cap.
    type State = (FlexTensor, f32);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [px] = ops.parents;
        let dy = contiguous(&grads.consume::<Flex>(&ops.node));
        let (y, cap) = ops.state;
        let y = contiguous(&y);
        if let Some(node) = px {
            grads.register::<Flex>(
                node.id,
                tensor(
                    cpu::softcap_backward(values(&y), values(&dy), cap),
                    dims(&y),
                ),
            );
        }
    }
}

/// [`softcap`] with its gradient.
pub(crate) fn softcap_ad(x: AdTensor, cap: f32) -> AdTensor {
    record(
        SoftcapBackward,
        [x],
        |[x]| {
            let y = softcap(x, cap);
            (y.clone(), y)
        },
        |[_], y| (y, cap),
    )
}

/// `gelu(gate) · up`.
pub(crate) fn geglu(gate: &FlexTensor, up: &FlexTensor) -> FlexTensor {
    let (g, u) = (contiguous(gate), contiguous(up));
    tensor(cpu::geglu_forward(values(&g), values(&u)), dims(&g))
}

#[derive(Debug)]
struct GegluBackward;

impl Backward<Flex, 2> for GegluBackward {
    type State = (FlexTensor, FlexTensor);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [pg, pu] = ops.parents;
        let dh = contiguous(&grads.consume::<Flex>(&ops.node));
        let (g, u) = ops.state;
        let (g, u) = (contiguous(&g), contiguous(&u));
        let (dg, du) = cpu::geglu_backward(values(&g), values(&u), values(&dh));
        if let Some(node) = pg {
            grads.register::<Flex>(node.id, tensor(dg, dims(&g)));
        }
        if let Some(node) = pu {
            grads.register::<Flex>(node.id, tensor(du, dims(&u)));
        }
    }
}

/// [`geglu`] with its gradients.
pub(crate) fn geglu_ad(gate: AdTensor, up: AdTensor) -> AdTensor {
    record(
        GegluBackward,
        [gate, up],
        |[g, u]| (geglu(g, u), ()),
        |[g, u], ()| (g, u),
    )
}

/// Rotary tables as contiguous tensors, kept by the attention backward pass.
#[derive(Debug, Clone)]
pub(crate) struct RopeTables {
    cos: FlexTensor,
    sin: FlexTensor,
}

impl RopeTables {
    pub(crate) fn new(cos: &FlexTensor, sin: &FlexTensor) -> Self {
        Self {
            cos: contiguous(cos),
            sin: contiguous(sin),
        }
    }

    fn get(&self) -> Rope<'_> {
        Rope {
            cos: values(&self.cos),
            sin: values(&self.sin),
        }
    }
}

/// Causal attention over `q` `[b, t, h, d]`, `k`, `v` `[b, t, kvh, d]`.
pub(crate) fn attention(
    q: &FlexTensor,
    k: &FlexTensor,
    v: &FlexTensor,
    rope: Option<&RopeTables>,
    drop: Option<AttnDropout>,
    starts: Option<&[u32]>,
    dims_: AttnDims,
) -> (FlexTensor, AttnSaved) {
    let (q, k, v) = (contiguous(q), contiguous(k), contiguous(v));
    let (out, saved) = cpu::attention_forward(
        values(&q),
        values(&k),
        values(&v),
        rope.map(RopeTables::get),
        drop,
        starts,
        dims_,
    );
    (tensor(out, dims(&q)), saved)
}

#[derive(Debug)]
struct AttentionBackward;

impl Backward<Flex, 3> for AttentionBackward {
    type State = (
        FlexTensor,
        Option<RopeTables>,
        Option<AttnDropout>,
        Option<Arc<Vec<u32>>>,
        Arc<AttnSaved>,
        AttnDims,
    );

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [pq, pk, pv] = ops.parents;
        let dout = contiguous(&grads.consume::<Flex>(&ops.node));
        let (v, rope, drop, starts, saved, d) = ops.state;
        let v = contiguous(&v);
        let (dq, dk, dv) = cpu::attention_backward(
            values(&dout),
            values(&v),
            rope.as_ref().map(RopeTables::get),
            drop,
            starts.as_deref().map(Vec::as_slice),
            &saved,
            d,
        );
        let kv_shape = vec![d.b, d.t, d.kvh, d.d];
        if let Some(node) = pv {
            grads.register::<Flex>(node.id, tensor(dv, kv_shape.clone()));
        }
        if let Some(node) = pk {
            grads.register::<Flex>(node.id, tensor(dk, kv_shape));
        }
        if let Some(node) = pq {
            grads.register::<Flex>(node.id, tensor(dq, vec![d.b, d.t, d.h, d.d]));
        }
    }
}

/// [`attention`] with its gradients for `q`, `k` and `v`.
pub(crate) fn attention_ad(
    q: AdTensor,
    k: AdTensor,
    v: AdTensor,
    rope: Option<RopeTables>,
    drop: Option<AttnDropout>,
    starts: Option<Arc<Vec<u32>>>,
    d: AttnDims,
) -> AdTensor {
    let for_backward = starts.clone();
    record(
        AttentionBackward,
        [q, k, v],
        |[q, k, v]| {
            let (out, saved) = attention(
                q,
                k,
                v,
                rope.as_ref(),
                drop,
                starts.as_deref().map(Vec::as_slice),
                d,
            );
            (out, Arc::new(saved))
        },
        |[_, _, v], saved| (v, rope.clone(), drop, for_backward, saved, d),
    )
}

/// A uniquely held contiguous copy-free buffer of `t`, or a fresh copy.
fn owned(t: FlexTensor) -> FlexTensor {
    let n = t.layout().num_elements();
    let mut t = t;
    let whole = t.is_contiguous() && t.layout().start_offset() == 0 && t.bytes().len() == n * 4;
    if whole && t.try_storage_mut::<f32>().is_some() {
        t
    } else {
        tensor(values(&contiguous(&t)).to_vec(), dims(&t))
    }
}

/// One AdamW step: the new parameter and moments (zero moments when `None`),
/// updated in place where nothing else holds the buffers.
pub(crate) fn adamw(
    param: FlexTensor,
    grad: &FlexTensor,
    moments: Option<(FlexTensor, FlexTensor)>,
    h: cpu::AdamWStep,
) -> (FlexTensor, FlexTensor, FlexTensor) {
    assert_eq!(param.dtype(), DType::F32, "fused ops take f32 tensors");
    let shape = dims(&param);
    let n = param.layout().num_elements();
    let grad = contiguous(grad);
    let (m, v) = match moments {
        Some((m, v)) => (owned(m), owned(v)),
        None => (
            tensor(vec![0.0; n], shape.clone()),
            tensor(vec![0.0; n], shape.clone()),
        ),
    };
    let (mut p, mut m, mut v) = (owned(param), m, v);
    cpu::adamw_in_place(
        p.try_storage_mut::<f32>().expect("owned"),
        values(&grad),
        m.try_storage_mut::<f32>().expect("owned"),
        v.try_storage_mut::<f32>().expect("owned"),
        h,
    );
    (p, m, v)
}

/// `Σ x²` of a tensor as a one-element tensor.
pub(crate) fn sum_squares(x: &FlexTensor) -> FlexTensor {
    let x = contiguous(x);
    tensor(vec![cpu::sum_squares(values(&x))], vec![1])
}

/// Hashed-mask dropout of a whole tensor.
pub(crate) fn dropout(x: &FlexTensor, drop: AttnDropout) -> FlexTensor {
    let x = contiguous(x);
    tensor(cpu::dropout(values(&x), drop), dims(&x))
}

#[derive(Debug)]
struct DropoutBackward;

impl Backward<Flex, 1> for DropoutBackward {
    type State = AttnDropout;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [px] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node);
        if let Some(node) = px {
            grads.register::<Flex>(node.id, dropout(&dy, ops.state));
        }
    }
}

/// [`dropout`] with its gradient (the same mask).
pub(crate) fn dropout_ad(x: AdTensor, drop: AttnDropout) -> AdTensor {
    record(
        DropoutBackward,
        [x],
        |[x]| (dropout(x, drop), ()),
        |_, ()| drop,
    )
}
