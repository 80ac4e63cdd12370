//! The run folder, `<runs dir>/<experiment_name>/`: what a run writes and how it is read back.
//!
//! | file | content |
//! | --- | --- |
//! | `config.yaml` | the fully resolved run (no placeholders) |
//! | `run.json` | [`RunInfo`]: status, error, versions, backend, seed, params, times |
//! | `metrics.csv` | one [`MetricsRow`] per validation |
//! | `result.json` | [`RunResult`]: the final metrics and the probe |
//! | `checkpoint/` | model, optimizer, and `state.json` (counters, data position, metrics rows, checksums) |
//! | `checkpoint.prev/` | the previous complete checkpoint, the fallback when `checkpoint/` is damaged |
//! | `.lock` | held (advisory lock) by the process that trains the run |
//!
//! Every write is atomic: a temporary file (or, for a checkpoint, a temporary folder) named
//! `.tmp-*` in the run folder, flushed, then renamed. Temporaries left by a killed process
//! are removed when the next process takes the folder's lock.

use std::fs::File;
use std::io::Write;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::config::Node;
use crate::metrics::Metric;

pub const CONFIG_FILE: &str = "config.yaml";
pub const INFO_FILE: &str = "run.json";
pub const METRICS_FILE: &str = "metrics.csv";
pub const RESULT_FILE: &str = "result.json";
pub const CHECKPOINT_DIR: &str = "checkpoint";
pub const PREVIOUS_CHECKPOINT_DIR: &str = "checkpoint.prev";
const LOCK_FILE: &str = ".lock";
/// How often, and how far apart, a refused lock is tried again (readers' probes are momentary).
const LOCK_ATTEMPTS: u32 = 10;
const LOCK_RETRY: std::time::Duration = std::time::Duration::from_millis(20);
/// The name prefix of every temporary file or folder written in a run folder.
const TEMP_PREFIX: &str = ".tmp-";

/// The status recorded in `run.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pending,
    Running,
    /// Stopped by a signal after saving its checkpoint (`crate::stop`).
    Interrupted,
    Done,
    Failed,
}

/// The advice for a damaged `run.json`, `metrics.csv` or `result.json`.
const REPAIR: &str =
    "`expgrid run` rebuilds it from the run's checkpoint (retraining only what the checkpoint lacks)";

/// What a run is now, from `run.json` and its lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    /// Never started.
    Pending,
    /// A process holds the lock and trains it.
    Running,
    /// Started, not finished, and nobody trains it: it resumes from its checkpoint.
    Interrupted,
    Done,
    Failed,
}

impl std::fmt::Display for RunState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = match self {
            RunState::Pending => "pending",
            RunState::Running => "running",
            RunState::Interrupted => "interrupted",
            RunState::Done => "done",
            RunState::Failed => "failed",
        };
        f.write_str(text)
    }
}

/// A run as `plan` and `report` show it and `run` decides about it: its state, checked
/// against the file's config and its files.
#[derive(Debug, Clone, PartialEq)]
pub enum Standing {
    /// Its files are readable and it was trained with the file's config (or not yet).
    Current(RunState),
    /// Started or finished with a config that differs from the file's now.
    Stale(RunState),
    /// One of its files cannot be read; the message names it and the repair.
    Damaged(String),
}

impl Standing {
    /// The status word: the state, `stale` or `damaged`.
    pub fn label(&self) -> String {
        match self {
            Standing::Current(state) => state.to_string(),
            Standing::Stale(_) => "stale".into(),
            Standing::Damaged(_) => "damaged".into(),
        }
    }

    /// The inputs a current, done run stopped at below its `max_inputs` (a `$halving` rung;
    /// `plan` and the reports call it `stopped`), from its `result`.
    pub fn stopped_at(&self, result: Option<&RunResult>, max_inputs: u64) -> Option<u64> {
        let done = *self == Standing::Current(RunState::Done);
        result.map(|r| r.inputs).filter(|&inputs| done && inputs < max_inputs)
    }

