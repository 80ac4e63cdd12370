//! The checkpoint of a run: the model, the optimizer and `state.json` (where training stands,
//! the metrics rows so far, and the SHA-256 of the two other files).
//!
//! Saving is all-or-nothing: the three files are written into a new temporary folder and
//! flushed, the previous checkpoint moves aside to `checkpoint.prev/`, and the new folder is
//! renamed to `checkpoint/`. Loading takes `checkpoint/` when it is complete and its checksums
//! match, else `checkpoint.prev/` (saying why); never the files of two checkpoints mixed.
//!
//! A checkpoint of expgrid before checksums (`state.json` holding the bare state, the rows in
//! `metrics.csv`) is still loaded, unverified, so that runs trained by it resume; the next
//! save writes the checked form.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result, bail};
use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::store::ModuleRecord;
use burn::tensor::Bytes;
use serde::{Deserialize, Serialize};

use crate::data::verify::sha256_hex;
use crate::model::Model;
use crate::rundir::{MetricsRow, RunDir, sync_dir};

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
    /// Every validation so far: `metrics.csv` is rebuilt from these.
    #[serde(default)]
    pub rows: Vec<MetricsRow>,
    /// The last probe: training embeddings it was fitted on, and its seconds.
    #[serde(default)]
    pub probe_samples: Option<usize>,
    #[serde(default)]
    pub probe_seconds: Option<f64>,
}

/// `state.json`: the state and the checksums that tie the folder's files together.
#[derive(Serialize, Deserialize)]
struct StateFile {
    state: TrainState,
    model_sha256: String,
    optimizer_sha256: String,
}

/// A checkpoint loaded into a freshly built model and optimizer.
pub struct Restored {
    pub model: Model,
    pub optimizer: ModuleOptimizer,
    pub state: TrainState,
}

/// Save a checkpoint, all or nothing (see the module documentation). This is the one way a
/// checkpoint is written.
pub fn save(dir: &RunDir, model: &Model, optimizer: &ModuleOptimizer, state: &TrainState) -> Result<()> {
    let model_bytes = model.clone().into_record().into_bytes().context("serialising the model")?;
    let optimizer_bytes = optimizer.into_bytes().context("serialising the optimizer")?;
    let state_file = StateFile {
        state: state.clone(),
        model_sha256: sha256_hex(&model_bytes),
        optimizer_sha256: sha256_hex(&optimizer_bytes),
    };
    let (current, previous) = (dir.checkpoint_dir(), dir.previous_checkpoint_dir());
    // The older fallback goes first, so a full disk needs room for two checkpoints, not three.
    if current.exists() && previous.exists() {
        std::fs::remove_dir_all(&previous)
            .with_context(|| format!("cannot remove {}", previous.display()))?;
    }
    let tmp = dir.temp_dir()?;
    write_synced(&tmp.path().join(MODEL_FILE), &model_bytes)?;
    write_synced(&tmp.path().join(OPTIMIZER_FILE), &optimizer_bytes)?;
    write_synced(&tmp.path().join(STATE_FILE), &serde_json::to_vec_pretty(&state_file)?)?;
    sync_dir(tmp.path())?;
    if current.exists() {
        rename(&current, &previous)?;
    }
    rename(&tmp.keep(), &current)?;
    sync_dir(dir.path())
}

