//! Each fused op against the same computation composed of Burn's ops: values
//! and gradients, on flex with autodiff; and thread-count independence.

use burn::tensor::activation::{gelu_approximate, log_softmax, silu, softmax};
use burn::tensor::{Device, Int, Tensor, TensorData};

use super::*;

fn device() -> Device {
    Device::flex().autodiff()
}

fn values(n: usize, seed: u32) -> Vec<f32> {
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(12345);
    (0..n)
        .map(|_| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 8) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0
        })
        .collect()
}

fn tensor<const D: usize>(shape: [usize; D], seed: u32) -> Tensor<D> {
    let n = shape.iter().product();
    Tensor::from_data(TensorData::new(values(n, seed), shape), &device()).require_grad()
}

fn to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .expect("f32")
}

fn assert_close(a: &[f32], b: &[f32], tol: f32, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: sizes");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= tol * (1.0 + y.abs()),
            "{what}[{i}]: fused {x} vs composed {y}"
        );
    }
}

/// Runs `f` on fresh leaves, then backward through `sum(out ⊙ r)`; returns the
/// output and the gradient of each leaf.
fn run<const D: usize, const O: usize>(
    shapes: &[[usize; D]],
    f: impl Fn(Vec<Tensor<D>>) -> Tensor<O>,
) -> (Vec<f32>, Vec<Vec<f32>>) {
    let leaves: Vec<Tensor<D>> = shapes
        .iter()
        .enumerate()
        .map(|(i, s)| tensor(*s, i as u32 + 1))
        .collect();
    let out = f(leaves.clone());
    let weights = Tensor::<O>::from_data(
        TensorData::new(values(out.shape().num_elements(), 99), out.shape()),
        &device(),
    );
    let grads = (out.clone() * weights).sum().backward();
    let leaf_grads = leaves
        .iter()
        .map(|l| to_vec(l.grad(&grads).expect("a gradient for every leaf")))
        .collect();
    (to_vec(out), leaf_grads)
}

#[test]
fn linear_equals_matmul_with_plain_and_transposed_weights() {
    for transposed in [false, true] {
        let shapes = [[37, 19], if transposed { [23, 19] } else { [19, 23] }];
        let weight = |w: Tensor<2>| if transposed { w.transpose() } else { w };
        let (fused, fused_grads) = run(&shapes, |t| {
            let route = route(&t[0]).expect("flex autodiff f32");
            assert_eq!(route, Route::Autodiff);
            linear(route, t[0].clone(), weight(t[1].clone()))
        });
        let (composed, composed_grads) =
            run(&shapes, |t| t[0].clone().matmul(weight(t[1].clone())));
        assert_close(&fused, &composed, 1e-5, "linear");
        for (f, c) in fused_grads.iter().zip(&composed_grads) {
            assert_close(f, c, 1e-5, "linear grad");
        }
    }
}

#[test]
fn cross_entropy_equals_log_softmax_and_argmax() {
    let (n, vocab) = (9, 37);
    let targets: Vec<i64> = (0..n as i64).map(|i| (i * 7) % vocab as i64).collect();
    let mut with_ignored = targets.clone();
    with_ignored[4] = -100;
    let ids = |v: &[i64]| Tensor::<1, Int>::from_data(TensorData::new(v.to_vec(), [n]), &device());
    // Logits up to ±4, against no cap and a cap of 1.5 that binds hard.
    for cap in [None, Some(1.5f32)] {
        let options = CeOptions {
            ignore: Some(-100),
            cap,
        };
        let (fused, fused_grads) = run(&[[n, vocab]], |t| {
            let rows = cross_entropy(
                Route::Autodiff,
                t[0].clone() * 4.0,
                ids(&with_ignored),
                options,
            );
            rows.narrow(1, 0, 1)
        });
        let (composed, composed_grads) = run(&[[n, vocab]], |t| {
            let mut logits = t[0].clone() * 4.0;
            if let Some(cap) = cap {
                logits = (logits / cap).tanh() * cap;
            }
            let logp = log_softmax(logits, 1);
            let nll = logp.gather(1, ids(&targets).reshape([n, 1])).neg();
            let keep: Vec<f32> = with_ignored
                .iter()
                .map(|&t| if t == -100 { 0.0 } else { 1.0 })
                .collect();
            nll * Tensor::<2>::from_data(TensorData::new(keep, [n, 1]), &device())
        });
        assert_close(&fused, &composed, 1e-5, &format!("nll, cap {cap:?}"));
        assert_close(
            &fused_grads[0],
            &composed_grads[0],
            1e-5,
            &format!("nll grad, cap {cap:?}"),
        );
    }

    let logits = tensor([n, vocab], 5);
    let hits = to_vec(
        cross_entropy(
            Route::Autodiff,
            logits.clone(),
            ids(&targets),
            CeOptions::default(),
        )
        .narrow(1, 1, 1),
    );
    let argmax = logits
        .argmax(1)
        .reshape([n])
        .into_data()
        .convert::<i64>()
        .try_to_vec::<i64>()
        .expect("ids");
    for i in 0..n {
        assert_eq!(hits[i] == 1.0, argmax[i] == targets[i], "row {i}");
    }
}

