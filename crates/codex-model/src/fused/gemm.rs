//! A bounds-checked, safe front for the `gemm` crate (the matrix multiply
//! burn-flex uses), over strided views of f32 slices.

/// A read-only `rows × cols` matrix: element `(i, j)` is `data[i * rs + j * cs]`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mat<'a> {
    pub(crate) data: &'a [f32],
    pub(crate) rows: usize,
    pub(crate) cols: usize,
    pub(crate) rs: usize,
    pub(crate) cs: usize,
}

impl<'a> Mat<'a> {
    /// A row-major matrix whose rows are `stride` elements apart.
    pub(crate) fn rows(data: &'a [f32], rows: usize, cols: usize, stride: usize) -> Self {
        Self {
            data,
            rows,
            cols,
            rs: stride,
            cs: 1,
        }
    }

    /// The same elements seen transposed.
    pub(crate) fn t(self) -> Self {
        Self {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
        }
    }

    fn in_bounds(&self) -> bool {
        self.rows == 0
            || self.cols == 0
            || (self.rows - 1)
                .checked_mul(self.rs)
                .zip((self.cols - 1).checked_mul(self.cs))
                .and_then(|(a, b)| a.checked_add(b))
                .is_some_and(|last| last < self.data.len())
    }
}

/// A writable row-major `rows × cols` matrix whose rows are `stride` elements
/// apart (`stride >= cols`, so no two elements share storage).
#[derive(Debug)]
pub(crate) struct MatMut<'a> {
    pub(crate) data: &'a mut [f32],
    pub(crate) rows: usize,
    pub(crate) cols: usize,
    pub(crate) stride: usize,
}

impl<'a> MatMut<'a> {
    pub(crate) fn rows(data: &'a mut [f32], rows: usize, cols: usize, stride: usize) -> Self {
        Self {
            data,
            rows,
            cols,
            stride,
        }
    }
}

/// `dst = scale · lhs · rhs`, or `dst += scale · lhs · rhs` when `accumulate`.
/// `parallel` lets gemm split the output across rayon's threads; every output
/// element is still summed in the same order, so results do not depend on the
/// thread count.
///
/// # Panics
/// When the shapes do not chain or a view reaches past its slice.
pub(crate) fn matmul(
    dst: MatMut<'_>,
    accumulate: bool,
    lhs: Mat<'_>,
    rhs: Mat<'_>,
    scale: f32,
    parallel: bool,
) {
    assert_eq!(lhs.cols, rhs.rows, "matmul: inner dimensions differ");
    assert_eq!(dst.rows, lhs.rows, "matmul: output rows");
    assert_eq!(dst.cols, rhs.cols, "matmul: output columns");
    assert!(
        lhs.in_bounds() && rhs.in_bounds(),
        "matmul: operand out of bounds"
    );
    assert!(dst.stride >= dst.cols, "matmul: overlapping output rows");
    let (m, n, k) = (dst.rows, dst.cols, lhs.cols);
    if m == 0 || n == 0 {
        return;
    }
    assert!(
        (m - 1)
            .checked_mul(dst.stride)
            .and_then(|a| a.checked_add(n - 1))
            .is_some_and(|last| last < dst.data.len()),
        "matmul: output out of bounds"
    );
    if k == 0 {
        if !accumulate {
            for row in dst.data.chunks_mut(dst.stride).take(m) {
                row[..n].fill(0.0);
            }
        }
        return;
    }
    #[allow(
        unsafe_code,
        reason = "the asserts above establish gemm_into's contract"
    )]
    // SAFETY: the output view was checked to be in bounds with rows `stride ≥
    // n` apart, so the m·n elements written are distinct and inside
    // `dst.data`, which is initialized and borrowed mutably (nothing else
    // touches it); the operands were checked to be in bounds.
    unsafe {
        gemm_into(
            dst.data.as_mut_ptr(),
            dst.stride,
            accumulate,
            lhs,
            rhs,
            scale,
            parallel,
        );
    }
}

/// `scale · lhs · rhs` as a new row-major vector, written by gemm without
/// first zeroing the buffer.
pub(crate) fn matmul_new(lhs: Mat<'_>, rhs: Mat<'_>, scale: f32, parallel: bool) -> Vec<f32> {
    assert_eq!(lhs.cols, rhs.rows, "matmul: inner dimensions differ");
    assert!(
        lhs.in_bounds() && rhs.in_bounds(),
        "matmul: operand out of bounds"
    );
    let (m, n, k) = (lhs.rows, rhs.cols, lhs.cols);
    let len = m.checked_mul(n).expect("matmul: output size overflows");
    if len == 0 || k == 0 {
        return vec![0.0; len];
    }
    let mut out = Vec::<f32>::with_capacity(len);
    #[allow(
        unsafe_code,
        reason = "gemm fills the vector's spare capacity through gemm_into"
    )]
    // SAFETY: `out` has capacity for m·n elements at (i·n + j), and nothing
    // else holds it. With `accumulate = false` gemm never reads the
    // destination before writing it (every path stores `scale·(lhs·rhs)` or
    // zero on its first pass over an element; later depth blocks read what was
    // written), so all m·n elements are initialized when `set_len` runs.
    unsafe {
        gemm_into(out.as_mut_ptr(), n, false, lhs, rhs, scale, parallel);
        out.set_len(len);
    }
    out
}

