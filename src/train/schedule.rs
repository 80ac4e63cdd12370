//! Learning-rate schedules, stepped after every batch (as nn-experiments does), in
//! PyTorch's closed forms.

use std::f64::consts::PI;

use crate::config::schema::SchedulerSpec;

/// The learning rate of every training step of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    base: f64,
    kind: Kind,
}

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Constant,
    /// Cosine from `base` to 0 over `t_max` steps (`torch.optim.lr_scheduler.CosineAnnealingLR`,
    /// eta_min 0).
    Cosine {
        t_max: u64,
    },
    /// Linear warm-up to `base` over `warmup` steps, then cosine to 0 over the rest.
    WarmupCosine {
        warmup: u64,
        t_max: u64,
    },
}

impl Schedule {
    /// The schedule of a run: `t_max` is `max_inputs // batch_size` steps, as in nn-experiments.
    pub fn new(spec: &SchedulerSpec, base: f64, max_inputs: u64, batch_size: usize) -> Schedule {
        let steps = |inputs: u64| (inputs / batch_size as u64).max(1);
        let kind = match spec {
            SchedulerSpec::Constant => Kind::Constant,
            SchedulerSpec::CosineAnnealingLR => Kind::Cosine { t_max: steps(max_inputs) },
            SchedulerSpec::CosineAnnealingWarmupLR { warmup_inputs } => {
                Kind::WarmupCosine { warmup: *warmup_inputs / batch_size as u64, t_max: steps(max_inputs) }
            }
        };
        Schedule { base, kind }
    }

    /// The learning rate for training step `step` (0-based).
    pub fn at(&self, step: u64) -> f64 {
        match self.kind {
            Kind::Constant => self.base,
            Kind::Cosine { t_max } => cosine(self.base, step, t_max),
            Kind::WarmupCosine { warmup, .. } if step < warmup => {
                self.base * (step + 1) as f64 / warmup as f64
            }
            Kind::WarmupCosine { warmup, t_max } => {
                cosine(self.base, step - warmup, t_max.saturating_sub(warmup).max(1))
            }
        }
    }
}

/// PyTorch's closed form `eta_min + (base - eta_min) * (1 + cos(pi * t / t_max)) / 2` with
/// eta_min 0.
fn cosine(base: f64, t: u64, t_max: u64) -> f64 {
    base * (1.0 + (PI * t as f64 / t_max as f64).cos()) / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_matches_pytorch_closed_form() {
        // torch: CosineAnnealingLR(opt, T_max=10) after k steps, base 0.1:
        // k=0 0.1, k=5 0.05, k=10 0.0, k=3 0.0793892626.
        let s = Schedule::new(&SchedulerSpec::CosineAnnealingLR, 0.1, 640, 64);
        assert_eq!(s.at(0), 0.1);
        assert!((s.at(5) - 0.05).abs() < 1e-15);
        assert!(s.at(10).abs() < 1e-15);
        assert!((s.at(3) - 0.079_389_262_614_623_66).abs() < 1e-12);
    }

    #[test]
    fn warmup_rises_linearly_then_follows_the_cosine() {
        let spec = SchedulerSpec::CosineAnnealingWarmupLR { warmup_inputs: 4 * 64 };
        let s = Schedule::new(&spec, 1.0, 14 * 64, 64);
        let lrs: Vec<f64> = (0..4).map(|k| s.at(k)).collect();
        assert_eq!(lrs, [0.25, 0.5, 0.75, 1.0]);
        assert_eq!(s.at(4), 1.0);
        assert!((s.at(9) - 0.5).abs() < 1e-12, "half-way through the 10 cosine steps");
    }

    #[test]
    fn constant_is_constant() {
        let s = Schedule::new(&SchedulerSpec::Constant, 0.3, 100, 10);
        assert_eq!(s.at(0), 0.3);
        assert_eq!(s.at(1_000), 0.3);
    }
}