#[test]
fn rms_norm_equals_burns_formula() {
    let eps = 1e-5;
    let shapes: [[usize; 2]; 2] = [[13, 40], [1, 40]];
    let (fused, fused_grads) = run(&shapes, |t| {
        rms_norm(
            Route::Autodiff,
            t[0].clone(),
            t[1].clone().reshape([40]),
            eps,
        )
    });
    let (composed, composed_grads) = run(&shapes, |t| {
        let x = t[0].clone();
        let rms = (x.clone().square().mean_dim(1) + eps).sqrt();
        x / rms * t[1].clone()
    });
    assert_close(&fused, &composed, 1e-5, "rms_norm");
    for (f, c) in fused_grads.iter().zip(&composed_grads) {
        assert_close(f, c, 2e-5, "rms_norm grad");
    }
}

#[test]
fn swiglu_equals_silu_times_up() {
    let shapes = [[7, 3000], [7, 3000]];
    let (fused, fused_grads) = run(&shapes, |t| {
        swiglu(Route::Autodiff, t[0].clone() * 6.0, t[1].clone())
    });
    let (composed, composed_grads) = run(&shapes, |t| silu(t[0].clone() * 6.0) * t[1].clone());
    assert_close(&fused, &composed, 1e-5, "swiglu");
    for (f, c) in fused_grads.iter().zip(&composed_grads) {
        assert_close(f, c, 1e-5, "swiglu grad");
    }
}

#[test]
fn geglu_equals_tanh_gelu_times_up() {
    let shapes = [[7, 3000], [7, 3000]];
    let (fused, fused_grads) = run(&shapes, |t| {
        geglu(Route::Autodiff, t[0].clone() * 6.0, t[1].clone())
    });
    let (composed, composed_grads) = run(&shapes, |t| {
        gelu_approximate(t[0].clone() * 6.0) * t[1].clone()
    });
    assert_close(&fused, &composed, 1e-5, "geglu");
    for (f, c) in fused_grads.iter().zip(&composed_grads) {
        assert_close(f, c, 1e-5, "geglu grad");
    }
}

#[test]
fn softcap_equals_cap_times_tanh() {
    let shapes = [[7, 3000]];
    // Values up to ±6 against a cap of 1.5: the cap binds hard.
    let (fused, fused_grads) = run(&shapes, |t| {
        softcap(Route::Autodiff, t[0].clone() * 6.0, 1.5)
    });
    let (composed, composed_grads) = run(&shapes, |t| ((t[0].clone() * 6.0) / 1.5).tanh() * 1.5);
    assert_close(&fused, &composed, 1e-5, "softcap");
    for (f, c) in fused_grads.iter().zip(&composed_grads) {
        assert_close(f, c, 1e-5, "softcap grad");
    }
}

