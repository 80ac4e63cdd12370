//! `expgrid run`: choose the runs to train, lock their folders, train them (several at once
//! with `-j`), record done or failed, and summarise.
//!
//! A run is trained when it is pending, interrupted (resumed from its checkpoint) or failed
//! (retried from its last checkpoint). A done run is skipped; with `--reset` it is trained
//! again from scratch. A done or interrupted run whose resolved config changed since it
//! started is stale: not touched without `--reset`, so results of two configs never mix.
//! A run with a damaged file is resumed from its checkpoint, which rewrites the files.
//! A panic inside a run fails that run only; a run whose process died `MAX_DEATHS` times in
//! a row before its next checkpoint is failed and retried only when `--only` selects it.
//!
//! With `--shard I/N` only the runs of that shard are considered (`crate::cluster::shard`).
//! Files with `$halving` train rung by rung, each run to its rung's budget ([`halving`]).
//! After a stop request (`crate::stop`) no further run starts, and the running ones end at
//! their next step with a checkpoint, recorded as interrupted.

pub mod halving;
pub mod progress;

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};

use anyhow::{Context, Result};

use crate::backend::SelectedDevice;
use crate::cluster::{Env, Shard};
use crate::config::{Experiment, PlannedRun};
use crate::rundir::{RunDir, RunInfo, RunResult, RunState, Standing, Status};
use crate::stop::{self, Stopped};
use crate::train::{self, TrainContext};
use progress::MatrixProgress;

/// Options of `expgrid run`.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Root of the run folders.
    pub runs_dir: PathBuf,
    /// Where data sets are looked for first (`--data-dir`).
    pub data_dir: Option<PathBuf>,
    /// `--device`, see `crate::backend`.
    pub device: SelectedDevice,
    /// Runs trained at once; the cores are divided between them.
    pub jobs: usize,
    /// Train done runs again, from scratch.
    pub reset: bool,
    /// Only runs whose matrix id, slug or experiment name matches one of these
    /// (ids compare as numbers; slugs and names as globs, e.g. `*head-8*`).
    pub only: Vec<String>,
    /// Only this shard of the selected runs (`--shard`).
    pub shard: Option<Shard>,
    /// `--rung K`: only rung K of `$halving` files (see [`halving`]).
    pub rung: Option<usize>,
}

/// One run to train, and the inputs to stop it at (its `max_inputs`, or a `$halving` rung).
#[derive(Debug, Clone, Copy)]
pub struct Job<'a> {
    pub exp: &'a Experiment,
    pub run: &'a PlannedRun,
    pub stop_at: u64,
}

/// What happened to one run.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Trained(RunResult),
    Skipped(String),
    /// Not trained: its folder holds a run of an older config.
    Stale(String),
    Failed(String),
    /// Stopped by a signal (its checkpoint saved), or not started because of one.
    Interrupted(String),
}

/// One line of the summary.
#[derive(Debug, Clone)]
pub struct RunReport {
    pub experiment_name: String,
    pub outcome: Outcome,
}

/// The runs `expgrid run` considers, in plan order: those `only` matches (all if it is
/// empty; a pattern that matches nothing is an error), then those of `shard`, dealt by their
/// position among the matched runs.
pub fn select<'a>(
    experiments: &'a [Experiment],
    only: &[String],
    shard: Option<Shard>,
) -> Result<Vec<(&'a Experiment, &'a PlannedRun)>> {
    Ok(select_from(full_runs(experiments), only, shard)?.into_iter().map(|job| (job.exp, job.run)).collect())
}

/// Every run of `experiments`, each to its `max_inputs`.
fn full_runs(experiments: &[Experiment]) -> Vec<Job<'_>> {
    let runs = experiments.iter().flat_map(|exp| exp.runs.iter().map(move |run| (exp, run)));
    runs.map(|(exp, run)| Job { exp, run, stop_at: run.config.max_inputs }).collect()
}

/// [`select`] among `candidates` (a `$halving` rung's runs).
pub fn select_from<'a>(
    candidates: Vec<Job<'a>>,
    only: &[String],
    shard: Option<Shard>,
) -> Result<Vec<Job<'a>>> {
    let only = Selection::new(only)?;
    if let Some((text, _)) =
        only.patterns.iter().find(|p| !candidates.iter().any(|job| Selection::matches_one(p, job.run)))
    {
        anyhow::bail!(
            "--only {text} matches no run: give a matrix id, a slug or an experiment name (globs allowed), \
             and repeat --only for several (`--only 1 --only 4`); `expgrid plan FILE` lists them"
        );
    }
    Ok(candidates
        .into_iter()
        .filter(|job| only.matches(job.run))
        .enumerate()
        .filter(|(position, _)| shard.is_none_or(|shard| shard.contains(*position)))
        .map(|(_, job)| job)
        .collect())
}