    /// Why a run is stale or damaged, and what to do.
    pub fn detail(&self) -> Option<String> {
        match self {
            Standing::Current(_) => None,
            Standing::Stale(state) => Some(format!(
                "{state} with an older config: the experiment file changed since; \
                 `expgrid run --reset` trains it again with the file's config"
            )),
            Standing::Damaged(message) => Some(message.clone()),
        }
    }
}

/// `run.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    pub status: Status,
    /// Why the run failed.
    #[serde(default)]
    pub error: Option<String>,
    pub expgrid_version: String,
    pub experiment_file: String,
    /// `git rev-parse HEAD` of the repository holding the experiment file, if any.
    #[serde(default)]
    pub git_commit: Option<String>,
    pub matrix_id: String,
    pub matrix_slug: String,
    pub backend: String,
    pub device: String,
    pub seed: u64,
    pub params: usize,
    /// RFC 3339 times.
    #[serde(default)]
    pub started_at: Option<String>,
    #[serde(default)]
    pub finished_at: Option<String>,
    /// The checkpoint's inputs when the latest session started (`None`: no checkpoint).
    #[serde(default)]
    pub session_inputs: Option<u64>,
    /// Sessions in a row whose process died (neither done nor failed recorded) before
    /// saving a new checkpoint.
    #[serde(default)]
    pub deaths: u32,
    /// The machine that trained the run last, and the Slurm job (`SLURM_JOB_ID`,
    /// `SLURM_ARRAY_JOB_ID`, `SLURM_ARRAY_TASK_ID`) when it ran under Slurm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slurm_job_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slurm_array_job_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slurm_array_task_id: Option<String>,
}

/// One row of `metrics.csv`, written at every validation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricsRow {
    /// Training inputs seen so far.
    pub inputs: u64,
    pub epoch: u64,
    /// Mean training loss since the previous validation.
    pub train_loss: f64,
    /// Per-sample mean loss on the validation set.
    pub validation_loss: f64,
    pub accuracy_argmax: f64,
    pub accuracy_svc: Option<f64>,
    pub accuracy_svc_heldout: Option<f64>,
    pub learnrate: f64,
    /// Wall time since the run started (summed over resumed sessions).
    pub elapsed_s: f64,
    /// Training inputs per second, validation excluded.
    pub throughput: f64,
}

impl MetricsRow {
    /// The metric in this row (`None` for `params`, which only `run.json` has).
    pub fn get(&self, metric: Metric) -> Option<f64> {
        match metric {
            Metric::ValidationLoss => Some(self.validation_loss),
            Metric::AccuracyArgmax => Some(self.accuracy_argmax),
            Metric::AccuracySvc => self.accuracy_svc,
            Metric::AccuracySvcHeldout => self.accuracy_svc_heldout,
            Metric::Params => None,
            Metric::TrainTime => Some(self.elapsed_s),
            Metric::Throughput => Some(self.throughput),
        }
    }
}

/// `result.json`: the final numbers of a finished run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    pub inputs: u64,
    pub steps: u64,
    pub validation_loss: f64,
    pub accuracy_argmax: f64,
    pub accuracy_svc: Option<f64>,
    pub accuracy_svc_heldout: Option<f64>,
    /// Training embeddings used by the held-out probe.
    pub probe_samples: Option<usize>,
    pub probe_seconds: Option<f64>,
    pub params: usize,
    /// Training time (validation excluded).
    pub train_time_s: f64,
    pub throughput: f64,
}

/// A run folder.
#[derive(Debug, Clone)]
pub struct RunDir {
    path: PathBuf,
}

/// The lock of a run folder; released when dropped.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

