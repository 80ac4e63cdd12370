//! RBF kernel values, fast.
//!
//! `exp(-gamma * ||a - b||²)` is computed as `exp(-gamma * (||a||² + ||b||² - 2 a·b))`, so the
//! O(n·m·d) part is a matrix product (ndarray -> matrixmultiply, SIMD) instead of n·m scalar
//! distance loops; only the O(n·m) `exp` is done element by element.
//!
//! Training uses [`LazyGram`]: SMO reads only the kernel rows of the pairs it optimises, ≈ 8 %
//! of each pair's rows on the benchmark's low-overlap set, so computing rows on first use (as
//! libsvm does) beat GEMM-built full pair matrices there (fit 2.6 s -> 1.0 s, the kernel having
//! been 90 % of it). Prediction needs every sample × support vector value, so it uses one GEMM
//! ([`rbf_matrix`]).

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

/// The kernel matrix of a sample set with itself, row by row on first use, rows kept up to a
/// memory budget.
pub(crate) struct LazyGram {
    x: Array2<f32>,
    norms: Array1<f32>,
    neg_gamma: f32,
    rows: Vec<Option<Box<[f32]>>>,
    cached: usize,
    max_cached: usize,
}

impl LazyGram {
    /// Rows of `x` are the samples; at most `budget_bytes` of rows are kept (at least two rows).
    pub(crate) fn new(x: Array2<f32>, gamma: f64, budget_bytes: usize) -> Self {
        let norms = squared_norms(x.view());
        let rows = vec![None; x.nrows()];
        let row_bytes = x.nrows().max(1) * size_of::<f32>();
        LazyGram {
            x,
            norms,
            neg_gamma: -gamma as f32,
            rows,
            cached: 0,
            max_cached: (budget_bytes / row_bytes).max(2),
        }
    }

    /// Row `i`.
    pub(crate) fn row(&mut self, i: usize) -> &[f32] {
        self.ensure(i, i);
        self.rows[i].as_deref().expect("row ensured")
    }

    /// Rows `i` and `j`.
    pub(crate) fn rows(&mut self, i: usize, j: usize) -> (&[f32], &[f32]) {
        self.ensure(i, j);
        self.ensure(j, i);
        (self.rows[i].as_deref().expect("row ensured"), self.rows[j].as_deref().expect("row ensured"))
    }

    /// Computes row `i` unless it is there. Over budget, every row but `keep` is dropped first:
    /// simpler than libsvm's LRU, and with a budget far above the rows SMO usually touches it is
    /// a guard against running out of memory on very large pairs, not a cache policy.
    fn ensure(&mut self, i: usize, keep: usize) {
        if self.rows[i].is_some() {
            return;
        }
        if self.cached >= self.max_cached {
            let kept = self.rows[keep].take();
            self.rows.iter_mut().for_each(|r| *r = None);
            self.cached = usize::from(kept.is_some());
            self.rows[keep] = kept;
        }
        let mut row = self.x.dot(&self.x.row(i));
        let norm_i = self.norms[i];
        Zip::from(&mut row).and(&self.norms).for_each(|v, &norm| {
            *v = (self.neg_gamma * (norm_i + norm - 2.0 * *v).max(0.0)).exp();
        });
        // Exactly 1, as `K(x, x)` is; the product form leaves rounding noise here.
        row[i] = 1.0;
        self.rows[i] = Some(row.into_raw_vec_and_offset().0.into_boxed_slice());
        self.cached += 1;
    }
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
    }

    #[test]
    fn lazy_rows_match_the_matrix_with_an_exact_diagonal() {
        let x = array![[0.0f32, 1.0], [2.0, -1.0], [0.5, 0.5], [1.0, 1.0]];
        let full = rbf_matrix(x.view(), x.view(), 0.7);
        // Room for two rows of four values: the budget is hit and rows are recomputed.
        for budget in [usize::MAX, 2 * 4 * size_of::<f32>()] {
            let mut lazy = LazyGram::new(x.clone(), 0.7, budget);
            for (i, j) in [(2, 0), (2, 3), (1, 3), (0, 0)] {
                let (ki, kj) = lazy.rows(i, j);
                for (t, (&vi, &vj)) in ki.iter().zip(kj).enumerate() {
                    assert!((vi - full[[i, t]]).abs() < 1e-6 && (vj - full[[j, t]]).abs() < 1e-6);
                }
                assert_eq!((ki[i], kj[j]), (1.0, 1.0));
                assert_eq!(lazy.row(j)[i], full[[j, i]]);
            }
            assert!(lazy.cached <= lazy.max_cached);
        }
    }
}