/// The same attention spelled out with Burn's ops: rotate, repeat key/value
/// heads, scale, causal (and window) mask, softmax, weighted sum.
fn composed_attention(
    q: Tensor<4>,
    k: Tensor<4>,
    v: Tensor<4>,
    rope: Option<(Tensor<3>, Tensor<3>)>,
    drop: Option<AttnDropout>,
    options: AttnOptions,
) -> Tensor<4> {
    let window = options.window;
    let [b, t, h, d] = q.dims();
    let kvh = k.dims()[2];
    let heads = |x: Tensor<4>| x.swap_dims(1, 2);
    let rotate = |x: Tensor<4>| match &rope {
        None => x,
        Some((cos, sin)) => {
            // The tables' width says how many pairs rotate; the rest pass.
            let half = cos.dims()[2];
            let (c, s) = (
                cos.clone().unsqueeze_dim::<4>(1),
                sin.clone().unsqueeze_dim::<4>(1),
            );
            let x1 = x.clone().narrow(3, 0, half);
            let x2 = x.clone().narrow(3, half, half);
            let mut parts = vec![
                x1.clone() * c.clone() - x2.clone() * s.clone(),
                x2 * c + x1 * s,
            ];
            if 2 * half < d {
                parts.push(x.narrow(3, 2 * half, d - 2 * half));
            }
            Tensor::cat(parts, 3)
        }
    };
    let q = rotate(heads(q));
    let repeat = |x: Tensor<4>| {
        x.unsqueeze_dim::<5>(2)
            .expand([b, kvh, h / kvh, t, d])
            .reshape([b, h, t, d])
    };
    let k = repeat(rotate(heads(k)));
    let v = repeat(heads(v));
    let scale = options.scale.map_or(1.0 / (d as f64).sqrt(), f64::from);
    let mut scores = q.matmul(k.swap_dims(2, 3)) * scale;
    if let Some(cap) = options.softcap {
        let cap = f64::from(cap);
        scores = (scores / cap).tanh() * cap;
    }
    let rows = Tensor::<1, Int>::arange(0..t as i64, &scores.device()).reshape([t, 1]);
    let cols = Tensor::<1, Int>::arange(0..t as i64, &scores.device()).reshape([1, t]);
    let mut mask = cols.clone().greater(rows.clone());
    if let Some(w) = window {
        // Keys `w` or more positions back are out of sight.
        mask = mask.bool_or(cols.clone().add_scalar(w as i64).lower_equal(rows));
    }
    let mut mask = mask.reshape([1, 1, t, t]).expand([b, h, t, t]);
    if let Some(starts) = &options.starts {
        // Packed examples: keys before the query's example start.
        let starts: Vec<i64> = starts.iter().map(|&s| i64::from(s)).collect();
        let starts = Tensor::<2, Int>::from_data(TensorData::new(starts, [b, t]), &device())
            .reshape([b, 1, t, 1])
            .expand([b, h, t, t]);
        let before = cols
            .reshape([1, 1, 1, t])
            .expand([b, h, t, t])
            .lower(starts);
        mask = mask.bool_or(before);
    }
    let mut probs = softmax(scores.mask_fill(mask, f32::NEG_INFINITY), 3);
    if let Some(drop) = drop {
        // The documented mask, built element by element on the host.
        let threshold = (f64::from(drop.p) * 4_294_967_296.0) as u32;
        let keep: Vec<f32> = (0..(b * h * t * t) as u64)
            .map(|i| {
                if cpu::dropout_hash(drop.seed, i) >= threshold {
                    1.0 / (1.0 - drop.p)
                } else {
                    0.0
                }
            })
            .collect();
        probs = probs * Tensor::<4>::from_data(TensorData::new(keep, [b, h, t, t]), &device());
    }
    probs.matmul(v).swap_dims(1, 2)
}

