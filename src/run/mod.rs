//! `expgrid run`: choose the runs to train, lock their folders, train them (several at once
//! with `-j`), record done or failed, and summarise.
//!
//! A run is trained when it is pending, interrupted (resumed from its checkpoint) or failed
//! (retried from its last checkpoint). A done run is skipped; with `--reset` it is trained
//! again from scratch. A done or interrupted run whose resolved config changed since it
//! started is not touched without `--reset`, so results of two configs never mix.
//!
//! With `--shard I/N` only the runs of that shard are considered (`crate::cluster::shard`).
//! After a stop request (`crate::stop`) no further run starts, and the running ones end at
//! their next step with a checkpoint, recorded as interrupted.

pub mod progress;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Mutex;

use anyhow::{Context, Result};

use crate::cluster::{Env, Shard};
use crate::config::{Experiment, PlannedRun};
use crate::rundir::{RunDir, RunInfo, RunResult, RunState, Status};
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
    pub device: String,
    /// Runs trained at once; the cores are divided between them.
    pub jobs: usize,
    /// Train done runs again, from scratch.
    pub reset: bool,
    /// Only runs whose matrix id, slug or experiment name matches one of these
    /// (ids compare as numbers; slugs and names as globs, e.g. `*head-8*`).
    pub only: Vec<String>,
    /// Only this shard of the selected runs (`--shard`).
    pub shard: Option<Shard>,
}

/// What happened to one run.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Trained(RunResult),
    Skipped(String),
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
/// empty), then those of `shard`, dealt by their position among the matched runs.
pub fn select_runs<'a>(
    experiments: &'a [Experiment],
    only: &[String],
    shard: Option<Shard>,
) -> Result<Vec<(&'a Experiment, &'a PlannedRun)>> {
    let only = Selection::new(only)?;
    let all_runs = || experiments.iter().flat_map(|exp| exp.runs.iter().map(move |run| (exp, run)));
    if let Some((text, _)) =
        only.patterns.iter().find(|p| !all_runs().any(|(_, run)| Selection::matches_one(p, run)))
    {
        anyhow::bail!(
            "--only {text} matches no run: give a matrix id, a slug or an experiment name (globs allowed), \
             and repeat --only for several (`--only 1 --only 4`); `expgrid plan FILE` lists them"
        );
    }
    Ok(all_runs()
        .filter(|(_, run)| only.matches(run))
        .enumerate()
        .filter(|(position, _)| shard.is_none_or(|shard| shard.contains(*position)))
        .map(|(_, job)| job)
        .collect())
}

/// Train the selected runs of all experiments; the reports are in matrix order.
pub fn run_all(experiments: &[Experiment], options: &RunOptions) -> Result<Vec<RunReport>> {
    let jobs = select_runs(experiments, &options.only, options.shard)?;
    let progress = MatrixProgress::new(jobs.len());
    let queue = Mutex::new(jobs.iter().enumerate().collect::<VecDeque<_>>());
    let reports = Mutex::new(vec![None; jobs.len()]);
    let workers = options.jobs.clamp(1, jobs.len().max(1));
    let threads_per_job = (Env::process().cores() / workers).max(1);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads_per_job).build();
                while let Some((index, (exp, run))) = queue.lock().expect("queue").pop_front() {
                    let outcome = match (&pool, stop::requested()) {
                        (_, Some(signal)) => {
                            Outcome::Interrupted(format!("not started: stopped by {}", signal.name()))
                        }
                        (Ok(pool), None) => pool.install(|| run_one(exp, run, options, &progress)),
                        (Err(err), None) => Outcome::Failed(format!("cannot start worker threads: {err}")),
                    };
                    let report = RunReport { experiment_name: run.config.experiment_name.clone(), outcome };
                    reports.lock().expect("reports")[index] = Some(report);
                }
            });
        }
    });
    progress.finish();
    Ok(reports.into_inner().expect("reports").into_iter().flatten().collect())
}

