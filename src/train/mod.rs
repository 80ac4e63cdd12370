//! Training one run: the loop, the loss, the learning-rate schedule, validation and
//! checkpoints.

pub mod checkpoint;
pub mod schedule;

use std::path::PathBuf;

use anyhow::{Result, bail};

use crate::config::PlannedRun;
use crate::run::progress::RunProgress;
use crate::rundir::{RunDir, RunResult};

/// Everything the training of one run needs.
pub struct TrainContext<'a> {
    pub run: &'a PlannedRun,
    pub dir: &'a RunDir,
    pub data_dir: Option<PathBuf>,
    pub device: &'a str,
    pub progress: &'a RunProgress,
}

/// Inputs trained so far according to the run's checkpoint (`None`: no checkpoint).
pub fn checkpoint_inputs(dir: &RunDir) -> Result<Option<u64>> {
    Ok(checkpoint::read_state(dir)?.map(|state| state.inputs))
}

/// Trainable parameters of the run's model.
pub fn params(_run: &PlannedRun) -> Result<usize> {
    Ok(0)
}

/// Train (or resume) the run to its budget; write metrics and checkpoints on the way.
pub fn train_run(_context: &TrainContext) -> Result<RunResult> {
    bail!("training is not available in this build yet")
}
