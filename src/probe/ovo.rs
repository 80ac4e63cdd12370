//! One-vs-one multi-class SVC as in libsvm: one binary problem per class pair, prediction by
//! majority vote over the pairs.

use std::ops::Range;

use ndarray::{Array2, ArrayView2, Axis, s};
use rayon::prelude::*;

use super::kernel::LazyGram;
use super::smo;

/// Kernel rows kept per class pair; pairs of up to ≈ 16,000 samples never reach it.
const ROW_CACHE_BYTES: usize = 1 << 30;

/// The fitted pair classifiers, with their coefficients on the union of support vectors.
///
/// The coefficients are laid out as libsvm's `sv_coef`: a support vector of class `a` takes
/// part only in the pairs of `a`, so it has one coefficient per other class. Prediction then
/// costs `n_classes − 1` products per sample and support vector instead of one per pair.
#[derive(Debug, Clone)]
pub(crate) struct OneVsOne {
    /// Class indices `(a, b)`, `a < b`, in libsvm's order (0,1), (0,2), …, (1,2), …
    pairs: Vec<(usize, usize)>,
    /// `sv_ranges[a]`: the support vectors of class `a` (they are ordered by class).
    sv_ranges: Vec<Range<usize>>,
    /// `coef[a][[s, other_column(a, b)]]`: the dual coefficient (`alpha·y`, positive for the
    /// pair's first class) of the `s`-th support vector of class `a` in the pair of `a` and `b`.
    coef: Vec<Array2<f64>>,
    /// `rho[p]`: the offset of pair `p`.
    rho: Vec<f64>,
    n_classes: usize,
}

impl OneVsOne {
    /// Fits all pairs (in parallel) on the rows of `x` whose class index is `class_of[row]`.
    /// Returns the model and the training rows that are support vectors (the rows of its
    /// coefficient matrix), ordered by class then by row like libsvm's `SV`.
    pub(crate) fn fit(
        x: ArrayView2<f32>,
        class_of: &[usize],
        n_classes: usize,
        gamma: f64,
        c: f64,
        tol: f64,
    ) -> (Self, Vec<usize>) {
        let members: Vec<Vec<usize>> =
            (0..n_classes).map(|k| (0..class_of.len()).filter(|&r| class_of[r] == k).collect()).collect();
        let pairs: Vec<(usize, usize)> =
            (0..n_classes).flat_map(|a| (a + 1..n_classes).map(move |b| (a, b))).collect();
        let solutions: Vec<(Vec<usize>, smo::BinarySolution)> = pairs
            .par_iter()
            .map(|&(a, b)| {
                // libsvm's sub-problem order: the samples of `a`, then those of `b`; `a` is +1.
                let rows: Vec<usize> = members[a].iter().chain(&members[b]).copied().collect();
                let y: Vec<f64> = rows.iter().map(|&r| if class_of[r] == a { 1.0 } else { -1.0 }).collect();
                let mut k = LazyGram::new(x.select(Axis(0), &rows), gamma, ROW_CACHE_BYTES);
                (rows, smo::solve(&mut k, &y, c, tol))
            })
            .collect();

        let mut is_sv = vec![false; class_of.len()];
        for (rows, sol) in &solutions {
            for (&r, &cf) in rows.iter().zip(&sol.coef) {
                is_sv[r] |= cf != 0.0;
            }
        }
        let mut sv_rows = Vec::new();
        let mut sv_ranges = Vec::with_capacity(n_classes);
        // Position of each support vector within its class's block.
        let mut sv_slot = vec![usize::MAX; class_of.len()];
        for rows in &members {
            let start = sv_rows.len();
            for &r in rows.iter().filter(|&&r| is_sv[r]) {
                sv_slot[r] = sv_rows.len() - start;
                sv_rows.push(r);
            }
            sv_ranges.push(start..sv_rows.len());
        }
        let mut coef: Vec<Array2<f64>> =
            sv_ranges.iter().map(|r| Array2::zeros((r.len(), n_classes.saturating_sub(1)))).collect();
        for (&(a, b), (rows, sol)) in pairs.iter().zip(&solutions) {
            for (&r, &cf) in rows.iter().zip(&sol.coef) {
                if cf != 0.0 {
                    let (own, other) = if class_of[r] == a { (a, b) } else { (b, a) };
                    coef[own][[sv_slot[r], other_column(own, other)]] = cf;
                }
            }
        }
        let rho = solutions.iter().map(|(_, sol)| sol.rho).collect();
        (OneVsOne { pairs, sv_ranges, coef, rho, n_classes }, sv_rows)
    }

    /// Predicted class indices from the kernel values between samples and the support vectors
    /// (`kernel[[i, s]]`, one row per sample).
    pub(crate) fn predict(&self, kernel: ArrayView2<f64>) -> Vec<usize> {
        // parts[a][[i, other_column(a, b)]]: the share of class a's support vectors in the
        // decision value of sample i for the pair of a and b.
        let parts: Vec<Array2<f64>> = self
            .sv_ranges
            .iter()
            .zip(&self.coef)
            .map(|(r, c)| kernel.slice(s![.., r.clone()]).dot(c))
            .collect();
        (0..kernel.nrows())
            .map(|i| {
                self.vote(self.pairs.iter().zip(&self.rho).map(|(&(a, b), rho)| {
                    parts[a][[i, other_column(a, b)]] + parts[b][[i, other_column(b, a)]] - rho
                }))
            })
            .collect()
    }

    /// libsvm's `svm_predict_values`: a positive decision votes for the pair's first class,
    /// anything else for the second; the most votes win, ties go to the lowest class index.
    fn vote(&self, decisions: impl Iterator<Item = f64>) -> usize {
        let mut votes = vec![0usize; self.n_classes];
        for (&(a, b), d) in self.pairs.iter().zip(decisions) {
            votes[if d > 0.0 { a } else { b }] += 1;
        }
        // `max_by_key` keeps the last maximum, so scan in reverse to keep the lowest index.
        (0..self.n_classes).rev().max_by_key(|&k| votes[k]).unwrap_or(0)
    }
}

/// The column of class `other` among the coefficients of a support vector of class `own`.
fn other_column(own: usize, other: usize) -> usize {
    if other < own { other } else { other - 1 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn three_classes() -> OneVsOne {
        OneVsOne {
            pairs: vec![(0, 1), (0, 2), (1, 2)],
            sv_ranges: vec![0..0; 3],
            coef: vec![Array2::zeros((0, 2)); 3],
            rho: vec![0.0; 3],
            n_classes: 3,
        }
    }

    #[test]
    fn votes_go_to_the_first_class_on_positive_decisions() {
        let m = three_classes();
        assert_eq!(m.vote([1.0, 1.0, 1.0].into_iter()), 0);
        assert_eq!(m.vote([-1.0, 1.0, 1.0].into_iter()), 1);
        assert_eq!(m.vote([-1.0, -1.0, -1.0].into_iter()), 2);
        // A decision of exactly zero votes for the second class, as in libsvm.
        assert_eq!(m.vote([0.0, 0.0, 0.0].into_iter()), 2);
    }

    #[test]
    fn ties_go_to_the_lowest_class_index() {
        // 0 beats 1, 2 beats 0, 1 beats 2: one vote each.
        assert_eq!(three_classes().vote([1.0, -1.0, 1.0].into_iter()), 0);
        // 1 beats 0, 0 beats 2, 2 beats 1: one vote each.
        assert_eq!(three_classes().vote([-1.0, 1.0, -1.0].into_iter()), 0);
    }
}
