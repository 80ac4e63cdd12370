//! `expgrid slurm`: the runs that are not done, grouped by their Slurm settings, split at the
//! cluster's `MaxArraySize`, written as sbatch scripts under `<runs dir>/slurm/` and submitted
//! (or, with `--dry-run`, printed). Of a `$halving` file, only the runs of its first
//! unfinished rung: the user runs `expgrid slurm` again for the next one.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use indexmap::IndexMap;

use super::script::{self, ScriptContext, TaskRun};
use crate::backend::SelectedDevice;
use crate::config::halving::Halving;
use crate::config::slurm::SlurmSpec;
use crate::config::{Experiment, PlannedRun};
use crate::rundir::{RunDir, RunState};
use crate::rungs::Ladder;

/// Slurm's default `MaxArraySize`, used when `scontrol show config` cannot say.
pub const DEFAULT_MAX_ARRAY_SIZE: usize = 1001;

/// Options of `expgrid slurm`.
#[derive(Debug, Clone)]
pub struct SlurmOptions {
    /// The flags; each one set wins over the file's `slurm:` mapping.
    pub settings: SlurmSpec,
    pub runs_dir: PathBuf,
    pub data_dir: Option<PathBuf>,
    pub device: SelectedDevice,
    /// `--max-combinations` for every task, when the submission raised the limit.
    pub max_combinations: Option<usize>,
}

/// One submission: its script and runs.
#[derive(Debug, Clone)]
pub struct Submission {
    pub script: String,
    pub tasks: Vec<TaskRun>,
}

/// The submissions for the runs of `experiments` that are not done; `notes` says which runs
/// were left out and why.
pub fn plan_submissions(
    experiments: &[Experiment],
    options: &SlurmOptions,
    max_array_size: usize,
    notes: &mut Vec<String>,
) -> Result<Vec<Submission>> {
    let mut groups: IndexMap<(SlurmSpec, Option<usize>), Vec<TaskRun>> = IndexMap::new();
    for exp in experiments {
        let (runs, rung) = match &exp.halving {
            Some(halving) => halving_rung(exp, halving, &options.runs_dir, notes),
            None => (exp.runs.iter().map(|run| (run, run.config.max_inputs)).collect(), None),
        };
        for (run, stop_at) in runs {
            let name = &run.config.experiment_name;
            let dir = RunDir::new(&options.runs_dir, name)?;
            // A `$halving` run is done for its rung once trained to the rung's budget.
            let done = || rung.is_none() || dir.result().ok().flatten().is_some_and(|r| r.inputs >= stop_at);
            let left_out = match dir.state()? {
                RunState::Done if done() => Some("done"),
                RunState::Running => Some("running (another process trains it)"),
                _ if dir.config_changed(&run.resolved)? => {
                    Some("its config changed since it started (`expgrid run --reset` starts it again)")
                }
                _ => None,
            };
            if let Some(reason) = left_out {
                notes.push(format!("{name}: not submitted, {reason}"));
                continue;
            }
            let settings = options.settings.or(&run.config.slurm);
            let task = TaskRun {
                file: exp.file.clone(),
                matrix_id: run.matrix_id.clone(),
                experiment_name: name.clone(),
                rung,
            };
            groups.entry((settings, rung)).or_default().push(task);
        }
    }
    let workdir = std::env::current_dir().context("cannot read the current folder")?;
    let context = ScriptContext {
        expgrid: std::env::current_exe().context("cannot find the expgrid executable")?,
        workdir,
        runs_dir: options.runs_dir.clone(),
        log_dir: log_dir(&options.runs_dir),
        data_dir: options.data_dir.clone(),
        device: options.device.name().to_string(),
        max_combinations: options.max_combinations,
        job_name: job_name(experiments),
    };
    let mut submissions = Vec::new();
    for ((settings, _), tasks) in &groups {
        for chunk in tasks.chunks(max_array_size.max(1)) {
            let script = script::script(settings, chunk, &context)?;
            submissions.push(Submission { script, tasks: chunk.to_vec() });
        }
    }
    Ok(submissions)
}