/// Train the selected runs of all experiments; the reports are in matrix order. Files with
/// `$halving` train rung by rung ([`halving::run_rungs`]).
pub fn run_all(experiments: &[Experiment], options: &RunOptions) -> Result<Vec<RunReport>> {
    if options.rung.is_some() || experiments.iter().any(|exp| exp.halving.is_some()) {
        return halving::run_rungs(experiments, options);
    }
    Ok(train_jobs(select_from(full_runs(experiments), &options.only, options.shard)?, options))
}

/// Train `jobs` with `options.jobs` workers; the reports are in the jobs' order.
pub fn train_jobs(jobs: Vec<Job>, options: &RunOptions) -> Vec<RunReport> {
    let progress = MatrixProgress::new(jobs.len());
    let queue = Mutex::new(jobs.iter().enumerate().collect::<VecDeque<_>>());
    let reports = Mutex::new(vec![None; jobs.len()]);
    let workers = options.jobs.clamp(1, jobs.len().max(1));
    let threads_per_job = (Env::process().cores() / workers).max(1);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads_per_job).build();
                // A panic never holds these locks (runs are isolated by `catch_unwind`), but
                // a poisoned lock must not stop the other workers either.
                let next = || queue.lock().unwrap_or_else(PoisonError::into_inner).pop_front();
                while let Some((index, job)) = next() {
                    let outcome = match (&pool, stop::requested()) {
                        (_, Some(signal)) => {
                            Outcome::Interrupted(format!("not started: stopped by {}", signal.name()))
                        }
                        (Ok(pool), None) => pool.install(|| run_one(job, options, &progress)),
                        (Err(err), None) => Outcome::Failed(format!("cannot start worker threads: {err}")),
                    };
                    let report =
                        RunReport { experiment_name: job.run.config.experiment_name.clone(), outcome };
                    reports.lock().unwrap_or_else(PoisonError::into_inner)[index] = Some(report);
                }
            });
        }
    });
    progress.finish();
    reports.into_inner().unwrap_or_else(PoisonError::into_inner).into_iter().flatten().collect()
}

/// Decide about, lock, and train one run. Errors become a failed outcome.
fn run_one(job: &Job, options: &RunOptions, progress: &MatrixProgress) -> Outcome {
    let Job { run, stop_at, .. } = *job;
    let name = &run.config.experiment_name;
    let dir = match RunDir::new(&options.runs_dir, name) {
        Ok(dir) => dir,
        Err(err) => return Outcome::Failed(format!("{err:#}")),
    };
    let lock = match dir.try_lock() {
        Ok(Some(lock)) => lock,
        Ok(None) => return Outcome::Skipped("another process is training it".into()),
        // A read-only runs folder cannot be locked, but what is finished there is finished.
        Err(err) => {
            return match dir.standing(&run.resolved) {
                Standing::Current(RunState::Done) if done_inputs(&dir) >= stop_at => {
                    Outcome::Skipped("done".into())
                }
                stale @ Standing::Stale(_) => Outcome::Stale(stale.detail().unwrap_or_default()),
                _ => Outcome::Failed(format!("{err:#}")),
            };
        }
    };
    let explicit = !options.only.is_empty();
    let (start_inputs, note, deaths) = match prepare(&dir, run, stop_at, options.reset, explicit) {
        Ok(Decision::Train { inputs_done, note, deaths }) => (inputs_done, note, deaths),
        Ok(Decision::Skip(reason)) => return Outcome::Skipped(reason),
        Ok(Decision::Stale(reason)) => return Outcome::Stale(reason),
        Ok(Decision::Fail(reason)) => return Outcome::Failed(reason),
        Err(err) => return Outcome::Failed(format!("{err:#}")),
    };
    let run_progress = progress.start_run(name, stop_at, start_inputs);
    if let Some(note) = note {
        run_progress.log(&note);
    }
    let trained = std::panic::catch_unwind(AssertUnwindSafe(|| {
        train_locked(job, &dir, options, &run_progress, deaths)
    }))
    .unwrap_or_else(|panic| Err(anyhow::anyhow!("panicked: {}", panic_message(panic.as_ref()))));
    let outcome = match trained {
        Ok(result) => Outcome::Trained(result),
        Err(err) if err.downcast_ref::<Stopped>().is_some() => {
            let message = format!("{err:#}");
            if let Err(mark_err) = mark(&dir, Status::Interrupted, None) {
                run_progress.log(&format!("cannot record the interruption: {mark_err:#}"));
            }
            Outcome::Interrupted(message)
        }
        Err(err) => {
            let message = failure_message(&err);
            if let Err(mark_err) = mark(&dir, Status::Failed, Some(&message)) {
                run_progress.log(&format!("cannot record the failure: {mark_err:#}"));
            }
            Outcome::Failed(message)
        }
    };
    let summary = match &outcome {
        Outcome::Trained(r) => {
            format!("done: validation loss {:.5}, accuracy {:.4}", r.validation_loss, r.accuracy_argmax)
        }
        Outcome::Skipped(reason) => format!("skipped: {reason}"),
        Outcome::Stale(reason) => format!("stale: {reason}"),
        Outcome::Failed(err) => format!("failed: {err}"),
        Outcome::Interrupted(message) => format!("interrupted: {message}"),
    };
    progress.finish_run(run_progress, &summary);
    drop(lock);
    outcome
}

