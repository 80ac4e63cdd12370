//! What a training run reports while it trains, to whoever watches it.
//!
//! The trainer knows no terminal: it calls a [`TrainObserver`], as burn-train's loop calls
//! its renderer. `crate::run::progress` implements it with bars or log lines.

use crate::rundir::MetricsRow;

/// Receives the events of one training run. The run's end (trained, failed, stopped) is
/// known to the caller of `train_run`, which reports it itself.
pub trait TrainObserver {
    /// After a training step: the inputs trained so far and the step's loss.
    fn step(&self, inputs: u64, train_loss: f64);
    /// After a validation, with its row of `metrics.csv`.
    fn validated(&self, row: &MetricsRow);
    /// A note about the run worth a line of its own, e.g. a damaged checkpoint passed over.
    fn note(&self, text: &str);
}
