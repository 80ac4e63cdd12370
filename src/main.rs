//! The `expgrid` command line.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use expgrid::backend::SelectedDevice;
use expgrid::cluster::{self, ShardSpec};
use expgrid::config::{ConfigErrors, Experiment, Limits};
use expgrid::report::plot::ImageFormat;
use expgrid::report::table::TableOptions;
use expgrid::report::{self, ReportFormat};
use expgrid::run::{self, Outcome, RunOptions, RunReport};
use expgrid::{plan, serve, stop};

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
        #[command(flatten)]
        training: TrainingArgs,
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
        /// Only the runs of shard I of N (`0/4`): run p of the selection belongs to shard
        /// p mod N. `auto` takes I and N from a Slurm job array; `auto/N` takes I from Slurm
        /// or a Kubernetes Indexed Job (JOB_COMPLETION_INDEX).
        #[arg(long, value_name = "I/N|auto|auto/N")]
        shard: Option<ShardSpec>,
        /// Only rung K of `$halving` files: the runs promoted from rung K-1's results (which
        /// must be complete); with --shard, shards split them.
        #[arg(long, value_name = "K")]
        rung: Option<usize>,
        /// After SIGUSR1 under Slurm the job requeues itself, unless SLURM_RESTART_COUNT says it
        /// was requeued this many times already.
        #[arg(long, default_value_t = cluster::requeue::DEFAULT_MAX_REQUEUES)]
        max_requeues: u64,
    },
    /// Validate experiment files without listing runs; exit status 1 with every error found.
    Check {
        /// Experiment files (YAML).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// Submit the runs that are not done to Slurm as a job array (one task per run); the
    /// script goes under `<runs dir>/slurm/`, the job id to stdout.
    Slurm(SlurmArgs),
    /// Download (into the cache) and verify every data set the files need, for compute nodes
    /// without internet.
    Fetch {
        /// Experiment files (YAML).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Folder searched first for data sets (also: environment variable EXPGRID_DATA).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// Tables of the runs' results (markdown with plots, CSV or JSON); reads run folders only.
    Report(ReportArgs),
    /// Learning curves, or with `--x` a metric against a matrix key (SVG or PNG).
    Plot(PlotArgs),
    /// Serve the HTML report on a local web server; the page refreshes itself while runs
    /// train. Reads run folders only.
    Serve(ServeArgs),
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

/// `expgrid slurm`; each flag given wins over the experiment file's `slurm:` mapping.
#[derive(clap::Args)]
struct SlurmArgs {
    /// Experiment files (YAML).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Print the script(s) and submit nothing.
    #[arg(long)]
    dry_run: bool,
    /// Slurm partition.
    #[arg(long)]
    partition: Option<String>,
    /// Time limit per task, as sbatch takes it (`4:00:00`, `1-12`).
    #[arg(long)]
    time: Option<String>,
    #[arg(long)]
    gpus_per_task: Option<u32>,
    /// Cores per task; expgrid trains with that many threads.
    #[arg(long)]
    cpus_per_task: Option<u32>,
    /// Memory per task, e.g. `16G`.
    #[arg(long)]
    mem: Option<String>,
    /// At most this many tasks at once.
    #[arg(long)]
    max_parallel: Option<u32>,
    /// Seconds before the time limit at which Slurm sends SIGUSR1 (default 120): expgrid then
    /// saves a checkpoint and requeues the task.
    #[arg(long)]
    grace: Option<u32>,
    /// A further sbatch argument (`--sbatch=--qos=high`); may be repeated.
    #[arg(long = "sbatch", value_name = "ARG", allow_hyphen_values = true)]
    sbatch: Vec<String>,
    /// Tasks per job array (default: the cluster's MaxArraySize, else 1001); more runs are
    /// split into several submissions.
    #[arg(long)]
    max_array_size: Option<usize>,
    /// Where every task's `expgrid run` trains (passed on to it).
    #[command(flatten)]
    training: TrainingArgs,
    #[command(flatten)]
    limits: LimitArgs,
}

/// Where runs train: `expgrid run`'s, and what `expgrid slurm` passes on to every task.
#[derive(clap::Args)]
struct TrainingArgs {
    /// Root folder of the run folders.
    #[arg(long, default_value = "runs")]
    runs_dir: PathBuf,
    /// Folder searched first for data sets (also: environment variable EXPGRID_DATA).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Compute device: `cpu` (default backend); with the `tch` feature also `cuda`, `cuda:N`.
    #[arg(long, default_value = expgrid::backend::DEFAULT_DEVICE)]
    device: SelectedDevice,
}

/// `expgrid report`: tables of finished and unfinished runs.
#[derive(clap::Args)]
struct ReportArgs {
    /// Experiment files (YAML).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormatArg::Md)]
    format: ReportFormatArg,
    /// Sort rows by this column (a metric or matrix key); a trailing `-` sorts descending,
    /// e.g. `accuracy_argmax-`. Default: validation loss, lowest first.
    #[arg(long, value_name = "COLUMN[-]")]
    sort: Option<String>,
    /// The columns to show, comma-separated: matrix keys, metrics
    /// (validation_loss, accuracy_argmax, accuracy_svc, accuracy_svc_heldout, params,
    /// train_time, throughput), n, status.
    #[arg(long, value_delimiter = ',')]
    columns: Option<Vec<String>>,
    /// A minijinja template for the markdown report (start from templates/report.md.j2).
    #[arg(long)]
    template: Option<PathBuf>,
    /// Output file (`-` for stdout); default `reports/<file stem>.<md|csv|json|html>`.
    #[arg(long)]
    out: Option<PathBuf>,
    /// The folder holding the run folders.
    #[arg(long, default_value = "runs")]
    runs_dir: PathBuf,
    /// CSV: one row per validation; JSON: a `curve` array in every run.
    #[arg(long)]
    curves: bool,
    /// Draw the report's plots as PNG instead of SVG.
    #[arg(long)]
    png: bool,
}

/// `--format` of `expgrid report` (the library's [`ReportFormat`]).
#[derive(Clone, Copy, ValueEnum)]
enum ReportFormatArg {
    Md,
    Csv,
    Json,
    /// One self-contained page: table, curves, trends, parallel coordinates, configs.
    Html,
}

impl From<ReportFormatArg> for ReportFormat {
    fn from(format: ReportFormatArg) -> ReportFormat {
        match format {
            ReportFormatArg::Md => ReportFormat::Md,
            ReportFormatArg::Csv => ReportFormat::Csv,
            ReportFormatArg::Json => ReportFormat::Json,
            ReportFormatArg::Html => ReportFormat::Html,
        }
    }
}

/// `expgrid plot`: learning curves, or with `--x` a metric against a matrix key.
#[derive(clap::Args)]
struct PlotArgs {
    /// The experiment file (YAML).
    file: PathBuf,
    /// A matrix key for the x axis (`inputs` with --baseline); without it, learning curves
    /// are drawn.
    #[arg(long)]
    x: Option<String>,
    /// The metric on the y axis (with --x).
    #[arg(long, default_value = "accuracy_argmax")]
    y: String,
    /// A matrix key whose values get one line each (with --x).
    #[arg(long)]
    series: Option<String>,
    /// With `--x inputs`: the difference of every row to its baseline over training, with
    /// its 95 % interval as a band. The baseline is `report.baseline`, or the matrix values
    /// given here (`--baseline alpha=0.0`, several joined by commas).
    #[arg(long, num_args = 0..=1, default_missing_value = "", value_name = "KEY=VALUE")]
    baseline: Option<String>,
    /// Output file; default `reports/<file stem>/learning-curves.svg`, `<y>-by-<x>.svg` or
    /// `<y>-difference-to-baseline.svg`.
    #[arg(long)]
    out: Option<PathBuf>,
    /// The folder holding the run folders.
    #[arg(long, default_value = "runs")]
    runs_dir: PathBuf,
    /// PNG instead of SVG.
    #[arg(long)]
    png: bool,
}

/// `expgrid serve`: a live report of experiment files.
#[derive(clap::Args)]
struct ServeArgs {
    /// Experiment files (YAML).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// The port to listen on (0: any free port; the address is printed).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// The address to listen on; `0.0.0.0` makes the page reachable from other machines.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// The folder holding the run folders.
    #[arg(long, default_value = "runs")]
    runs_dir: PathBuf,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Json,
}

fn main() -> ExitCode {
    expgrid::malloc::tune_for_training();
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
        Command::Run {
            files,
            training: TrainingArgs { runs_dir, data_dir, device },
            jobs,
            reset,
            only,
            limits,
            shard,
            rung,
            max_requeues,
        } => {
            let experiments = match load_all(&files, limits.limits()) {
                Ok(experiments) => experiments,
                Err(errors) => return report_errors(&errors),
            };
            let env = cluster::Env::process();
            let shard = match shard.map(|spec| spec.resolve(&env)).transpose() {
                Ok(shard) => shard,
                Err(err) => return finish(Err(err)),
            };
            if let Err(err) = stop::install() {
                eprintln!(
                    "warning: cannot handle SIGUSR1/SIGTERM/SIGINT ({err}): a stop loses the work since the last checkpoint"
                );
            }
            let options =
                RunOptions { runs_dir, data_dir, device, jobs: jobs.into(), reset, only, shard, rung };
            match run::run_all(&experiments, &options) {
                Ok(reports) => {
                    let code = print_summary(&reports);
                    // A stop that came when every run had finished changes nothing.
                    let unfinished = reports.iter().any(|r| matches!(r.outcome, Outcome::Interrupted(_)));
                    match stop::requested() {
                        Some(signal) if unfinished => stopped(signal, &env, max_requeues),
                        _ => code,
                    }
                }
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
        Command::Slurm(args) => match load_all(&args.files, args.limits.limits()) {
            Ok(experiments) => finish(slurm(&experiments, args)),
            Err(errors) => report_errors(&errors),
        },
        Command::Fetch { files, data_dir, limits } => match load_all(&files, limits.limits()) {
            Ok(experiments) => fetch(&experiments, data_dir),
            Err(errors) => report_errors(&errors),
        },
        Command::Report(args) => finish(write_reports(args)),
        Command::Plot(args) => finish(plot(args)),
        Command::Serve(args) => finish(serve(args)),
    }
}

/// `expgrid slurm`: plan the submissions, print them (`--dry-run`) or submit them.
fn slurm(experiments: &[Experiment], args: SlurmArgs) -> anyhow::Result<()> {
    use expgrid::cluster::submit;
    let settings = expgrid::config::slurm::SlurmSpec {
        partition: args.partition,
        time: args.time,
        gpus_per_task: args.gpus_per_task,
        cpus_per_task: args.cpus_per_task,
        mem: args.mem,
        max_parallel: args.max_parallel,
        grace: args.grace,
        sbatch: args.sbatch,
    };
    let options = submit::SlurmOptions {
        settings,
        runs_dir: args.training.runs_dir,
        data_dir: args.training.data_dir,
        device: args.training.device,
        max_combinations: (args.limits.max_combinations != Limits::DEFAULT_MAX_COMBINATIONS)
            .then_some(args.limits.max_combinations),
    };
    let max_array_size = args.max_array_size.unwrap_or_else(submit::max_array_size);
    let mut notes = Vec::new();
    let submissions = submit::plan_submissions(experiments, &options, max_array_size, &mut notes)?;
    for note in &notes {
        eprintln!("{note}");
    }
    if submissions.is_empty() {
        eprintln!("nothing to submit: every run is done or left out (above)");
        return Ok(());
    }
    if args.dry_run {
        let scripts: Vec<&str> = submissions.iter().map(|s| s.script.as_str()).collect();
        print_out(scripts.join("\n").trim_end());
        return Ok(());
    }
    let paths = submit::script_paths(&options.runs_dir, submissions.len());
    for (submission, path) in submissions.iter().zip(&paths) {
        let job = submit::submit(submission, path, &options.runs_dir)?;
        eprintln!(
            "submitted job {job}: {} runs, script {}, logs {}",
            submission.tasks.len(),
            path.display(),
            submit::log_dir(&options.runs_dir).join(format!("{job}_<task>.log")).display()
        );
        print_out(&job);
    }
    Ok(())
}

/// `expgrid report`: one report per file, to its file or stdout.
fn write_reports(args: ReportArgs) -> anyhow::Result<()> {
    if args.files.len() > 1 && args.out.is_some() {
        anyhow::bail!("--out names one file: give one experiment file, or leave --out out");
    }
    let format = ReportFormat::from(args.format);
    let options = report::ReportOptions {
        format,
        table: TableOptions { columns: args.columns, sort: args.sort },
        template: match &args.template {
            Some(path) => report::markdown::read_template(path)?,
            None => report::markdown::DEFAULT_TEMPLATE.to_string(),
        },
        curves: args.curves,
        image: image_format(args.png),
        stamp: report::Stamp::now(),
    };
    for file in &args.files {
        let out = args.out.clone().unwrap_or_else(|| report::default_out(file, format));
        report::write_report(file, &args.runs_dir, &out, &options, &mut std::io::stdout().lock())?;
        if out != Path::new("-") {
            eprintln!("wrote {}", out.display());
        }
    }
    Ok(())
}

/// `expgrid plot`: one plot.
fn plot(args: PlotArgs) -> anyhow::Result<()> {
    let options = report::PlotOptions {
        x: args.x,
        y: args.y,
        series: args.series,
        baseline: args.baseline,
        out: args.out,
        image: image_format(args.png),
    };
    let out = report::plot(&args.file, &args.runs_dir, &options)?;
    eprintln!("wrote {}", out.display());
    Ok(())
}

fn image_format(png: bool) -> ImageFormat {
    if png { ImageFormat::Png } else { ImageFormat::Svg }
}

/// `expgrid serve`: say where, then serve until stopped.
fn serve(args: ServeArgs) -> anyhow::Result<()> {
    use std::io::Write;
    let files = args.files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", ");
    let server = serve::Server::bind(serve::ServeOptions {
        files: args.files,
        port: args.port,
        host: args.host,
        runs_dir: args.runs_dir,
    })?;
    println!("serving the report of {files} at http://{}/ (Ctrl-C stops)", server.address()?);
    std::io::stdout().flush()?;
    server.run();
    Ok(())
}

/// `expgrid fetch`: every split the runs need, found or downloaded, and verified.
fn fetch(experiments: &[Experiment], data_dir: Option<PathBuf>) -> ExitCode {
    let source = expgrid::data::DataSource::from_env(data_dir);
    let mut failed = false;
    for (dataset, split) in expgrid::data::fetch::needed(
        experiments.iter().flat_map(|exp| exp.runs.iter().map(|run| &run.config)),
    ) {
        match expgrid::data::fetch::fetch(dataset, split, &source) {
            Ok(fetched) => println!("{fetched}"),
            Err(err) => {
                eprintln!("error: {err}");
                failed = true;
            }
        }
    }
    if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}

/// After a stop request: requeue the Slurm job on SIGUSR1, exit with [`stop::EXIT_STOPPED`].
fn stopped(signal: stop::StopSignal, env: &cluster::Env, max_requeues: u64) -> ExitCode {
    eprintln!(
        "stopped by {}: interrupted runs resume from their checkpoints on the next `expgrid run`",
        signal.name()
    );
    if let (stop::StopSignal::Usr1, Some(job)) = (signal, env.slurm_job()) {
        match cluster::requeue::requeue(&job, max_requeues) {
            Ok(message) => eprintln!("{message}"),
            Err(err) => eprintln!("error: {err:#}"),
        }
    }
    ExitCode::from(stop::EXIT_STOPPED)
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
            Outcome::Interrupted(message) => format!("stopped  {message}"),
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