impl RunDir {
    /// The folder of `experiment_name` below `runs_root`. The name may contain `/` but must
    /// stay inside the root.
    pub fn new(runs_root: &Path, experiment_name: &str) -> Result<RunDir> {
        let relative = Path::new(experiment_name);
        let inside = relative.components().all(|c| matches!(c, Component::Normal(_)));
        if experiment_name.is_empty() || !inside {
            bail!(
                "experiment_name `{experiment_name}` is not a relative folder name \
                 (no leading `/`, no `..`): it must name a folder inside the runs directory"
            );
        }
        Ok(RunDir { path: runs_root.join(relative) })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn checkpoint_dir(&self) -> PathBuf {
        self.path.join(CHECKPOINT_DIR)
    }

    /// The previous complete checkpoint, kept until the next one is complete.
    pub fn previous_checkpoint_dir(&self) -> PathBuf {
        self.path.join(PREVIOUS_CHECKPOINT_DIR)
    }

    /// A new, empty temporary folder in the run folder (removed when dropped).
    pub fn temp_dir(&self) -> Result<tempfile::TempDir> {
        tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .tempdir_in(&self.path)
            .with_context(|| format!("cannot write in {}", self.path.display()))
    }

    /// Remove the temporary files and folders that killed writes left behind.
    fn remove_temporaries(&self) -> Result<()> {
        let entries =
            std::fs::read_dir(&self.path).with_context(|| format!("cannot read {}", self.path.display()))?;
        for entry in entries {
            let entry = entry?;
            if !entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
                continue;
            }
            let path = entry.path();
            let removed = if entry.file_type()?.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
            removed.with_context(|| format!("cannot remove the leftover {}", path.display()))?;
        }
        Ok(())
    }

    /// Create the folder (and its parents).
    pub fn create(&self) -> Result<()> {
        std::fs::create_dir_all(&self.path).with_context(|| format!("cannot create {}", self.path.display()))
    }