enum Decision {
    /// Train from the checkpoint's inputs; `note` says what is repaired on the way (a damaged
    /// file); `deaths` is carried into `run.json`.
    Train {
        inputs_done: u64,
        note: Option<String>,
        deaths: u32,
    },
    Skip(String),
    Stale(String),
    /// Not trained, and recorded as failed.
    Fail(String),
}

/// A run whose process died this many times in a row before its next checkpoint is not
/// retried without `--only`: each retry would end every other run of the process too.
const MAX_DEATHS: u32 = 3;

/// With the lock held: skip done runs, refuse stale ones, repair damaged ones, give up on
/// runs that keep killing their process (unless `explicit`ly selected), clear the folder on
/// reset.
fn prepare(dir: &RunDir, run: &PlannedRun, stop_at: u64, reset: bool, explicit: bool) -> Result<Decision> {
    if reset {
        dir.clear()?;
        return Ok(Decision::Train { inputs_done: 0, note: None, deaths: 0 });
    }
    // Without a readable config.yaml nobody knows what the checkpoint was trained with.
    dir.config()?;
    let inputs = train::checkpoint_inputs(dir);
    let resume = |note, deaths| Decision::Train { inputs_done: inputs.unwrap_or(0), note, deaths };
    let state = match dir.standing(&run.resolved) {
        Standing::Current(RunState::Done) if done_inputs(dir) >= stop_at => {
            return Ok(Decision::Skip("done".into()));
        }
        // Stopped at a `$halving` rung and now promoted: it continues from its checkpoint.
        Standing::Current(RunState::Done) => {
            return Ok(resume(Some(format!("promoted: continues to {stop_at} inputs")), 0));
        }
        stale @ Standing::Stale(_) => return Ok(Decision::Stale(stale.detail().unwrap_or_default())),
        Standing::Damaged(message) => return Ok(resume(Some(format!("repairing: {message}")), 0)),
        Standing::Current(state) => state,
    };
    // Interrupted in a later `$halving` rung: that rung continues it, not this one.
    if let Some(inputs) = inputs.filter(|&inputs| inputs >= stop_at && stop_at < run.config.max_inputs) {
        return Ok(Decision::Skip(format!("past this rung ({inputs} inputs): its next rung continues it")));
    }
    let Some(mut info) = dir.info()? else { return Ok(resume(None, 0)) };
    // `running` while this process holds the lock: the process that trained it died.
    info.deaths = match state {
        RunState::Running if info.session_inputs == inputs => info.deaths + 1,
        RunState::Failed => info.deaths,
        _ => 0,
    };
    if info.deaths < MAX_DEATHS || explicit {
        return Ok(resume(None, info.deaths));
    }
    let message = format!(
        "the process training it died {} times in a row before its next checkpoint (at {} inputs): \
         a crash, an abort or out of memory? It is not retried automatically; \
         `expgrid run --only {}` retries it",
        info.deaths,
        inputs.unwrap_or(0),
        run.matrix_id
    );
    info.status = Status::Failed;
    info.error = Some(message.clone());
    dir.write_info(&info)?;
    Ok(Decision::Fail(message))
}

/// The inputs a done run was trained to (a `$halving` rung or its `max_inputs`).
fn done_inputs(dir: &RunDir) -> u64 {
    dir.result().ok().flatten().map_or(0, |result| result.inputs)
}

