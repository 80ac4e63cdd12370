//! Binary C-SVC dual solver: SMO with libsvm's second-order working set selection (WSS3).
//!
//! Why hand-written and not linfa-svm (0.8.1): linfa-svm's only public way to fit is `Fit` on
//! the raw records. It then always builds the full dense kernel itself with a scalar
//! `n × n × d` loop (`linfa_kernel::dense_from_fn`: no matrix product, no symmetry, every row
//! though SMO reads few), and neither its solver (`SolverState` needs the private `Permutable`
//! trait) nor `fit_c` (private module) can be given a precomputed or lazily computed kernel.
//! Measured on this machine (2 cores, shared): one class pair of the 10,000 × 128 benchmark
//! (2,005 samples) takes 0.9–1.4 s in linfa-svm against 0.01–0.08 s here
//! (`cargo bench --bench probe`), so the 45 pairs of a 10-class fit take ≈ 50 s with linfa-svm
//! against 4–11 s for sklearn. The solver itself is short, so it is written here on kernel rows
//! computed on demand, following libsvm's `Solver::Solve` for C-SVC without shrinking
//! (shrinking only changes speed, not the solution within the tolerance).
//! `tests/probe_linfa.rs` checks it against linfa-svm, `tests/probe_sklearn.rs` against sklearn.
//!
//! The problem is `min_a ½ aᵀQa − eᵀa` s.t. `yᵀa = 0`, `0 ≤ a_i ≤ C`, with
//! `Q_ij = y_i y_j K_ij`; kernel values are stored in f32, all solver arithmetic is f64.

use super::kernel::LazyGram;

/// libsvm's `TAU`: the curvature used when a pair's `quad_coef` is not positive.
const TAU: f64 = 1e-12;

/// The solution of one binary problem.
#[derive(Debug, Clone)]
pub(crate) struct BinarySolution {
    /// `alpha_i * y_i` per training sample (zero for non-support vectors).
    pub coef: Vec<f64>,
    /// The offset: the decision value is `Σ coef_i K(x_i, x) − rho`.
    pub rho: f64,
}

/// Solves the C-SVC dual for the RBF kernel `k` (n × n, `K_ii = 1`), labels `y` (±1), bound
/// `c`, and the stopping tolerance `tol` on the maximal KKT violation (libsvm's `eps`).
pub(crate) fn solve(k: &mut LazyGram, y: &[f64], c: f64, tol: f64) -> BinarySolution {
    let n = y.len();
    let mut alpha = vec![0.0f64; n];
    // Gradient of the objective: Q·alpha − e, which is −1 at alpha = 0.
    let mut grad = vec![-1.0f64; n];
    let max_iter = (100 * n).max(10_000_000);
    for _ in 0..max_iter {
        let Some((i, j)) = select_working_set(k, y, &alpha, &grad, c, tol) else { break };
        let (ki, kj) = k.rows(i, j);
        let (old_i, old_j) = (alpha[i], alpha[j]);
        // K_ii + K_jj − 2 K_ij, for either sign combination of y_i, y_j.
        let quad = positive_curvature(2.0 - 2.0 * f64::from(ki[j]));
        // The two-variable subproblem and its clipping to the box, exactly as in libsvm.
        if y[i] != y[j] {
            let delta = (-grad[i] - grad[j]) / quad;
            let diff = alpha[i] - alpha[j];
            alpha[i] += delta;
            alpha[j] += delta;
            if diff > 0.0 {
                if alpha[j] < 0.0 {
                    alpha[j] = 0.0;
                    alpha[i] = diff;
                }
            } else if alpha[i] < 0.0 {
                alpha[i] = 0.0;
                alpha[j] = -diff;
            }
            // Both bounds are C, so libsvm's `diff > C_i − C_j` is `diff > 0`.
            if diff > 0.0 {
                if alpha[i] > c {
                    alpha[i] = c;
                    alpha[j] = c - diff;
                }
            } else if alpha[j] > c {
                alpha[j] = c;
                alpha[i] = c + diff;
            }
        } else {
            let delta = (grad[i] - grad[j]) / quad;
            let sum = alpha[i] + alpha[j];
            alpha[i] -= delta;
            alpha[j] += delta;
            if sum > c {
                if alpha[i] > c {
                    alpha[i] = c;
                    alpha[j] = sum - c;
                }
            } else if alpha[j] < 0.0 {
                alpha[j] = 0.0;
                alpha[i] = sum;
            }
            if sum > c {
                if alpha[j] > c {
                    alpha[j] = c;
                    alpha[i] = sum - c;
                }
            } else if alpha[i] < 0.0 {
                alpha[i] = 0.0;
                alpha[j] = sum;
            }
        }
        // grad_t += Q_ti Δa_i + Q_tj Δa_j, with Q_ti = y_t y_i K_ti.
        let di = (alpha[i] - old_i) * y[i];
        let dj = (alpha[j] - old_j) * y[j];
        for (t, g) in grad.iter_mut().enumerate() {
            *g += y[t] * (f64::from(ki[t]) * di + f64::from(kj[t]) * dj);
        }
    }
    BinarySolution { rho: rho(y, &alpha, &grad, c), coef: alpha.iter().zip(y).map(|(a, y)| a * y).collect() }
}

