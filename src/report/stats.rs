//! Mean and sample standard deviation over repeats.

use serde::Serialize;

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
