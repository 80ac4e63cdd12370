//! Number formatting for tables: significant digits, thousands separators, durations.

use super::stats::Stat;
use crate::metrics::Metric;

/// How one metric renders in a table cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// 5 significant digits: `0.018970`.
    Significant,
    /// 4 decimals: `0.8912`.
    Decimals,
    /// An integer with thousands separators: `1,234,567`.
    Count,
    /// A duration: `1h 02m`, `3m 20s`, `45s`.
    Duration,
    /// Inputs per second: `1,234/s`.
    Rate,
}

impl Style {
    /// How `metric` renders.
    pub fn of(metric: Metric) -> Style {
        match metric {
            Metric::ValidationLoss => Style::Significant,
            Metric::AccuracyArgmax | Metric::AccuracySvc | Metric::AccuracySvcHeldout => Style::Decimals,
            Metric::Params => Style::Count,
            Metric::TrainTime => Style::Duration,
            Metric::Throughput => Style::Rate,
        }
    }
}

impl Style {
    /// `value`, or `mean ± std` when the stat has more than one sample (and, for counts,
    /// durations and rates, a std that does not round to 0).
    pub fn stat(self, stat: &Stat) -> String {
        let zero = self.value(0.0);
        match stat.std {
            Some(std) if self != Style::Significant && self != Style::Decimals && self.value(std) == zero => {
                self.value(stat.mean)
            }
            Some(std) => match self {
                // The std gets as many decimals as the mean, so the two line up.
                Style::Significant => {
                    let decimals = significant_decimals(stat.mean, 5);
                    format!("{:.decimals$} ± {:.decimals$}", stat.mean, std)
                }
                _ => format!("{} ± {}", self.value(stat.mean), self.value(std)),
            },
            None => self.value(stat.mean),
        }
    }

    /// `value` with as many decimals as `reference` gets, so numbers shown together (a
    /// difference and its interval) line up.
    pub fn value_like(self, value: f64, reference: f64) -> String {
        match self {
            Style::Significant if value.is_finite() && reference.is_finite() => {
                format!("{:.*}", significant_decimals(reference, 5), value)
            }
            _ => self.value(value),
        }
    }

    /// One value.
    pub fn value(self, value: f64) -> String {
        if !value.is_finite() {
            return value.to_string();
        }
        match self {
            Style::Significant => format!("{:.*}", significant_decimals(value, 5), value),
            Style::Decimals => format!("{value:.4}"),
            Style::Count => thousands(value.round() as i64),
            Style::Duration => duration(value),
            Style::Rate => format!("{}/s", thousands(value.round() as i64)),
        }
    }
}

/// Decimals that show `digits` significant digits of `value`.
fn significant_decimals(value: f64, digits: i32) -> usize {
    if value == 0.0 {
        return (digits - 1) as usize;
    }
    let magnitude = value.abs().log10().floor() as i32;
    (digits - 1 - magnitude).max(0) as usize
}

/// `1234567` → `1,234,567`.
pub fn thousands(value: i64) -> String {
    let digits = value.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if value < 0 { format!("-{out}") } else { out }
}

/// Seconds as `1h 02m`, `3m 20s` or `45s`.
pub fn duration(seconds: f64) -> String {
    let total = seconds.round() as u64;
    let (h, m, s) = (total / 3600, total / 60 % 60, total % 60);
    if h > 0 {
        format!("{h}h {m:02}m")
    } else if m > 0 {
        format!("{m}m {s:02}s")
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_as_documented() {
        assert_eq!(Style::Significant.value(0.0189704), "0.018970");
        assert_eq!(Style::Significant.value(12.345678), "12.346");
        assert_eq!(Style::Significant.value(123456.7), "123457");
        assert_eq!(Style::Decimals.value(0.89126), "0.8913");
        assert_eq!(Style::Count.value(1234567.0), "1,234,567");
        assert_eq!(Style::Count.value(999.0), "999");
        assert_eq!(Style::Rate.value(1234.4), "1,234/s");
        assert_eq!(Style::Duration.value(3720.0), "1h 02m");
        assert_eq!(Style::Duration.value(200.0), "3m 20s");
        assert_eq!(Style::Duration.value(45.4), "45s");
        assert_eq!(thousands(-1000), "-1,000");
    }

    #[test]
    fn numbers_shown_together_share_their_decimals() {
        assert_eq!(Style::Significant.value_like(0.0012346, 0.063), "0.001235");
        assert_eq!(Style::Significant.value_like(0.063, 0.063), "0.063000");
        assert_eq!(Style::Decimals.value_like(0.0012345, 0.5), "0.0012");
    }

    #[test]
    fn a_std_shows_only_with_repeats() {
        let one = Stat { mean: 0.5, std: None, n: 1 };
        assert_eq!(Style::Decimals.stat(&one), "0.5000");
        let three = Stat { mean: 0.0189704, std: Some(0.000123), n: 3 };
        assert_eq!(Style::Significant.stat(&three), "0.018970 ± 0.000123");
        assert_eq!(Style::Rate.stat(&Stat { mean: 1000.0, std: Some(12.0), n: 2 }), "1,000/s ± 12/s");
        assert_eq!(Style::Count.stat(&Stat { mean: 1000.0, std: Some(0.0), n: 2 }), "1,000");
    }
}
