//! The training state saved in `checkpoint/`: `state.json` (counters, timings, the rows of
//! metrics written so far) beside the model and optimizer files. `state.json` is written
//! last, atomically, so a checkpoint is complete or absent.

use anyhow::{Context, Result};
use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::store::ModuleRecord;
use burn::tensor::Bytes;
use serde::{Deserialize, Serialize};

use crate::model::Model;
use crate::rundir::{RunDir, write_atomic};

const STATE_FILE: &str = "state.json";
const MODEL_FILE: &str = "model.bpk";
const OPTIMIZER_FILE: &str = "optimizer.bpk";

/// Where training stands.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
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

/// Save model, optimizer and then the state (each file atomically).
pub fn save(dir: &RunDir, model: &Model, optimizer: &ModuleOptimizer, state: &TrainState) -> Result<()> {
    let folder = dir.checkpoint_dir();
    let model_bytes = model.clone().into_record().into_bytes().map_err(|e| anyhow::anyhow!("{e:?}"))?;
    write_atomic(&folder.join(MODEL_FILE), &model_bytes)?;
    let optimizer_bytes = optimizer.into_bytes().map_err(|e| anyhow::anyhow!("{e:?}"))?;
    write_atomic(&folder.join(OPTIMIZER_FILE), &optimizer_bytes)?;
    let text = serde_json::to_string_pretty(state)?;
    write_atomic(&folder.join(STATE_FILE), text.as_bytes())
}

/// Load the model and optimizer of the checkpoint into freshly built ones.
/// (Loading must not be followed by `to_device`: on an autodiff device that records the
/// parameters into a graph that the first backward consumes.)
pub fn load(dir: &RunDir, model: Model, optimizer: ModuleOptimizer) -> Result<(Model, ModuleOptimizer)> {
    let read = |name: &str| {
        let path = dir.checkpoint_dir().join(name);
        std::fs::read(&path).map(Bytes::from_bytes_vec).with_context(|| {
            format!("cannot read {}: delete the checkpoint folder to restart the run", path.display())
        })
    };
    let damaged = |name: &str, err: String| {
        anyhow::anyhow!(
            "{} is damaged ({err}): delete the checkpoint folder to restart the run",
            dir.checkpoint_dir().join(name).display()
        )
    };
    let record =
        ModuleRecord::from_bytes(read(MODEL_FILE)?).map_err(|e| damaged(MODEL_FILE, format!("{e:?}")))?;
    let model = model.try_load_record(record).map_err(|e| damaged(MODEL_FILE, format!("{e:?}")))?;
    let optimizer =
        optimizer.from_bytes(read(OPTIMIZER_FILE)?).map_err(|e| damaged(OPTIMIZER_FILE, format!("{e:?}")))?;
    Ok((model, optimizer))
}
