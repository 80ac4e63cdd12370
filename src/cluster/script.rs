//! The sbatch script of `expgrid slurm`: a job array with one task per run, the task → run
//! table written into the script, and `exec expgrid run FILE --only ID` per task.
//!
//! Fixed at submission: which task trains which run (an edited experiment file does not move
//! a task to another run; a run whose config changed is refused by `expgrid run` itself).
//! `--requeue` and `--open-mode=append` let a preempted or timed-out task come back and
//! append to its log; `--signal=B:USR1@grace` warns the batch shell, which `exec` replaced
//! by expgrid, so expgrid saves a checkpoint and requeues the task (`super::requeue`).

use std::fmt::Write;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use crate::config::slurm::SlurmSpec;

/// Seconds before the time limit at which Slurm sends SIGUSR1, unless `grace` says otherwise.
pub const DEFAULT_GRACE_S: u32 = 120;

/// One array task: a run of an experiment file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRun {
    /// The experiment file as given on the command line.
    pub file: PathBuf,
    pub matrix_id: String,
    pub experiment_name: String,
    /// The `$halving` rung it trains (`expgrid run --rung K`); `None` without `$halving`.
    pub rung: Option<usize>,
}

/// What every task's `expgrid run` gets, and where things go.
#[derive(Debug, Clone)]
pub struct ScriptContext {
    /// The expgrid executable the tasks run.
    pub expgrid: PathBuf,
    /// The folder the job runs in (`--chdir`); relative paths below are relative to it.
    pub workdir: PathBuf,
    pub runs_dir: PathBuf,
    /// The folder of the task logs (must exist when the job starts).
    pub log_dir: PathBuf,
    pub data_dir: Option<PathBuf>,
    pub device: String,
    /// `--max-combinations`, when not the default.
    pub max_combinations: Option<usize>,
    pub job_name: String,
}

/// The script for `tasks` (array indices 0..tasks.len()); they share one `rung`.
pub fn script(settings: &SlurmSpec, tasks: &[TaskRun], context: &ScriptContext) -> Result<String> {
    if tasks.is_empty() {
        bail!("a job array needs at least one run");
    }
    let mut array = format!("0-{}", tasks.len() - 1);
    if let Some(parallel) = settings.max_parallel {
        if parallel == 0 {
            bail!("max_parallel must be at least 1");
        }
        write!(array, "%{parallel}")?;
    }
    let grace = settings.grace.unwrap_or(DEFAULT_GRACE_S);
    let mut options = vec![
        format!("--job-name={}", sbatch_value("job name", &context.job_name)?),
        format!("--array={array}"),
        "--requeue".to_string(),
        "--open-mode=append".to_string(),
        format!("--signal=B:USR1@{grace}"),
        format!("--output={}", sbatch_value("log folder", &path_text(&context.log_dir.join("%A_%a.log"))?)?),
        format!("--chdir={}", sbatch_value("working folder", &path_text(&context.workdir)?)?),
    ];
    let text_options = [("partition", &settings.partition), ("time", &settings.time), ("mem", &settings.mem)];
    for (name, value) in text_options {
        if let Some(value) = value {
            options.push(format!("--{name}={}", sbatch_value(name, value)?));
        }
    }
    let number_options =
        [("cpus-per-task", settings.cpus_per_task), ("gpus-per-task", settings.gpus_per_task)];
    for (name, value) in number_options {
        if let Some(value) = value {
            options.push(format!("--{name}={value}"));
        }
    }
    for arg in &settings.sbatch {
        options.push(single_line("sbatch", arg)?.to_string());
    }

    let mut text = String::new();
    writeln!(text, "#!/bin/bash")?;
    writeln!(
        text,
        "# Written by `expgrid slurm` (expgrid {}): one array task per run.",
        env!("CARGO_PKG_VERSION")
    )?;
    for option in &options {
        writeln!(text, "#SBATCH {option}")?;
    }
    writeln!(text)?;
    writeln!(text, "# Array task -> run, fixed when this script was written: editing the experiment file")?;
    writeln!(text, "# later does not move a task to another run (a changed run config is refused).")?;
    writeln!(text, "# Task i logs to {}.", context.log_dir.join("<job id>_<i>.log").display())?;
    writeln!(text, "case \"$SLURM_ARRAY_TASK_ID\" in")?;
    for (index, task) in tasks.iter().enumerate() {
        writeln!(
            text,
            "    {index}) file={} id={} ;;  # {}",
            quote_path(&task.file)?,
            quote(&task.matrix_id)?,
            single_line("experiment_name", &task.experiment_name)?
        )?;
    }
    writeln!(
        text,
        "    *) echo \"expgrid: array task $SLURM_ARRAY_TASK_ID is not in this script's table\" >&2; exit 2 ;;"
    )?;
    writeln!(text, "esac")?;
    writeln!(text)?;
    writeln!(text, "# exec: Slurm's SIGUSR1 reaches expgrid itself, which saves a checkpoint and requeues")?;
    writeln!(text, "# the task; the requeued task resumes the run from that checkpoint.")?;
    let mut command = format!(
        "exec {} run \"$file\" --only \"$id\" --runs-dir {} --device {}",
        quote_path(&context.expgrid)?,
        quote_path(&context.runs_dir)?,
        quote(&context.device)?
    );
    if let Some(data_dir) = &context.data_dir {
        write!(command, " --data-dir {}", quote_path(data_dir)?)?;
    }
    if let Some(rung) = tasks[0].rung {
        write!(command, " --rung {rung}")?;
    }
    if let Some(max) = context.max_combinations {
        write!(command, " --max-combinations {max}")?;
    }
    writeln!(text, "{command}")?;
    Ok(text)
}

/// `value` quoted for bash where it needs it.
fn quote(value: &str) -> Result<String> {
    match shlex::try_quote(value) {
        Ok(quoted) => Ok(quoted.into_owned()),
        Err(_) => bail!("`{value}` cannot be written into a shell script (it contains a NUL byte)"),
    }
}

fn quote_path(path: &Path) -> Result<String> {
    quote(&path_text(path)?)
}

fn path_text(path: &Path) -> Result<String> {
    match path.to_str() {
        Some(text) => Ok(text.to_string()),
        None => bail!("the path {} is not UTF-8", path.display()),
    }
}

/// A value on an `#SBATCH` line: sbatch splits them at white space and takes double quotes.
fn sbatch_value(key: &str, value: &str) -> Result<String> {
    let value = single_line(key, value)?;
    if value.contains('"') {
        bail!("slurm {key} `{value}` contains a double quote, which an #SBATCH line cannot hold");
    }
    Ok(if value.contains(char::is_whitespace) { format!("\"{value}\"") } else { value.to_string() })
}

/// A value that must stay on its `#SBATCH` (or comment) line.
fn single_line<'a>(key: &str, value: &'a str) -> Result<&'a str> {
    if value.chars().any(char::is_control) {
        bail!(
            "slurm {key} `{}` contains a line break or control character; give it on one line",
            value.escape_debug()
        );
    }
    Ok(value)
}
