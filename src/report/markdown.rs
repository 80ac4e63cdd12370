//! The markdown report: the header, the table and the plots, rendered by a minijinja template.

use anyhow::{Context, Result};
use serde::Serialize;

use super::Stamp;
use super::collect::Collected;
use super::compare::ComparisonTable;
use super::format::thousands;
use super::table::{Column, Row, Table, budget};

/// The template shipped with expgrid (`templates/report.md.j2`), the starting point for
/// `--template`.
pub const DEFAULT_TEMPLATE: &str = include_str!("../../templates/report.md.j2");

/// What was run: the report's first lines.
#[derive(Debug, Clone, Serialize)]
pub struct Header {
    /// The experiment file's stem.
    pub title: String,
    pub experiment_file: String,
    pub runs_done: usize,
    /// Of the done runs, those `$halving` stopped at a rung below the budget.
    pub runs_stopped: usize,
    pub runs_total: usize,
    /// Data sets of the training sets, e.g. `fmnist`.
    pub dataset: String,
    /// The training budget with separators (`2,000,000`), or `varies`.
    pub max_inputs: String,
    /// From the runs' `run.json` (distinct values joined by `, `; empty before any run).
    pub backend: String,
    pub device: String,
    /// The expgrid versions that trained the runs.
    pub trained_with: String,
    /// The expgrid version that wrote the report.
    pub expgrid_version: String,
    pub date: String,
    /// Matrix keys whose runs are averaged, when some row has repeats; else empty.
    pub group_over: Vec<String>,
}

/// A plot embedded by the report.
#[derive(Debug, Clone, Serialize)]
pub struct PlotLink {
    pub title: String,
    /// Relative to the markdown file.
    pub path: String,
}

/// Everything the template sees.
#[derive(Debug, Serialize)]
struct TemplateContext<'a> {
    header: Header,
    columns: &'a [Column],
    rows: &'a [Row],
    plots: &'a [PlotLink],
    /// The differences to `report.baseline`, when it is set.
    comparison: Option<&'a ComparisonTable>,
}

impl Header {
    pub fn new(collected: &Collected, stamp: &Stamp) -> Header {
        let records = &collected.records;
        let infos: Vec<_> = records.iter().filter_map(|r| r.info.as_ref()).collect();
        let repeats = collected.groups.iter().any(|g| g.members.len() > 1);
        Header {
            title: collected.experiment.file.file_stem().unwrap_or_default().to_string_lossy().into_owned(),
            experiment_file: collected.experiment.file.display().to_string(),
            runs_done: collected.done_count(),
            runs_stopped: records.iter().filter(|r| r.stopped_at_rung.is_some()).count(),
            runs_total: records.len(),
            dataset: distinct(records.iter().map(|r| dataset_name(&r.planned.config.train_set.dataset))),
            max_inputs: budget(collected).map_or("varies".to_string(), |b| thousands(b as i64)),
            backend: distinct(infos.iter().map(|i| i.backend.clone())),
            device: distinct(infos.iter().map(|i| i.device.clone())),
            trained_with: distinct(infos.iter().map(|i| i.expgrid_version.clone())),
            expgrid_version: stamp.version.clone(),
            date: stamp.date.clone(),
            group_over: if repeats { collected.group_over.clone() } else { Vec::new() },
        }
    }
}

fn dataset_name(name: &impl Serialize) -> String {
    serde_json::to_value(name).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()
}

/// Distinct values in first-seen order, joined by `, `.
fn distinct(values: impl Iterator<Item = String>) -> String {
    let mut seen: Vec<String> = Vec::new();
    for value in values {
        if !seen.contains(&value) {
            seen.push(value);
        }
    }
    seen.join(", ")
}

/// The most steps (minijinja instructions) a report template may take: a loop that never
/// ends becomes an error instead of a hang.
pub const TEMPLATE_FUEL: u64 = 50_000_000;

/// The largest `--template` file read (a device or a FIFO is refused too).
pub const MAX_TEMPLATE_BYTES: u64 = 1 << 20;

/// Read a `--template` file: a regular file of at most [`MAX_TEMPLATE_BYTES`].
pub fn read_template(path: &std::path::Path) -> Result<String> {
    let metadata = std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    if !metadata.is_file() {
        anyhow::bail!("{}: a template must be a regular file (not a folder, device or pipe)", path.display());
    }
    if metadata.len() > MAX_TEMPLATE_BYTES {
        anyhow::bail!(
            "{}: a template may have at most {} MiB: is this the right file?",
            path.display(),
            MAX_TEMPLATE_BYTES >> 20
        );
    }
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// Render the report with `template` (jinja syntax; blocks trimmed like Jinja's
/// `trim_blocks` and `lstrip_blocks`), within [`TEMPLATE_FUEL`] steps.
pub fn render(
    template: &str,
    header: Header,
    table: &Table,
    comparison: Option<&ComparisonTable>,
    plots: &[PlotLink],
) -> Result<String> {
    let mut env = minijinja::Environment::new();
    let syntax = minijinja::syntax::SyntaxConfig::builder()
        .trim_blocks(true)
        .lstrip_blocks(true)
        .keep_trailing_newline(true)
        .build()?;
    env.set_syntax(syntax);
    env.set_fuel(Some(TEMPLATE_FUEL));
    env.add_template("report.md", template).context("the report template is not valid")?;
    let context = TemplateContext { header, columns: &table.columns, rows: &table.rows, plots, comparison };
    env.get_template("report.md")?.render(minijinja::value::Serde(&context)).map_err(|err| match err.kind() {
        minijinja::ErrorKind::OutOfFuel => anyhow::anyhow!(
            "the report template took more than {TEMPLATE_FUEL} steps: does a loop never end?"
        ),
        _ => anyhow::Error::new(err).context("cannot render the report template"),
    })
}