/// Decide about, lock, and train one run. Errors become a failed outcome.
fn run_one(exp: &Experiment, run: &PlannedRun, options: &RunOptions, progress: &MatrixProgress) -> Outcome {
    let name = &run.config.experiment_name;
    let dir = match RunDir::new(&options.runs_dir, name) {
        Ok(dir) => dir,
        Err(err) => return Outcome::Failed(format!("{err:#}")),
    };
    let lock = match dir.try_lock() {
        Ok(Some(lock)) => lock,
        Ok(None) => return Outcome::Skipped("another process is training it".into()),
        Err(err) => return Outcome::Failed(format!("{err:#}")),
    };
    let prepared = prepare(&dir, run, options.reset);
    let start_inputs = match prepared {
        Ok(Decision::Train { inputs_done }) => inputs_done,
        Ok(Decision::Skip(reason)) => return Outcome::Skipped(reason),
        Err(err) => return Outcome::Failed(format!("{err:#}")),
    };
    let run_progress = progress.start_run(name, run.config.max_inputs, start_inputs);
    let outcome = match train_locked(exp, run, &dir, options, &run_progress) {
        Ok(result) => Outcome::Trained(result),
        Err(err) if err.downcast_ref::<Stopped>().is_some() => {
            let message = format!("{err:#}");
            if let Err(mark_err) = mark(&dir, Status::Interrupted, None) {
                run_progress.log(&format!("cannot record the interruption: {mark_err:#}"));
            }
            Outcome::Interrupted(message)
        }
        Err(err) => {
            let message = format!("{err:#}");
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
        Outcome::Failed(err) => format!("failed: {err}"),
        Outcome::Interrupted(message) => format!("interrupted: {message}"),
    };
    progress.finish_run(run_progress, &summary);
    drop(lock);
    outcome
}

enum Decision {
    Train { inputs_done: u64 },
    Skip(String),
}

/// With the lock held: skip done runs, refuse changed configs, clear the folder on reset.
fn prepare(dir: &RunDir, run: &PlannedRun, reset: bool) -> Result<Decision> {
    if reset {
        dir.clear()?;
        return Ok(Decision::Train { inputs_done: 0 });
    }
    let state = dir.state()?;
    let changed = dir.config_changed(&run.resolved)?;
    match state {
        RunState::Done if changed => Ok(Decision::Skip(
            "done, but its config changed since: run with --reset to train it again with the new config"
                .into(),
        )),
        RunState::Done => Ok(Decision::Skip("done".into())),
        RunState::Interrupted | RunState::Failed if changed => Ok(Decision::Skip(format!(
            "{state}, and its config changed since: run with --reset to start it again with the new config"
        ))),
        _ => Ok(Decision::Train { inputs_done: train::checkpoint_inputs(dir)?.unwrap_or(0) }),
    }
}

/// Record the start, train, record the result.
fn train_locked(
    exp: &Experiment,
    run: &PlannedRun,
    dir: &RunDir,
    options: &RunOptions,
    progress: &progress::RunProgress,
) -> Result<RunResult> {
    dir.write_config(&run.resolved)?;
    let previous = dir.info()?;
    let slurm = Env::process().slurm_job();
    let mut info = RunInfo {
        status: Status::Running,
        error: None,
        expgrid_version: env!("CARGO_PKG_VERSION").to_string(),
        experiment_file: exp.file.display().to_string(),
        git_commit: git_commit(&exp.file),
        matrix_id: run.matrix_id.clone(),
        matrix_slug: run.matrix_slug.clone(),
        backend: crate::backend::backend_name(&options.device).map_err(anyhow::Error::msg)?,
        device: options.device.clone(),
        seed: run.config.seed,
        params: train::params(run)?,
        started_at: previous.and_then(|p| p.started_at).or_else(|| Some(now())),
        finished_at: None,
        host: gethostname::gethostname().into_string().ok(),
        slurm_job_id: slurm.as_ref().map(|job| job.job_id.clone()),
        slurm_array_job_id: slurm.as_ref().and_then(|job| job.array_job_id.clone()),
        slurm_array_task_id: slurm.and_then(|job| job.array_task_id),
    };
    dir.write_info(&info)?;
    let context =
        TrainContext { run, dir, data_dir: options.data_dir.clone(), device: &options.device, progress };
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