#[test]
fn attention_equals_the_composed_ops_with_rope_and_grouped_heads() {
    // 70 positions cover a full query block (64) and a partial one.
    let (b, t, h, kvh, d) = (2, 70, 4, 2, 8);
    // Tables of `half` pairs: `d / 2` rotates every dimension, fewer is a
    // partial rotation (Phi-3) with the rest passed through.
    let angles = |seed, half: usize| {
        let a = values(b * t * half, seed);
        let c: Vec<f32> = a.iter().map(|x| (x * 3.0).cos()).collect();
        let s: Vec<f32> = a.iter().map(|x| (x * 3.0).sin()).collect();
        let mk = |v| Tensor::<3>::from_data(TensorData::new(v, [b, t, half]), &device());
        (mk(c), mk(s))
    };
    let shapes = [[b, t, h, d], [b, t, kvh, d], [b, t, kvh, d]];
    let dropout = AttnDropout {
        seed: 0x1234_5678_9abc_def0,
        p: 0.25,
    };
    let plain = AttnOptions::default();
    let window = |w| AttnOptions {
        window: Some(w),
        ..AttnOptions::default()
    };
    // Gemma 2: its own scale, a cap that binds (scores reach well past 1.5),
    // a window.
    let gemma = AttnOptions {
        window: Some(25),
        scale: Some(0.6),
        softcap: Some(1.5),
        starts: None,
    };
    // Packed rows: three examples (20, 35 and 15 positions), then one whole.
    let mut starts: Vec<u32> = Vec::new();
    for (start, len) in [(0u32, 20u32), (20, 35), (55, 15)] {
        starts.extend(std::iter::repeat_n(start, len as usize));
    }
    starts.extend(std::iter::repeat_n(0, t));
    let packed = AttnOptions {
        starts: Some(std::sync::Arc::new(starts)),
        ..AttnOptions::default()
    };
    for (rope_half, drop, options) in [
        (Some(d / 2), None, plain.clone()),
        (None, None, plain.clone()),
        (Some(d / 2), Some(dropout), plain),
        // A window shorter than a query block, and one with dropout.
        (Some(d / 2), None, window(17)),
        (None, Some(dropout), window(40)),
        // Half the head rotates.
        (Some(d / 4), None, window(30)),
        (Some(d / 2), None, gemma.clone()),
        (Some(d / 2), Some(dropout), gemma),
        (Some(d / 2), None, packed.clone()),
        (Some(d / 2), Some(dropout), packed.clone()),
        (
            None,
            None,
            AttnOptions {
                window: Some(12),
                ..packed
            },
        ),
    ] {
        let rope = || rope_half.map(|half| angles(7, half));
        let (fused, fused_grads) = run(&shapes, |x| {
            attention(
                Route::Autodiff,
                x[0].clone() * 3.0,
                x[1].clone() * 3.0,
                x[2].clone(),
                rope(),
                drop,
                options.clone(),
            )
        });
        let (composed, composed_grads) = run(&shapes, |x| {
            composed_attention(
                x[0].clone() * 3.0,
                x[1].clone() * 3.0,
                x[2].clone(),
                rope(),
                drop,
                options.clone(),
            )
        });
        assert_close(&fused, &composed, 2e-5, "attention");
        for (i, (f, c)) in fused_grads.iter().zip(&composed_grads).enumerate() {
            assert_close(f, c, 5e-5, &format!("attention grad {i}"));
        }
        // Without autodiff the forward pass gives the same values.
        let plain = |s: [usize; 4], seed| {
            Tensor::<4>::from_data(
                TensorData::new(values(s.iter().product(), seed), s),
                &Device::flex(),
            )
        };
        let inner_rope = rope().map(|(c, s)| (c.inner(), s.inner()));
        let out = attention(
            Route::Flex,
            plain(shapes[0], 1) * 3.0,
            plain(shapes[1], 2) * 3.0,
            plain(shapes[2], 3),
            inner_rope,
            drop,
            options,
        );
        assert_close(&to_vec(out), &fused, 0.0, "attention without autodiff");
    }
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let compute = || {
        let (b, t, h, d) = (3, 100, 4, 16);
        let shapes = [[b, t, h, d], [b, t, h, d], [b, t, h, d]];
        let (out, grads) = run(&shapes, |x| {
            attention(
                Route::Autodiff,
                x[0].clone(),
                x[1].clone(),
                x[2].clone(),
                None,
                Some(AttnDropout { seed: 7, p: 0.1 }),
                AttnOptions {
                    window: Some(60),
                    scale: None,
                    softcap: Some(2.0),
                    starts: None,
                },
            )
        });
        let (norm, norm_grads) = run(&[[300, 64], [1, 64]], |x| {
            rms_norm(
                Route::Autodiff,
                x[0].clone(),
                x[1].clone().reshape([64]),
                1e-5,
            )
        });
        let (lin, lin_grads) = run(&[[300, 64], [64, 96]], |x| {
            linear(Route::Autodiff, x[0].clone(), x[1].clone())
        });
        let (ln, ln_grads) = run(&[[300, 64], [1, 64], [1, 64]], |x| {
            let (g, b) = (x[1].clone().reshape([64]), x[2].clone().reshape([64]));
            gelu(
                Route::Autodiff,
                layer_norm(Route::Autodiff, x[0].clone(), g, b, 1e-5),
            )
        });
        let (sw, sw_grads) = run(&[[300, 64], [300, 64]], |x| {
            swiglu(Route::Autodiff, x[0].clone(), x[1].clone())
        });
        let ids: Vec<i64> = (0..300).map(|i| (i * 13) % 64).collect();
        let (ce, ce_grads) = run(&[[300, 64]], |x| {
            let targets =
                Tensor::<1, Int>::from_data(TensorData::new(ids.clone(), [300]), &device());
            cross_entropy(Route::Autodiff, x[0].clone(), targets, CeOptions::default())
        });
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        let mut all = vec![
            bits(&out),
            bits(&norm),
            bits(&lin),
            bits(&ln),
            bits(&sw),
            bits(&ce),
        ];
        all.extend(
            grads
                .iter()
                .chain(&norm_grads)
                .chain(&lin_grads)
                .chain(&ln_grads)
                .chain(&sw_grads)
                .chain(&ce_grads)
                .map(|g| bits(g)),
        );
        all
    };
    let pool = |n| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .expect("a thread pool")
    };
    let one = pool(1).install(compute);
    let three = pool(3).install(compute);
    assert_eq!(one, three);
}

