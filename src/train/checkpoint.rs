//! The training state saved in `checkpoint/`: `state.json` (counters, timings, the rows of
//! metrics written so far) beside the model and optimizer files. `state.json` is written
//! last, atomically, so a checkpoint is complete or absent.

use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::rundir::{RunDir, write_atomic};

const STATE_FILE: &str = "state.json";
pub const MODEL_FILE: &str = "model.bpk";
pub const OPTIMIZER_FILE: &str = "optimizer.bpk";

/// Where training stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// Training inputs seen.
    pub inputs: u64,
    /// Optimizer steps taken.
    pub steps: u64,
    /// Current epoch (0-based) and the batches of it already trained; with the seed they
    /// fix the data order and the augmentation of everything that follows.
    pub epoch: u64,
    pub batch_in_epoch: u64,
    /// Training time so far (validation excluded) and wall time so far.
    pub train_time_s: f64,
    pub elapsed_s: f64,
    /// Training-loss sum and count since the last validation.
    pub loss_sum: f64,
    pub loss_count: u64,
    /// Inputs at the last validation.
    pub last_validation: u64,
}

/// Read the checkpoint state, if there is a complete checkpoint.
pub fn read_state(dir: &RunDir) -> Result<Option<TrainState>> {
    let path = dir.checkpoint_dir().join(STATE_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(serde_json::from_str(&text).with_context(|| {
            format!("{} is damaged: delete the checkpoint folder to restart the run", path.display())
        })?)),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(err).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Write the state last: the model and optimizer files it refers to are already there.
pub fn write_state(dir: &RunDir, state: &TrainState) -> Result<()> {
    let text = serde_json::to_string_pretty(state)?;
    write_atomic(&dir.checkpoint_dir().join(STATE_FILE), text.as_bytes())
}

/// A path inside the checkpoint folder.
pub fn file(dir: &RunDir, name: &str) -> std::path::PathBuf {
    dir.checkpoint_dir().join(name)
}

/// Does a checkpoint file exist?
pub fn exists(path: &Path) -> bool {
    path.is_file()
}