/// The error of a failed run, with what to do when the disk is full.
fn failure_message(err: &anyhow::Error) -> String {
    let io_kind =
        |cause: &(dyn std::error::Error + 'static)| cause.downcast_ref::<std::io::Error>().map(|e| e.kind());
    if err.chain().any(|cause| io_kind(cause) == Some(std::io::ErrorKind::StorageFull)) {
        format!(
            "{err:#} (the disk is full: free space, then `expgrid run` resumes from the last complete checkpoint)"
        )
    } else {
        format!("{err:#}")
    }
}

/// The message of a caught panic (`panic!` gives a `&str` or a `String`).
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    match (payload.downcast_ref::<&str>(), payload.downcast_ref::<String>()) {
        (Some(text), _) => text.to_string(),
        (_, Some(text)) => text.clone(),
        _ => "(no message)".into(),
    }
}

/// Record the start, train, record the result.
fn train_locked(
    job: &Job,
    dir: &RunDir,
    options: &RunOptions,
    progress: &progress::RunProgress,
    deaths: u32,
) -> Result<RunResult> {
    let Job { exp, run, stop_at } = *job;
    dir.write_config(&run.resolved)?;
    // A damaged run.json is replaced (its start time is lost).
    let previous = dir.info().ok().flatten();
    let slurm = Env::process().slurm_job();
    let mut info = RunInfo {
        status: Status::Running,
        error: None,
        expgrid_version: env!("CARGO_PKG_VERSION").to_string(),
        experiment_file: exp.file.display().to_string(),
        git_commit: git_commit(&exp.file),
        matrix_id: run.matrix_id.clone(),
        matrix_slug: run.matrix_slug.clone(),
        backend: options.device.backend_name(),
        device: options.device.name().to_string(),
        seed: run.config.seed,
        params: run.params()?,
        started_at: previous.and_then(|p| p.started_at).or_else(|| Some(now())),
        finished_at: None,
        session_inputs: train::checkpoint_inputs(dir),
        deaths,
        host: gethostname::gethostname().into_string().ok(),
        slurm_job_id: slurm.as_ref().map(|job| job.job_id.clone()),
        slurm_array_job_id: slurm.as_ref().and_then(|job| job.array_job_id.clone()),
        slurm_array_task_id: slurm.and_then(|job| job.array_task_id),
    };
    dir.write_info(&info)?;
    let context = TrainContext {
        run,
        dir,
        data_dir: options.data_dir.clone(),
        device: &options.device,
        observer: progress,
        stop_at,
    };
    let result = train::train_run(&context)?;
    dir.write_result(&result)?;
    info.status = Status::Done;
    info.finished_at = Some(now());
    dir.write_info(&info)?;
    Ok(result)
}

/// Record that the run ended failed (with `error`) or interrupted.
fn mark(dir: &RunDir, status: Status, error: Option<&str>) -> Result<()> {
    let Some(mut info) = dir.info()? else { return Ok(()) };
    info.status = status;
    info.error = error.map(str::to_string);
    if status == Status::Failed {
        info.finished_at = Some(now());
    }
    dir.write_info(&info)
}

/// The current time in RFC 3339 (UTC, seconds).
fn now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// `git rev-parse HEAD` in the experiment file's folder, if it is in a repository.
fn git_commit(file: &std::path::Path) -> Option<String> {
    let dir = file.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    let output =
        std::process::Command::new("git").arg("-C").arg(dir).args(["rev-parse", "HEAD"]).output().ok()?;
    output.status.success().then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// `--only` patterns.
struct Selection {
    patterns: Vec<(String, glob::Pattern)>,
}

impl Selection {
    fn new(only: &[String]) -> Result<Selection> {
        let patterns = only
            .iter()
            .map(|p| {
                Ok((
                    p.clone(),
                    glob::Pattern::new(p).with_context(|| format!("--only {p}: not a valid pattern"))?,
                ))
            })
            .collect::<Result<_>>()?;
        Ok(Selection { patterns })
    }

    fn matches(&self, run: &PlannedRun) -> bool {
        self.patterns.is_empty() || self.patterns.iter().any(|p| Self::matches_one(p, run))
    }

    fn matches_one((text, pattern): &(String, glob::Pattern), run: &PlannedRun) -> bool {
        let same_id =
            matches!((text.parse::<usize>(), run.matrix_id.parse::<usize>()), (Ok(a), Ok(b)) if a == b);
        same_id || pattern.matches(&run.matrix_slug) || pattern.matches(&run.config.experiment_name)
    }
}