#[test]
fn layer_norm_equals_burns_formula() {
    let eps = 1e-5;
    let shapes: [[usize; 2]; 3] = [[13, 40], [1, 40], [1, 40]];
    let (fused, fused_grads) = run(&shapes, |t| {
        layer_norm(
            Route::Autodiff,
            t[0].clone() * 3.0 + 1.0,
            t[1].clone().reshape([40]),
            t[2].clone().reshape([40]),
            eps,
        )
    });
    let (composed, composed_grads) = run(&shapes, |t| {
        let x = t[0].clone() * 3.0 + 1.0;
        let mean = x.clone().mean_dim(1);
        let centred = x - mean;
        let var = centred.clone().square().mean_dim(1);
        centred / (var + eps).sqrt() * t[1].clone() + t[2].clone()
    });
    assert_close(&fused, &composed, 1e-5, "layer_norm");
    for (f, c) in fused_grads.iter().zip(&composed_grads) {
        assert_close(f, c, 2e-5, "layer_norm grad");
    }
}

#[test]
fn gelu_equals_burns_tanh_approximation() {
    let shapes = [[5, 3000]];
    let (fused, fused_grads) = run(&shapes, |t| gelu(Route::Autodiff, t[0].clone() * 6.0));
    let (composed, composed_grads) = run(&shapes, |t| gelu_approximate(t[0].clone() * 6.0));
    assert_close(&fused, &composed, 1e-5, "gelu");
    // Burn's gradient goes through tanh(u) + 1, which rounds to a multiple of
    // 6e-8 where tanh nears -1 (x < -3); the fused one computes 1 + tanh(u)
    // directly. So the two differ by up to ~2e-5 there.
    assert_close(&fused_grads[0], &composed_grads[0], 3e-5, "gelu grad");
    // Against the derivative in f64, the fused gradient is exact to f32 rounding.
    let xs: Vec<f64> = values(5 * 3000, 1)
        .iter()
        .map(|&v| f64::from(v) * 6.0)
        .collect();
    let weights = values(5 * 3000, 99);
    for ((&x, &w), &g) in xs.iter().zip(&weights).zip(&fused_grads[0]) {
        let k = (2.0 / std::f64::consts::PI).sqrt();
        let t = (k * (x + 0.044715 * x * x * x)).tanh();
        let d = 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * k * (1.0 + 3.0 * 0.044715 * x * x);
        let want = 6.0 * f64::from(w) * d;
        assert!(
            (f64::from(g) - want).abs() <= 2e-6 * (1.0 + want.abs()),
            "x {x}: {g} vs {want}"
        );
    }
}

#[test]
fn dropout_keeps_the_hashed_mask_scaled_and_routes_its_gradient_through_it() {
    let drop = AttnDropout { seed: 99, p: 0.3 };
    let (n, m) = (40, 1000);
    let (out, grads) = run(&[[n, m]], |x| dropout(Route::Autodiff, x[0].clone(), drop));
    let x = values(n * m, 1);
    let w = values(n * m, 99);
    let threshold = (0.3f64 * 4_294_967_296.0) as u32;
    let mut kept = 0;
    for i in 0..n * m {
        let keep = cpu::dropout_hash(99, i as u64) >= threshold;
        kept += usize::from(keep);
        let scale = if keep { 1.0 / 0.7 } else { 0.0 };
        assert_eq!(out[i], x[i] * scale, "value {i}");
        assert_eq!(grads[0][i], w[i] * scale, "gradient {i}");
    }
    let rate = kept as f64 / (n * m) as f64;
    assert!((rate - 0.7).abs() < 0.01, "kept {rate}");
}
