//! RBF kernel matrices through one matrix product.
//!
//! `exp(-gamma * ||a - b||²)` is computed as `exp(-gamma * (||a||² + ||b||² - 2 a·b))`, so the
//! O(n·m·d) part is a single f32 GEMM (ndarray -> matrixmultiply, SIMD) instead of n·m scalar
//! distance loops; only the O(n·m) `exp` is done element by element. Row blocks run in parallel.

use ndarray::linalg::general_mat_mul;
use ndarray::{Array1, Array2, ArrayView2, Axis, Zip};
use rayon::prelude::*;

/// Rows of `a` per parallel task: large enough for an efficient GEMM, small enough to balance.
const ROW_BLOCK: usize = 256;

/// `K[i, j] = exp(-gamma * ||a_i - b_j||²)` for the rows of `a` and `b`.
pub(crate) fn rbf_matrix(a: ArrayView2<f32>, b: ArrayView2<f32>, gamma: f64) -> Array2<f32> {
    let a_norms = squared_norms(a);
    let b_norms = squared_norms(b);
    let neg_gamma = -gamma as f32;
    let mut k = Array2::<f32>::zeros((a.nrows(), b.nrows()));
    k.axis_chunks_iter_mut(Axis(0), ROW_BLOCK)
        .into_par_iter()
        .zip(a.axis_chunks_iter(Axis(0), ROW_BLOCK).into_par_iter())
        .zip(a_norms.axis_chunks_iter(Axis(0), ROW_BLOCK).into_par_iter())
        .for_each(|((mut k_block, a_block), a_norms)| {
            general_mat_mul(-2.0, &a_block, &b.t(), 0.0, &mut k_block);
            Zip::from(k_block.rows_mut()).and(&a_norms).for_each(|mut row, &a_norm| {
                Zip::from(&mut row).and(&b_norms).for_each(|v, &b_norm| {
                    // Rounding can make the squared distance of (near-)equal points negative.
                    let d2 = (*v + a_norm + b_norm).max(0.0);
                    *v = (neg_gamma * d2).exp();
                });
            });
        });
    k
}

/// The kernel matrix of a sample set with itself, with the exact diagonal `K[i, i] = 1`
/// (the GEMM form leaves rounding noise there, and the solver relies on `K[i, i]`).
pub(crate) fn rbf_gram(x: ArrayView2<f32>, gamma: f64) -> Array2<f32> {
    let mut k = rbf_matrix(x, x, gamma);
    k.diag_mut().fill(1.0);
    k
}

fn squared_norms(x: ArrayView2<f32>) -> Array1<f32> {
    x.rows().into_iter().map(|r| r.dot(&r)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn matches_the_direct_formula() {
        let a = array![[0.0f32, 1.0, 2.0], [1.5, -0.5, 0.25]];
        let b = array![[0.0f32, 1.0, 2.0], [3.0, 0.0, -1.0], [0.5, 0.5, 0.5]];
        let gamma = 0.3;
        let k = rbf_matrix(a.view(), b.view(), gamma);
        for (i, ai) in a.rows().into_iter().enumerate() {
            for (j, bj) in b.rows().into_iter().enumerate() {
                let d2: f64 = ai.iter().zip(bj).map(|(x, y)| f64::from(x - y).powi(2)).sum();
                let expected = (-gamma * d2).exp();
                assert!((f64::from(k[[i, j]]) - expected).abs() < 1e-6, "{i},{j}");
            }
        }
        assert_eq!(rbf_gram(a.view(), gamma).diag().to_vec(), vec![1.0, 1.0]);
    }
}