    /// Remove everything the run wrote (not the lock), to train it again from scratch.
    pub fn clear(&self) -> Result<()> {
        for file in [CONFIG_FILE, INFO_FILE, METRICS_FILE, RESULT_FILE] {
            let path = self.path.join(file);
            match std::fs::remove_file(&path) {
                Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
                    return Err(err).with_context(|| format!("cannot remove {}", path.display()));
                }
                _ => {}
            }
        }
        for checkpoint in [self.checkpoint_dir(), self.previous_checkpoint_dir()] {
            if checkpoint.exists() {
                std::fs::remove_dir_all(&checkpoint)
                    .with_context(|| format!("cannot remove {}", checkpoint.display()))?;
            }
        }
        Ok(())
    }

    /// Take the folder's lock; `None` if another process holds it. The holder owns the
    /// folder, so temporaries found then are leftovers of a killed process and are removed.
    pub fn try_lock(&self) -> Result<Option<RunLock>> {
        self.create()?;
        let path = self.path.join(LOCK_FILE);
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        // Readers (`plan`, `report`, `serve`) probe the lock with a momentary shared lock
        // (`is_locked`); a trainer holds it for the whole run. So a refusal is retried for a
        // moment before it counts as another process training the run.
        for attempt in 0..LOCK_ATTEMPTS {
            match file.try_lock() {
                Ok(()) => {
                    self.remove_temporaries()?;
                    return Ok(Some(RunLock { _file: file }));
                }
                Err(std::fs::TryLockError::WouldBlock) if attempt + 1 < LOCK_ATTEMPTS => {
                    std::thread::sleep(LOCK_RETRY);
                }
                Err(std::fs::TryLockError::WouldBlock) => {}
                Err(std::fs::TryLockError::Error(err)) => {
                    return Err(err).with_context(|| format!("cannot lock {}", path.display()));
                }
            }
        }
        Ok(None)
    }

    /// Is the lock held by some process (this one included)?
    fn is_locked(&self) -> bool {
        let Ok(file) = File::open(self.path.join(LOCK_FILE)) else { return false };
        matches!(file.try_lock_shared(), Err(std::fs::TryLockError::WouldBlock))
    }

    /// The run's state from `run.json` and the lock.
    pub fn state(&self) -> Result<RunState> {
        let Some(info) = self.info()? else { return Ok(RunState::Pending) };
        Ok(match info.status {
            Status::Pending => RunState::Pending,
            Status::Done => RunState::Done,
            Status::Failed => RunState::Failed,
            Status::Running if self.is_locked() => RunState::Running,
            Status::Running | Status::Interrupted => RunState::Interrupted,
        })
    }

    /// The run's standing against `resolved`, the file's current config of the run.
    pub fn standing(&self, resolved: &Node) -> Standing {
        let checked = || -> Result<Standing> {
            let state = self.state()?;
            self.metrics()?;
            if state == RunState::Done {
                self.result()?;
            }
            let stale = state != RunState::Pending && self.config_changed(resolved)?;
            Ok(if stale { Standing::Stale(state) } else { Standing::Current(state) })
        };
        checked().unwrap_or_else(|err| Standing::Damaged(format!("{err:#}")))
    }

    pub fn info(&self) -> Result<Option<RunInfo>> {
        read_json(&self.path.join(INFO_FILE))
    }

    pub fn write_info(&self, info: &RunInfo) -> Result<()> {
        write_json(&self.path.join(INFO_FILE), info)
    }

    pub fn result(&self) -> Result<Option<RunResult>> {
        read_json(&self.path.join(RESULT_FILE))
    }

    pub fn write_result(&self, result: &RunResult) -> Result<()> {
        write_json(&self.path.join(RESULT_FILE), result)
    }

    /// The stored resolved config, as a plain value for comparison.
    pub fn config(&self) -> Result<Option<serde_json::Value>> {
        let path = self.path.join(CONFIG_FILE);
        let Some(text) = read_optional(&path)? else { return Ok(None) };
        let value = serde_saphyr::from_str(&text).with_context(|| {
            format!(
                "{} is damaged, so the config the run was trained with is unknown: \
                 `expgrid run --reset` trains it again",
                path.display()
            )
        })?;
        Ok(Some(value))
    }

    pub fn write_config(&self, resolved: &Node) -> Result<()> {
        let text = serde_saphyr::to_string(resolved).context("cannot write the config as YAML")?;
        write_atomic(&self.path.join(CONFIG_FILE), text.as_bytes())
    }

    /// Does the stored config differ from `resolved` in anything that affects training?
    /// (`report:` and `slurm:` do not; no stored config: no.)
    pub fn config_changed(&self, resolved: &Node) -> Result<bool> {
        let Some(stored) = self.config()? else { return Ok(false) };
        let training = |mut config: serde_json::Value| {
            if let Some(map) = config.as_object_mut() {
                map.remove("report");
                map.remove("slurm");
            }
            config
        };
        Ok(training(stored) != training(serde_json::to_value(resolved)?))
    }

    pub fn metrics(&self) -> Result<Vec<MetricsRow>> {
        let path = self.path.join(METRICS_FILE);
        let Some(text) = read_optional(&path)? else { return Ok(Vec::new()) };
        csv::Reader::from_reader(text.as_bytes())
            .deserialize()
            .collect::<Result<_, _>>()
            .with_context(|| format!("{} is damaged: {REPAIR}", path.display()))
    }

    /// Rewrite `metrics.csv` with `rows` (atomically; the file is small).
    pub fn write_metrics(&self, rows: &[MetricsRow]) -> Result<()> {
        let mut writer = csv::Writer::from_writer(Vec::new());
        for row in rows {
            writer.serialize(row)?;
        }
        write_atomic(&self.path.join(METRICS_FILE), &writer.into_inner()?)
    }
}

/// Write `bytes` to `path` atomically: a temporary file beside it, flushed, then renamed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut builder = tempfile::Builder::new();
    builder.prefix(TEMP_PREFIX);
    // Plain files for the user and their tools (a temporary file would otherwise be 0600).
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644));
    let mut tmp = builder.tempfile_in(dir).with_context(|| format!("cannot write in {}", dir.display()))?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).with_context(|| format!("cannot write {}", path.display()))?;
    sync_dir(dir)
}

/// Make the renames in `dir` durable (a crash of the machine cannot undo them).
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).with_context(|| format!("cannot sync {}", dir.display()))
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    write_atomic(path, text.as_bytes())
}

fn read_json<T: DeserializeOwned>(path: &Path) -> Result<Option<T>> {
    let Some(text) = read_optional(path)? else { return Ok(None) };
    let value =
        serde_json::from_str(&text).with_context(|| format!("{} is damaged: {REPAIR}", path.display()))?;
    Ok(Some(value))
}

