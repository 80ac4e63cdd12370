//! The `expgrid` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use expgrid::config::{ConfigErrors, Experiment};
use expgrid::{plan, report};

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
    },
    /// Validate experiment files without listing runs; exit status 1 with every error found.
    Check {
        /// Experiment files (YAML).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Tables of the runs' results (markdown with plots, CSV or JSON); reads run folders only.
    Report(report::ReportArgs),
    /// Learning curves, or with `--x` a metric against a matrix key (SVG or PNG).
    Plot(report::PlotArgs),
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Plan { files, format } => match load_all(&files) {
            Ok(experiments) => {
                let text = match format {
                    Format::Table => plan::to_table(&experiments),
                    Format::Json => plan::to_json(&experiments),
                };
                print_out(text.trim_end())
            }
            Err(errors) => report_errors(&errors),
        },
        Command::Check { files } => match load_all(&files) {
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

/// Load every file, printing warnings; collect the errors of all files.
fn load_all(files: &[PathBuf]) -> Result<Vec<Experiment>, ConfigErrors> {
    let mut experiments = Vec::new();
    let mut errors = Vec::new();
    for file in files {
        match Experiment::load(file) {
            Ok(exp) => {
                for warning in &exp.warnings {
                    eprintln!("warning: {warning}");
                }
                experiments.push(exp);
            }
            Err(ConfigErrors(errs)) => errors.extend(errs),
        }
    }
    if errors.is_empty() { Ok(experiments) } else { Err(ConfigErrors(errors)) }
}

fn report_errors(errors: &ConfigErrors) -> ExitCode {
    eprintln!("{errors}");
    ExitCode::FAILURE
}