/// The runs of the first `$halving` rung of `exp` that is not done, and their budget; `notes`
/// says which rung that is and that `expgrid slurm` submits the next one once it finished
/// (a rung's runs depend on the previous rung's results, so they are chosen then).
fn halving_rung<'a>(
    exp: &'a Experiment,
    halving: &Halving,
    runs_dir: &Path,
    notes: &mut Vec<String>,
) -> (Vec<(&'a PlannedRun, u64)>, Option<usize>) {
    let ladder = Ladder::read(exp, halving, runs_dir, usize::MAX);
    let reached = |rung: usize| {
        let budget = ladder.budgets[rung];
        ladder.rungs[rung].iter().all(|&index| {
            let dir = RunDir::new(runs_dir, &exp.runs[index].config.experiment_name).ok();
            dir.and_then(|dir| dir.result().ok().flatten()).is_some_and(|result| result.inputs >= budget)
        })
    };
    let decided = ladder.rungs.len();
    let rung = (0..decided).find(|&rung| !reached(rung)).unwrap_or(decided - 1);
    let (budget, last) = (ladder.budgets[rung], ladder.budgets.len() - 1);
    if rung < last {
        let file = exp.file.display();
        notes.push(format!(
            "{file}: `$halving` rung {rung} of 0..{last} ({budget} inputs); when its jobs have finished, \
             `expgrid slurm {file}` again submits rung {}",
            rung + 1
        ));
    }
    (ladder.rungs[rung].iter().map(|&index| (&exp.runs[index], budget)).collect(), Some(rung))
}

/// The folder of the task logs.
pub fn log_dir(runs_dir: &Path) -> PathBuf {
    runs_dir.join("slurm").join("logs")
}

/// `expgrid-<stem of the first file>`.
fn job_name(experiments: &[Experiment]) -> String {
    let stem = experiments
        .first()
        .and_then(|exp| exp.file.file_stem())
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!("expgrid-{stem}")
}

/// The cluster's `MaxArraySize` from `scontrol show config`, or Slurm's default.
pub fn max_array_size() -> usize {
    let Ok(output) = Command::new("scontrol").args(["show", "config"]).output() else {
        return DEFAULT_MAX_ARRAY_SIZE;
    };
    parse_max_array_size(&String::from_utf8_lossy(&output.stdout)).unwrap_or(DEFAULT_MAX_ARRAY_SIZE)
}

/// `MaxArraySize = 1001` from `scontrol show config`'s text.
fn parse_max_array_size(config: &str) -> Option<usize> {
    config.lines().find_map(|line| {
        let (key, value) = line.split_once('=')?;
        (key.trim() == "MaxArraySize").then(|| value.trim().parse().ok()).flatten()
    })
}

/// Where the scripts of `count` submissions go: `<runs dir>/slurm/<UTC time>[-k].sbatch`,
/// never over an existing file.
pub fn script_paths(runs_dir: &Path, count: usize) -> Vec<PathBuf> {
    let folder = runs_dir.join("slurm");
    let stamp =
        humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string().replace([':', '-'], "");
    (0..count)
        .map(|index| {
            let name = if count == 1 { stamp.clone() } else { format!("{stamp}-{}", index + 1) };
            (0..)
                .map(|k| {
                    folder.join(if k == 0 { format!("{name}.sbatch") } else { format!("{name}.{k}.sbatch") })
                })
                .find(|path| !path.exists())
                .expect("a free name")
        })
        .collect()
}

/// Write `submission`'s script to `path` and submit it with `sbatch`; the job id.
pub fn submit(submission: &Submission, path: &Path, runs_dir: &Path) -> Result<String> {
    let logs = log_dir(runs_dir);
    std::fs::create_dir_all(&logs).with_context(|| format!("cannot create {}", logs.display()))?;
    crate::rundir::write_atomic(path, submission.script.as_bytes())?;
    let output =
        Command::new("sbatch").arg("--parsable").arg(path).output().context(
            "cannot run `sbatch` (is Slurm installed here? `--dry-run` prints the script instead)",
        )?;
    if !output.status.success() {
        bail!(
            "`sbatch {}` failed ({}): {}",
            path.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    // `--parsable` prints `<job id>` or `<job id>;<cluster>`.
    let stdout = String::from_utf8_lossy(&output.stdout);
    Ok(stdout.trim().split(';').next().unwrap_or_default().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_array_size_comes_from_scontrol_show_config() {
        let config = "Configuration data as of 2026-11-30T13:47:30\nMaxArraySize            = 4\nMaxJobCount = 10000\n";
        assert_eq!(parse_max_array_size(config), Some(4));
        assert_eq!(parse_max_array_size("MaxJobCount = 1\n"), None);
    }
}