fn read_optional(path: &Path) -> Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(err).with_context(|| format!("cannot read {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(inputs: u64) -> MetricsRow {
        MetricsRow {
            inputs,
            epoch: 1,
            train_loss: 0.5,
            validation_loss: 0.25,
            accuracy_argmax: 0.75,
            accuracy_svc: None,
            accuracy_svc_heldout: Some(0.5),
            learnrate: 1e-3,
            elapsed_s: 2.0,
            throughput: 100.0,
        }
    }

    #[test]
    fn names_must_stay_inside_the_runs_folder() {
        let root = Path::new("runs");
        assert!(RunDir::new(root, "aug/fmnist_a").is_ok());
        for bad in ["", "../x", "/abs", "a/../../b"] {
            assert!(RunDir::new(root, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn metrics_round_trip_and_missing_files_read_as_empty() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = RunDir::new(tmp.path(), "a/b").unwrap();
        assert!(dir.metrics().unwrap().is_empty());
        assert_eq!(dir.state().unwrap(), RunState::Pending);
        dir.write_metrics(&[row(10), row(20)]).unwrap();
        assert_eq!(dir.metrics().unwrap(), vec![row(10), row(20)]);
    }

    #[test]
    fn a_running_run_without_its_lock_is_interrupted() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = RunDir::new(tmp.path(), "r").unwrap();
        let info = RunInfo {
            status: Status::Running,
            error: None,
            expgrid_version: "0".into(),
            experiment_file: "x.yml".into(),
            git_commit: None,
            matrix_id: "1".into(),
            matrix_slug: "a-1".into(),
            backend: "flex".into(),
            device: "cpu".into(),
            seed: 0,
            params: 10,
            started_at: None,
            finished_at: None,
            session_inputs: None,
            deaths: 0,
            host: None,
            slurm_job_id: None,
            slurm_array_job_id: None,
            slurm_array_task_id: None,
        };
        dir.write_info(&info).unwrap();
        let lock = dir.try_lock().unwrap().expect("free");
        assert_eq!(dir.state().unwrap(), RunState::Running);
        assert!(dir.try_lock().unwrap().is_none(), "a second lock is refused");
        drop(lock);
        assert_eq!(dir.state().unwrap(), RunState::Interrupted);
    }

    #[test]
    fn a_readers_momentary_probe_does_not_refuse_the_lock() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = RunDir::new(tmp.path(), "r").unwrap();
        drop(dir.try_lock().unwrap().expect("free"));
        // A reader (plan, report, serve) holds a shared lock for a moment while `run` starts.
        let probe = File::open(dir.path().join(LOCK_FILE)).unwrap();
        probe.lock_shared().unwrap();
        let reader = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(60));
            drop(probe);
        });
        assert!(dir.try_lock().unwrap().is_some(), "the trainer waits out the probe");
        reader.join().unwrap();
    }

    #[test]
    fn taking_the_lock_removes_leftover_temporaries_only() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = RunDir::new(tmp.path(), "r").unwrap();
        dir.write_metrics(&[row(10)]).unwrap();
        let leftover = dir.temp_dir().unwrap().keep();
        std::fs::write(leftover.join("model.bpk"), b"half").unwrap();
        std::fs::write(dir.path().join(".tmp-x1y2z3"), b"half").unwrap();
        let _lock = dir.try_lock().unwrap().expect("free");
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, [".lock", METRICS_FILE]);
    }

    #[test]
    fn a_run_json_without_host_and_slurm_fields_still_reads() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = RunDir::new(tmp.path(), "old").unwrap();
        let old = r#"{"status": "interrupted", "expgrid_version": "0.1.0", "experiment_file": "x.yml",
            "matrix_id": "1", "matrix_slug": "", "backend": "flex", "device": "cpu", "seed": 0, "params": 5}"#;
        write_atomic(&dir.path().join(INFO_FILE), old.as_bytes()).unwrap();
        let info = dir.info().unwrap().unwrap();
        assert_eq!((info.host, info.slurm_job_id, info.slurm_array_task_id), (None, None, None));
        assert_eq!(dir.state().unwrap(), RunState::Interrupted);
    }
}