fn positive_curvature(quad: f64) -> f64 {
    if quad > 0.0 { quad } else { TAU }
}

/// WSS3 (Fan, Chen, Lin 2005): `i` maximises the violation `−y_i ∇_i` over I_up, `j` minimises
/// the second-order decrease of the objective over I_low. `None` when the maximal violation is
/// below `tol` (optimal). Ties keep the last index, as libsvm's `>=` / `<=` comparisons do.
fn select_working_set(
    k: &mut LazyGram,
    y: &[f64],
    alpha: &[f64],
    grad: &[f64],
    c: f64,
    tol: f64,
) -> Option<(usize, usize)> {
    let mut gmax = f64::NEG_INFINITY;
    let mut i = None;
    for t in 0..y.len() {
        let in_up = if y[t] > 0.0 { alpha[t] < c } else { alpha[t] > 0.0 };
        if in_up && -y[t] * grad[t] >= gmax {
            gmax = -y[t] * grad[t];
            i = Some(t);
        }
    }
    let i = i?;
    let ki = k.row(i);
    let mut gmax2 = f64::NEG_INFINITY;
    let mut obj_min = f64::INFINITY;
    let mut j = None;
    for t in 0..y.len() {
        let in_low = if y[t] > 0.0 { alpha[t] > 0.0 } else { alpha[t] < c };
        if !in_low {
            continue;
        }
        let yg = y[t] * grad[t];
        gmax2 = gmax2.max(yg);
        let grad_diff = gmax + yg;
        if grad_diff > 0.0 {
            // Both signs of y_t give K_ii + K_tt − 2 K_it (libsvm's QD and Q_i), 2 − 2 K_it for RBF.
            let quad = positive_curvature(2.0 - 2.0 * f64::from(ki[t]));
            let obj = -(grad_diff * grad_diff) / quad;
            if obj <= obj_min {
                obj_min = obj;
                j = Some(t);
            }
        }
    }
    if gmax + gmax2 < tol { None } else { j.map(|j| (i, j)) }
}

/// libsvm's `calculate_rho`: the mean of `y_i ∇_i` over free variables, else the middle of the
/// feasible interval.
fn rho(y: &[f64], alpha: &[f64], grad: &[f64], c: f64) -> f64 {
    let (mut upper, mut lower) = (f64::INFINITY, f64::NEG_INFINITY);
    let (mut free, mut sum_free) = (0usize, 0.0f64);
    for t in 0..y.len() {
        let yg = y[t] * grad[t];
        let positive = y[t] > 0.0;
        if alpha[t] >= c {
            if positive { lower = lower.max(yg) } else { upper = upper.min(yg) }
        } else if alpha[t] <= 0.0 {
            if positive { upper = upper.min(yg) } else { lower = lower.max(yg) }
        } else {
            free += 1;
            sum_free += yg;
        }
    }
    if free > 0 { sum_free / free as f64 } else { (upper + lower) / 2.0 }
}
