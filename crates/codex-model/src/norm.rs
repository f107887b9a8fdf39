//! Squared L2 norms of gradients, for global-norm clipping.

use burn::tensor::Tensor;

/// `Σ x²` as a one-element tensor on `x`'s device, without a host sync. On a
/// flex f32 tensor this is one pass summed in fixed chunks (the same bits
/// whatever the thread count); elsewhere `x.square().sum()`.
pub fn squared_norm<const D: usize>(x: Tensor<D>) -> Tensor<1> {
    #[cfg(feature = "flex")]
    if crate::fused::route(&x) == Some(crate::fused::Route::Flex) {
        return crate::fused::sum_squares(x);
    }
    x.square().sum()
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, Tensor, TensorData};

    #[test]
    fn squared_norm_matches_square_then_sum() {
        let values: Vec<f32> = (0..70_000)
            .map(|i| ((i * 37) % 101) as f32 * 0.01 - 0.5)
            .collect();
        let x = Tensor::<2>::from_data(
            TensorData::new(values.clone(), [700, 100]),
            &Device::default(),
        );
        let ours: f32 = super::squared_norm(x.clone()).into_scalar();
        let plain: f64 = values.iter().map(|&v| f64::from(v) * f64::from(v)).sum();
        assert!(
            (f64::from(ours) - plain).abs() < 1e-6 * plain,
            "{ours} vs {plain}"
        );
    }
}
