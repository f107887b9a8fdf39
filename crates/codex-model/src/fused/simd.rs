//! Running plain Rust loops with the CPU's vector instructions, and the
//! vector-friendly math the kernels share.
//!
//! Kernels put their hot loops in functions marked `#[macerator::with_simd]`:
//! the macro makes a dispatcher that inlines the body into a function compiled
//! for the best instruction set the CPU has (AVX-512, AVX2+FMA, SSE4.2 or
//! scalar), so LLVM auto-vectorizes plain Rust loops with those instructions.
//! Helpers called from such bodies are `#[inline(always)]` so that they are
//! compiled there too.
//!
//! Results do not depend on the instruction set chosen: the math is elementwise
//! IEEE arithmetic and `mul_add` (exactly rounded everywhere), and every
//! reduction accumulates into [`LANES`] fixed lanes summed in a fixed order, so
//! a run gives the same bits on any x86 CPU and with any number of threads.

/// Accumulator lanes of every reduction; fixed so results do not depend on the
/// vector width.
pub(crate) const LANES: usize = 16;

/// `e^x` in f32, within 2 ulp of the correctly rounded value for
/// `x` in [-87.3, 88]; 0 below, `e^88` above, NaN for NaN. Branch-free and
/// free of float-to-int conversions, so it vectorizes: Cody–Waite reduction by
/// ln 2 and a degree-6 Taylor polynomial, `2^n` built in the exponent bits.
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    const LOG2_E: f32 = std::f32::consts::LOG2_E;
    // ln 2 split in two so that n·LN2_HI is exact under a fused multiply-add.
    const LN2_HI: f32 = std::f32::consts::LN_2;
    const LN2_LO: f32 = -1.904_654_3e-9;
    // Adding 1.5·2²³ rounds to an integer (ties to even) and leaves it in the
    // low mantissa bits.
    const SHIFTER: f32 = 12_582_912.0;
    let xc = x.clamp(-87.3, 88.0);
    let t = xc * LOG2_E + SHIFTER;
    let n = t - SHIFTER;
    let r = n.mul_add(-LN2_HI, xc);
    let r = n.mul_add(-LN2_LO, r);
    let p = r.mul_add(1.0 / 720.0, 1.0 / 120.0);
    let p = p.mul_add(r, 1.0 / 24.0);
    let p = p.mul_add(r, 1.0 / 6.0);
    let p = p.mul_add(r, 0.5);
    let p = p.mul_add(r, 1.0);
    let p = p.mul_add(r, 1.0);
    // 2^n: n + 127 (in [1, 254] after the clamp) into the exponent field.
    let scale = f32::from_bits(t.to_bits().wrapping_sub(0x4B40_0000 - 127) << 23);
    let y = p * scale;
    if x < -87.3 { 0.0 } else { y }
}

/// The logistic function `1 / (1 + e^-x)`.
#[inline(always)]
pub(crate) fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

/// Sum of the lanes in a fixed order.
#[inline(always)]
pub(crate) fn hsum(acc: [f32; LANES]) -> f32 {
    let mut pairs = [0.0f32; LANES / 2];
    for i in 0..LANES / 2 {
        pairs[i] = acc[i] + acc[i + LANES / 2];
    }
    let mut quads = [0.0f32; LANES / 4];
    for i in 0..LANES / 4 {
        quads[i] = pairs[i] + pairs[i + LANES / 4];
    }
    (quads[0] + quads[2]) + (quads[1] + quads[3])
}

/// `Σ f(a_i, b_i)` over two equally long slices, lane by lane.
#[inline(always)]
pub(crate) fn sum_zip(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    let mut acc = [0.0f32; LANES];
    let (ac, bc) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ar, br) = (ac.remainder(), bc.remainder());
    for (x, y) in ac.zip(bc) {
        for i in 0..LANES {
            acc[i] += f(x[i], y[i]);
        }
    }
    for i in 0..ar.len() {
        acc[i] += f(ar[i], br[i]);
    }
    hsum(acc)
}

/// `Σ f(a_i, b_i, c_i)` over three equally long slices, lane by lane.
#[inline(always)]
pub(crate) fn sum_zip3(a: &[f32], b: &[f32], c: &[f32], f: impl Fn(f32, f32, f32) -> f32) -> f32 {
    debug_assert!(a.len() == b.len() && b.len() == c.len());
    let mut acc = [0.0f32; LANES];
    let (ac, bc, cc) = (
        a.chunks_exact(LANES),
        b.chunks_exact(LANES),
        c.chunks_exact(LANES),
    );
    let (ar, br, cr) = (ac.remainder(), bc.remainder(), cc.remainder());
    for ((x, y), z) in ac.zip(bc).zip(cc) {
        for i in 0..LANES {
            acc[i] += f(x[i], y[i], z[i]);
        }
    }
    for i in 0..ar.len() {
        acc[i] += f(ar[i], br[i], cr[i]);
    }
    hsum(acc)
}

