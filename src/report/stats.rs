//! Mean and sample standard deviation over repeats; the t-tests that compare two rows.

use serde::Serialize;
use statrs::distribution::{ContinuousCDF, StudentsT};

/// The confidence level of the intervals: an interval excludes 0 exactly when p < 1 − 0.95.
pub const CONFIDENCE: f64 = 0.95;
/// The largest number of repeats [`repeats_needed`] looks at.
pub const MAX_REPEATS: usize = 1_000_000;

/// The mean of `n` samples and their sample standard deviation (n - 1); no std for n = 1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Stat {
    pub mean: f64,
    pub std: Option<f64>,
    pub n: usize,
}

impl Stat {
    /// `None` for no samples.
    pub fn of(samples: &[f64]) -> Option<Stat> {
        let n = samples.len();
        if n == 0 {
            return None;
        }
        let mean = samples.iter().sum::<f64>() / n as f64;
        let std = (n > 1).then(|| {
            let squares: f64 = samples.iter().map(|x| (x - mean).powi(2)).sum();
            (squares / (n - 1) as f64).sqrt()
        });
        Some(Stat { mean, std, n })
    }
}

/// Which t-test compared two sets of samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Test {
    /// Welch's t-test (unequal variances), scipy's `ttest_ind(equal_var=False)`.
    Welch,
    /// The paired t-test over per-seed differences, scipy's `ttest_rel`.
    Paired,
}

/// `mean(a) - mean(b)` with its 95 % confidence interval and two-sided p-value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Difference {
    pub test: Test,
    pub diff: f64,
    pub low: f64,
    pub high: f64,
    pub p: f64,
    pub t: f64,
    /// Degrees of freedom (Welch–Satterthwaite for Welch, pairs - 1 when paired).
    pub df: f64,
    /// What [`repeats_needed`] extrapolates: the standard error is `sqrt(spread / n)` and the
    /// degrees of freedom `(n - 1) * df_per_repeat` with `n` repeats on each side.
    pub spread: f64,
    pub df_per_repeat: f64,
}

impl Difference {
    /// Does the interval exclude 0?
    pub fn significant(&self) -> bool {
        self.low > 0.0 || self.high < 0.0
    }
}

/// Welch's t-test of `a` against `b`; `None` when a side has fewer than 2 samples or both
/// have no variance.
pub fn welch(a: &[f64], b: &[f64]) -> Option<Difference> {
    let (a, b) = (Stat::of(a)?, Stat::of(b)?);
    let (va, vb) = (a.std?.powi(2), b.std?.powi(2));
    let (na, nb) = (a.n as f64, b.n as f64);
    let (wa, wb) = (va / na, vb / nb);
    let se = (wa + wb).sqrt();
    let df = (wa + wb).powi(2) / (wa.powi(2) / (na - 1.0) + wb.powi(2) / (nb - 1.0));
    let df_per_repeat = (va + vb).powi(2) / (va.powi(2) + vb.powi(2));
    difference(Test::Welch, a.mean - b.mean, se, df, va + vb, df_per_repeat)
}

/// The paired t-test of `a[i] - b[i]`; `None` for fewer than 2 pairs, different lengths or
/// differences without variance.
pub fn paired(a: &[f64], b: &[f64]) -> Option<Difference> {
    if a.len() != b.len() {
        return None;
    }
    let diffs: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    let d = Stat::of(&diffs)?;
    let var = d.std?.powi(2);
    let n = d.n as f64;
    difference(Test::Paired, d.mean, (var / n).sqrt(), n - 1.0, var, 1.0)
}

fn difference(
    test: Test,
    diff: f64,
    se: f64,
    df: f64,
    spread: f64,
    df_per_repeat: f64,
) -> Option<Difference> {
    if !(se > 0.0 && df > 0.0) {
        return None;
    }
    let dist = StudentsT::new(0.0, 1.0, df).ok()?;
    let half = dist.inverse_cdf(0.5 + CONFIDENCE / 2.0) * se;
    let t = diff / se;
    Some(Difference {
        test,
        diff,
        low: diff - half,
        high: diff + half,
        p: 2.0 * dist.sf(t.abs()),
        t,
        df,
        spread,
        df_per_repeat,
    })
}

/// The fewest repeats per side at which `difference.diff` would be significant (its 95 %
/// interval would exclude 0) if the variance stayed what it is:
/// the smallest `n >= 2` with `|diff| / sqrt(spread / n) >= t(0.975, (n - 1) * df_per_repeat)`
/// (see [`Difference`]); `None` when the difference is 0 or needs more than [`MAX_REPEATS`].
pub fn repeats_needed(difference: &Difference) -> Option<usize> {
    let significant = |n: usize| {
        let n_f = n as f64;
        let Ok(dist) = StudentsT::new(0.0, 1.0, (n_f - 1.0) * difference.df_per_repeat) else { return false };
        difference.diff.abs() / (difference.spread / n_f).sqrt() >= dist.inverse_cdf(0.5 + CONFIDENCE / 2.0)
    };
    if difference.diff == 0.0 || !significant(MAX_REPEATS) {
        return None;
    }
    // The left side grows and the t quantile falls with n: binary search.
    let (mut low, mut high) = (1, MAX_REPEATS);
    while high - low > 1 {
        let mid = low + (high - low) / 2;
        if significant(mid) { high = mid } else { low = mid }
    }
    Some(high)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_std_uses_n_minus_one() {
        let stat = Stat::of(&[1.0, 2.0, 3.0]).unwrap();
        assert_eq!(stat.mean, 2.0);
        assert_eq!(stat.std, Some(1.0));
        assert_eq!(Stat::of(&[4.0]).unwrap().std, None);
        assert!(Stat::of(&[]).is_none());
    }
}