/// Load the newest intact checkpoint into `model` and `optimizer` (freshly built); `None`
/// when the run has no checkpoint. When `checkpoint/` is damaged, `note` hears why and the
/// previous checkpoint is loaded; when no checkpoint is intact, that is an error.
/// (Loading must not be followed by `to_device`: on an autodiff device that records the
/// parameters into a graph that the first backward consumes.)
pub fn load(
    dir: &RunDir,
    model: &Model,
    optimizer: &ModuleOptimizer,
    note: impl Fn(&str),
) -> Result<Option<Restored>> {
    if let Some(state) = read_legacy_state(&dir.checkpoint_dir()) {
        note("the checkpoint was written by an earlier expgrid (no checksums): loading it unverified");
        let mut restored = load_files(&dir.checkpoint_dir(), model.clone(), optimizer.clone(), None)?;
        let rows = dir.metrics()?.into_iter().filter(|row| row.inputs <= state.inputs).collect();
        restored.state = TrainState { rows, ..state };
        return Ok(Some(restored));
    }
    let mut problems = Vec::new();
    for folder in [dir.checkpoint_dir(), dir.previous_checkpoint_dir()] {
        if !folder.exists() {
            continue;
        }
        match load_folder(&folder, model.clone(), optimizer.clone()) {
            Ok(restored) => {
                if !problems.is_empty() {
                    note(&format!(
                        "{}; resuming from {} at {} inputs",
                        problems.join("; "),
                        folder.display(),
                        restored.state.inputs
                    ));
                }
                return Ok(Some(restored));
            }
            Err(err) => problems.push(format!("{err:#}")),
        }
    }
    if problems.is_empty() {
        return Ok(None);
    }
    bail!(
        "no intact checkpoint: {}; `expgrid run --reset` trains the run again from scratch",
        problems.join("; ")
    )
}

/// The state of the newest checkpoint whose `state.json` reads (its other files unchecked).
pub fn read_state(dir: &RunDir) -> Option<TrainState> {
    read_legacy_state(&dir.checkpoint_dir()).or_else(|| {
        [dir.checkpoint_dir(), dir.previous_checkpoint_dir()]
            .into_iter()
            .find_map(|folder| read_state_file(&folder).ok())
            .map(|file| file.state)
    })
}

fn read_state_file(folder: &Path) -> Result<StateFile> {
    let path = folder.join(STATE_FILE);
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is damaged", path.display()))
}

/// The state of an earlier expgrid's checkpoint: `state.json` that reads as a bare
/// [`TrainState`] (no checksums); `None` for the checked form or no checkpoint.
fn read_legacy_state(folder: &Path) -> Option<TrainState> {
    let text = std::fs::read_to_string(folder.join(STATE_FILE)).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    if value.get("model_sha256").is_some() {
        return None;
    }
    serde_json::from_value(value).ok()
}

fn load_folder(folder: &Path, model: Model, optimizer: ModuleOptimizer) -> Result<Restored> {
    let file = read_state_file(folder)?;
    let mut restored =
        load_files(folder, model, optimizer, Some((&file.model_sha256, &file.optimizer_sha256)))?;
    restored.state = file.state;
    Ok(restored)
}

/// The model and optimizer files of `folder`, checked against `sha256` (model, optimizer)
/// when given; the state is left at its default.
fn load_files(
    folder: &Path,
    model: Model,
    optimizer: ModuleOptimizer,
    sha256: Option<(&str, &str)>,
) -> Result<Restored> {
    let read = |name: &str, expected: Option<&str>| -> Result<Bytes> {
        let path = folder.join(name);
        let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        if expected.is_some_and(|sum| sha256_hex(&bytes) != sum) {
            bail!("{} is damaged (its checksum differs from the one in {STATE_FILE})", path.display());
        }
        Ok(Bytes::from_bytes_vec(bytes))
    };
    let damaged =
        |name: &str, err: String| anyhow::anyhow!("{} is damaged ({err})", folder.join(name).display());
    let record = ModuleRecord::from_bytes(read(MODEL_FILE, sha256.map(|(model, _)| model))?)
        .map_err(|e| damaged(MODEL_FILE, format!("{e:?}")))?;
    let model = model.try_load_record(record).map_err(|e| damaged(MODEL_FILE, format!("{e:?}")))?;
    let optimizer = optimizer
        .from_bytes(read(OPTIMIZER_FILE, sha256.map(|(_, optimizer)| optimizer))?)
        .map_err(|e| damaged(OPTIMIZER_FILE, format!("{e:?}")))?;
    Ok(Restored { model, optimizer, state: TrainState::default() })
}

/// Create `path` with `bytes`, flushed to the disk.
fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file =
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}

fn rename(from: &Path, to: &Path) -> Result<()> {
    std::fs::rename(from, to).with_context(|| format!("cannot rename {} to {}", from.display(), to.display()))
}