/// The call into gemm: `dst[i·stride + j] (+)= scale · Σ_p lhs(i, p) rhs(p, j)`
/// for `i < lhs.rows`, `j < rhs.cols`.
///
/// # Safety
/// `lhs` and `rhs` are in bounds of their slices and chain (`lhs.cols ==
/// rhs.rows`, both nonzero sizes); `dst` is valid for writes at every
/// `i·stride + j` above, with `stride ≥ rhs.cols`, initialized there when
/// `accumulate`, and not accessed by anything else during the call.
#[allow(unsafe_code, reason = "the one raw-pointer entry into gemm")]
unsafe fn gemm_into(
    dst: *mut f32,
    stride: usize,
    accumulate: bool,
    lhs: Mat<'_>,
    rhs: Mat<'_>,
    scale: f32,
    parallel: bool,
) {
    let (m, n, k) = (lhs.rows, rhs.cols, lhs.cols);
    // Strides fit in isize: each view lies inside a slice.
    let isz = |x: usize| x as isize;
    // SAFETY: the caller's contract is gemm's: reads in bounds, writes to
    // distinct valid elements, no aliasing of the destination.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            isz(stride),
            accumulate,
            lhs.data.as_ptr(),
            isz(lhs.cs),
            isz(lhs.rs),
            rhs.data.as_ptr(),
            isz(rhs.cs),
            isz(rhs.rs),
            1.0,
            scale,
            false,
            false,
            false,
            parallelism(m, n, k, parallel),
        );
    }
}

fn parallelism(m: usize, n: usize, k: usize, parallel: bool) -> gemm::Parallelism {
    if parallel && m * n * k >= 64 * 64 * 64 {
        gemm::Parallelism::Rayon(0)
    } else {
        gemm::Parallelism::None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: Mat<'_>, b: Mat<'_>) -> Vec<f32> {
        let mut out = vec![0.0; a.rows * b.cols];
        for i in 0..a.rows {
            for j in 0..b.cols {
                let mut s = 0.0f64;
                for p in 0..a.cols {
                    s += a.data[i * a.rs + p * a.cs] as f64 * b.data[p * b.rs + j * b.cs] as f64;
                }
                out[i * b.cols + j] = s as f32;
            }
        }
        out
    }

    #[test]
    fn strided_and_transposed_products_match_a_naive_loop() {
        let a: Vec<f32> = (0..5 * 7).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..7 * 3).map(|i| (i as f32 * 0.11).cos()).collect();
        let (am, bm) = (Mat::rows(&a, 5, 7, 7), Mat::rows(&b, 7, 3, 3));
        let mut out = vec![9.0; 5 * 4];
        matmul(MatMut::rows(&mut out, 5, 3, 4), false, am, bm, 1.0, false);
        let want = naive(am, bm);
        for i in 0..5 {
            for j in 0..3 {
                assert!((out[i * 4 + j] - want[i * 3 + j]).abs() < 1e-5);
            }
            assert_eq!(out[i * 4 + 3], 9.0, "the padding column is untouched");
        }
        // (aᵀ)ᵀ = a, accumulate, scale.
        let at: Vec<f32> = (0..7)
            .flat_map(|p| (0..5).map(move |i| (p, i)))
            .map(|(p, i)| a[i * 7 + p])
            .collect();
        let atm = Mat::rows(&at, 7, 5, 5).t();
        let mut acc = want.clone();
        matmul(MatMut::rows(&mut acc, 5, 3, 3), true, atm, bm, 2.0, true);
        for (x, w) in acc.iter().zip(&want) {
            assert!((x - 3.0 * w).abs() < 1e-5);
        }
        let fresh = matmul_new(atm, bm, 0.5, false);
        for (x, w) in fresh.iter().zip(&want) {
            assert!((x - 0.5 * w).abs() < 1e-5);
        }
    }

    #[test]
    #[should_panic(expected = "out of bounds")]
    fn a_view_past_its_slice_is_refused() {
        let a = vec![0.0f32; 10];
        let mut out = vec![0.0f32; 4];
        matmul(
            MatMut::rows(&mut out, 2, 2, 2),
            false,
            Mat::rows(&a, 2, 3, 3),
            Mat::rows(&a, 3, 2, 5),
            1.0,
            false,
        );
    }
}