/// `Σ f(a_i)` lane by lane.
#[inline(always)]
pub(crate) fn sum_map(a: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let mut acc = [0.0f32; LANES];
    let chunks = a.chunks_exact(LANES);
    let rest = chunks.remainder();
    for x in chunks {
        for i in 0..LANES {
            acc[i] += f(x[i]);
        }
    }
    for (i, &x) in rest.iter().enumerate() {
        acc[i] += f(x);
    }
    hsum(acc)
}

/// The largest value and the first index holding it (NaNs are skipped; an
/// empty or all-NaN slice gives `(-inf, 0)`).
#[inline(always)]
pub(crate) fn max_argmax(a: &[f32]) -> (f32, usize) {
    let mut best = [f32::NEG_INFINITY; LANES];
    let mut at = [0usize; LANES];
    let chunks = a.chunks_exact(LANES);
    let rest = chunks.remainder();
    let tail = a.len() - rest.len();
    for (c, x) in chunks.enumerate() {
        for i in 0..LANES {
            // Strictly greater keeps the first index within a lane.
            if x[i] > best[i] {
                best[i] = x[i];
                at[i] = c * LANES + i;
            }
        }
    }
    for (i, &x) in rest.iter().enumerate() {
        if x > best[i] {
            best[i] = x;
            at[i] = tail + i;
        }
    }
    let mut max = f32::NEG_INFINITY;
    let mut arg = usize::MAX;
    for i in 0..LANES {
        // Lanes that saw nothing above -inf never win.
        if best[i] > max || (best[i] == max && best[i] > f32::NEG_INFINITY && at[i] < arg) {
            max = best[i];
            arg = at[i];
        }
    }
    if arg == usize::MAX {
        // Every value is -inf or NaN: the first non-NaN, if any, is the answer.
        arg = a.iter().position(|x| !x.is_nan()).unwrap_or(0);
    }
    (max, arg)
}

#[cfg(test)]
mod tests {
    #![allow(
        unsafe_code,
        reason = "with_simd's dispatcher calls the body it compiled for the detected CPU"
    )]
    #![allow(
        clippy::extra_unused_type_parameters,
        reason = "a with_simd body's instruction set"
    )]
    use super::*;

    #[test]
    fn exp_is_within_two_ulp_of_libm() {
        let mut worst = 0.0f64;
        let mut x = -87.0f32;
        while x < 88.0 {
            let ours = exp(x) as f64;
            let exact = (x as f64).exp();
            let rel = ((ours - exact) / exact).abs();
            worst = worst.max(rel);
            x += 0.001_37;
        }
        assert!(worst < 2.5e-7, "worst relative error {worst}");
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(exp(-100.0), 0.0);
        assert_eq!(exp(f32::NEG_INFINITY), 0.0);
        assert!(exp(f32::NAN).is_nan());
        assert!(exp(100.0).is_finite());
    }

    #[allow(
        unsafe_code,
        reason = "with_simd's dispatcher calls the body it compiled for the detected CPU"
    )]
    #[macerator::with_simd]
    fn exp_all<S: macerator::Simd>(xs: &[f32], out: &mut [f32]) {
        for (o, &x) in out.iter_mut().zip(xs) {
            *o = exp(x);
        }
    }

    #[test]
    fn vectorized_exp_equals_scalar_exp_bit_for_bit() {
        let xs: Vec<f32> = (0..1000).map(|i| (i as f32 - 500.0) * 0.173).collect();
        let scalar: Vec<u32> = xs.iter().map(|&x| exp(x).to_bits()).collect();
        let mut out = vec![0.0; xs.len()];
        exp_all(&xs, &mut out);
        let vector: Vec<u32> = out.iter().map(|x| x.to_bits()).collect();
        assert_eq!(scalar, vector);
    }

    #[test]
    fn argmax_takes_the_first_maximum() {
        let mut a = vec![0.0f32; 70];
        a[40] = 3.0;
        a[7] = 3.0;
        a[69] = 3.0;
        assert_eq!(max_argmax(&a), (3.0, 7));
        let b = [1.0, f32::NAN, 5.0, 5.0];
        assert_eq!(max_argmax(&b), (5.0, 2));
        assert_eq!(max_argmax(&[f32::NEG_INFINITY; 3]).1, 0);
        assert_eq!(max_argmax(&[2.0; 33]), (2.0, 0));
    }

    #[test]
    fn lane_sums_match_a_plain_sum_closely() {
        let a: Vec<f32> = (0..1037).map(|i| (i as f32).sin()).collect();
        let plain: f64 = a.iter().map(|&x| x as f64).sum();
        assert!((sum_map(&a, |x| x) as f64 - plain).abs() < 1e-4);
        assert!(
            (sum_zip(&a, &a, |x, y| x * y) as f64 - a.iter().map(|&x| (x * x) as f64).sum::<f64>())
                .abs()
                < 1e-3
        );
    }
}
