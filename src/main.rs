//! The `expgrid` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use expgrid::config::{ConfigErrors, Experiment, Limits};
use expgrid::run::{self, Outcome, RunOptions, RunReport};
use expgrid::{plan, report, serve};

/// Declarative deep-learning experiment matrices: one YAML file lists the values to sweep;
/// expgrid plans, trains and reports every combination.
#[derive(Parser)]
#[command(name = "expgrid", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the runs of experiment files: id, slug, experiment name and matrix values.
    Plan {
        /// Experiment files (YAML).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Root folder of the run folders (for each run's status).
        #[arg(long, default_value = "runs")]
        runs_dir: PathBuf,
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// Train the runs of experiment files: pending ones, interrupted ones (resumed from
    /// their checkpoint) and failed ones; done runs are skipped.
    Run {
        /// Experiment files (YAML).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Root folder of the run folders.
        #[arg(long, default_value = "runs")]
        runs_dir: PathBuf,
        /// Folder searched first for data sets (also: environment variable EXPGRID_DATA).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Compute device: `cpu` (default backend); with the `tch` feature also `cuda`, `cuda:N`.
        #[arg(long, default_value = expgrid::backend::DEFAULT_DEVICE)]
        device: String,
        /// Train this many runs at once; the cores are divided between them.
        #[arg(short = 'j', long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
        jobs: u16,
        /// Train the selected runs again from scratch, done ones included.
        #[arg(long)]
        reset: bool,
        /// Only runs whose matrix id, slug or experiment name matches (globs allowed:
        /// `--only '*head-8*'`); may be repeated.
        #[arg(long)]
        only: Vec<String>,
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// Validate experiment files without listing runs; exit status 1 with every error found.
    Check {
        /// Experiment files (YAML).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// Tables of the runs' results (markdown with plots, CSV or JSON); reads run folders only.
    Report(report::ReportArgs),
    /// Learning curves, or with `--x` a metric against a matrix key (SVG or PNG).
    Plot(report::PlotArgs),
    /// Serve the HTML report on a local web server; the page refreshes itself while runs
    /// train. Reads run folders only.
    Serve(serve::ServeArgs),
}

/// Bounds on loading experiment files (`plan`, `check`, `run`).
#[derive(clap::Args)]
struct LimitArgs {
    /// Refuse a matrix with more combinations than this (before its filter).
    #[arg(long, value_name = "N", default_value_t = Limits::DEFAULT_MAX_COMBINATIONS)]
    max_combinations: usize,
}

impl LimitArgs {
    fn limits(&self) -> Limits {
        Limits { max_combinations: self.max_combinations }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Plan { files, format, runs_dir, limits } => match load_all(&files, limits.limits()) {
            Ok(experiments) => {
                let text = match format {
                    Format::Table => plan::to_table(&experiments, &runs_dir),
                    Format::Json => plan::to_json(&experiments, &runs_dir),
                };
                print_out(text.trim_end())
            }
            Err(errors) => report_errors(&errors),
        },
        Command::Run { files, runs_dir, data_dir, device, jobs, reset, only, limits } => {
            let experiments = match load_all(&files, limits.limits()) {
                Ok(experiments) => experiments,
                Err(errors) => return report_errors(&errors),
            };
            let options = RunOptions { runs_dir, data_dir, device, jobs: jobs.into(), reset, only };
            match run::run_all(&experiments, &options) {
                Ok(reports) => print_summary(&reports),
                Err(err) => {
                    eprintln!("error: {err:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Check { files, limits } => match load_all(&files, limits.limits()) {
            Ok(experiments) => {
                for exp in &experiments {
                    println!("{}: ok, {} runs", exp.file.display(), exp.runs.len());
                }
                ExitCode::SUCCESS
            }
            Err(errors) => report_errors(&errors),
        },
        Command::Report(args) => finish(report::report(&args)),
        Command::Plot(args) => finish(report::plot(&args)),
        Command::Serve(args) => finish(serve::serve(&args)),
    }
}

/// Exit status of a command returning `anyhow::Result`.
fn finish(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Print to stdout; a closed pipe (`expgrid plan ... | head`) is not an error.
fn print_out(text: &str) -> ExitCode {
    use std::io::Write;
    match writeln!(std::io::stdout(), "{text}") {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: cannot write the output: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Load every file; collect the errors of all files.
fn load_all(files: &[PathBuf], limits: Limits) -> Result<Vec<Experiment>, ConfigErrors> {
    let mut experiments = Vec::new();
    let mut errors = Vec::new();
    for file in files {
        match Experiment::load_with(file, limits) {
            Ok(exp) => experiments.push(exp),
            Err(ConfigErrors(errs)) => errors.extend(errs),
        }
    }
    errors.extend(expgrid::config::folders::shared_across_files(&experiments));
    if errors.is_empty() { Ok(experiments) } else { Err(ConfigErrors(errors)) }
}

/// One line per run; exit status 1 if any run failed or is stale.
fn print_summary(reports: &[RunReport]) -> ExitCode {
    let (mut failed, mut stale) = (0, 0);
    let mut text = String::new();
    for report in reports {
        let line = match &report.outcome {
            Outcome::Trained(r) => format!(
                "done     validation loss {:.5}  accuracy {:.4}  svc {}",
                r.validation_loss,
                r.accuracy_argmax,
                r.accuracy_svc.map_or("-".to_string(), |a| format!("{a:.4}"))
            ),
            Outcome::Skipped(reason) => format!("skipped  {reason}"),
            Outcome::Stale(reason) => {
                stale += 1;
                format!("STALE    {reason}")
            }
            Outcome::Failed(err) => {
                failed += 1;
                format!("FAILED   {}", err.lines().next().unwrap_or_default())
            }
        };
        text.push_str(&format!("{}  {line}\n", report.experiment_name));
    }
    if failed > 0 {
        text.push_str(&format!("{failed} of {} runs failed\n", reports.len()));
    }
    if stale > 0 {
        text.push_str(&format!(
            "{stale} of {} runs are stale: their results belong to an older version of the file; \
             `expgrid run --reset` (with `--only` to pick them) trains them with the file's config, \
             or restore the old values\n",
            reports.len()
        ));
    }
    let code = print_out(text.trim_end());
    if failed + stale > 0 { ExitCode::FAILURE } else { code }
}

fn report_errors(errors: &ConfigErrors) -> ExitCode {
    eprintln!("{errors}");
    ExitCode::FAILURE
}
