//! `expgrid report` (a table of every run, markdown/CSV/JSON) and `expgrid plot` (learning
//! curves, a metric against a matrix key). Both only read run folders.
//!
//! | file | concern |
//! | --- | --- |
//! | `collect.rs` | run folders → records, groups of repeats, metrics |
//! | `stats.rs` | mean ± sample std, Welch's and the paired t-test, repeats needed |
//! | `compare.rs` | `report.baseline`: each row's difference to its baseline row |
//! | `format.rs` | number formatting |
//! | `table.rs` | columns, rows, sorting, bold best values |
//! | `markdown.rs` | header and template rendering |
//! | `export.rs` | CSV and JSON records |
//! | `html.rs` | the self-contained HTML page (also served by `expgrid serve`) |
//! | `plot.rs` | learning curves and trend plots |

pub mod collect;
pub mod compare;
pub mod export;
pub mod format;
pub mod html;
pub mod markdown;
pub mod plot;
pub mod stats;
pub mod table;

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use collect::{Collected, Metric};
use compare::{Baselines, Comparison};
use export::Curves;
use markdown::{Header, PlotLink};
use plot::ImageFormat;
use table::{Table, TableOptions};

/// The folder reports go to by default.
pub const REPORTS_DIR: &str = "reports";
/// The learning-curve plot's file stem, beside the report.
pub const CURVES_STEM: &str = "learning-curves";
/// The file stem of the report's plot of differences to the baseline.
pub const BASELINE_STEM: &str = "difference-to-baseline";
/// The metrics of the report's difference-to-baseline plot.
const BASELINE_PLOT_METRICS: [Metric; 2] = [Metric::ValidationLoss, Metric::AccuracyArgmax];

/// The format of `expgrid report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    Md,
    Csv,
    Json,
    /// One self-contained page: table, curves, trends, parallel coordinates, configs.
    Html,
}

impl ReportFormat {
    fn extension(self) -> &'static str {
        match self {
            ReportFormat::Md => "md",
            ReportFormat::Csv => "csv",
            ReportFormat::Json => "json",
            ReportFormat::Html => "html",
        }
    }
}

/// What `expgrid plot` draws: learning curves, or with `x` a metric against a matrix key.
#[derive(Debug, Clone)]
pub struct PlotOptions {
    /// A matrix key for the x axis ([`INPUTS_AXIS`] with `baseline`); `None`: learning curves.
    pub x: Option<String>,
    /// The metric on the y axis (with `x`).
    pub y: String,
    /// A matrix key whose values get one line each (with `x`).
    pub series: Option<String>,
    /// With `x` = [`INPUTS_AXIS`]: the difference of every row to this baseline over
    /// training (`""`: the experiment's `report.baseline`; else `key=value,...`).
    pub baseline: Option<String>,
    /// Output file; default `reports/<file stem>/learning-curves.svg`, `<y>-by-<x>.svg` or
    /// `<y>-difference-to-baseline.svg`.
    pub out: Option<PathBuf>,
    pub image: ImageFormat,
}

/// The version and date a report names; pinned in tests so the output is stable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    pub version: String,
    /// `YYYY-MM-DD` (UTC).
    pub date: String,
}

impl Stamp {
    /// This expgrid's version and today's date, or the date of `SOURCE_DATE_EPOCH` when set
    /// (reproducible reports).
    pub fn now() -> Stamp {
        let epoch = std::env::var("SOURCE_DATE_EPOCH")
            .ok()
            .and_then(|s| s.parse::<i64>().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs() as i64)
            });
        Stamp { version: env!("CARGO_PKG_VERSION").to_string(), date: civil_date(epoch.div_euclid(86_400)) }
    }
}

/// Days since 1970-01-01 as `YYYY-MM-DD` (H. Hinnant's `civil_from_days`).
fn civil_date(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// Render the report of `file` from the run folders under `runs_dir` and write it to `out`
/// (atomically), or with `out` = `-` to `stdout`.
pub fn write_report(
    file: &Path,
    runs_dir: &Path,
    out: &Path,
    options: &ReportOptions,
    stdout: &mut dyn Write,
) -> Result<()> {
    let collected = Collected::load(file, runs_dir)?;
    let text = render_report(&collected, options, out)?;
    if out == Path::new("-") {
        stdout.write_all(text.as_bytes()).context("cannot write the report to stdout")
    } else {
        crate::rundir::write_atomic(out, text.as_bytes())
    }
}

/// Where the report of `file` goes by default: `reports/<stem>.<md|csv|json|html>`.
pub fn default_out(file: &Path, format: ReportFormat) -> PathBuf {
    Path::new(REPORTS_DIR).join(stem(file)).with_extension(format.extension())
}

fn stem(file: &Path) -> String {
    file.file_stem().unwrap_or_default().to_string_lossy().into_owned()
}

/// How to render a report.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    pub format: ReportFormat,
    pub table: TableOptions,
    /// The markdown template's text.
    pub template: String,
    /// Include every validation row (CSV, JSON).
    pub curves: bool,
    /// The format of the markdown report's plots.
    pub image: ImageFormat,
    pub stamp: Stamp,
}

/// The report's text. A markdown report bound for `out` also draws its plots into the
/// folder `out` without extension (`reports/x.md` → `reports/x/learning-curves.svg`).
pub fn render_report(collected: &Collected, options: &ReportOptions, out: &Path) -> Result<String> {
    let comparison = Baselines::from_config(collected)?.map(|b| Comparison::new(collected, b));
    match options.format {
        ReportFormat::Csv => export::to_csv(&export::records(
            collected,
            if options.curves { Curves::Flat } else { Curves::None },
            comparison.as_ref(),
        )),
        ReportFormat::Json => export::to_json(&export::records(
            collected,
            if options.curves { Curves::Nested } else { Curves::None },
            comparison.as_ref(),
        )),
        ReportFormat::Html => html::PageData::new(collected, &options.table, &options.stamp)?.to_html(),
        ReportFormat::Md => {
            let table = Table::build(collected, &options.table)?;
            let order: Vec<usize> = table.rows.iter().map(|row| row.group).collect();
            let comparison_table = comparison.as_ref().map(|c| c.table(collected, &order));
            let mut plots = Vec::new();
            if out != Path::new("-") {
                let name = format!("{CURVES_STEM}.{}", options.image.extension());
                let plot_dir = out.with_extension("");
                // The report links its plots relative to itself: `x/<name>` beside `x.md`.
                let link =
                    |title: String, name: &str| PlotLink { title, path: format!("{}/{name}", stem(out)) };
                if plot::learning_curves(collected, &plot_dir.join(&name), options.image)? {
                    plots.push(link("learning curves".into(), &name));
                }
                let trends = collected.experiment.runs.first().map(|run| run.config.report.trends.as_slice());
                for (i, spec) in trends.unwrap_or_default().iter().enumerate() {
                    let name = format!("{}.{}", trend_stem(&spec.x, &spec.y), options.image.extension());
                    draw_trend(
                        collected,
                        &spec.x,
                        &spec.y,
                        spec.series.as_deref(),
                        &plot_dir.join(&name),
                        options.image,
                    )
                    .with_context(|| format!("report.trends[{i}]"))?;
                    plots.push(link(format!("{} by {}", spec.y, spec.x), &name));
                }
                if let Some(comparison) = &comparison {
                    let name = format!("{BASELINE_STEM}.{}", options.image.extension());
                    let path = plot_dir.join(&name);
                    if plot::baseline_curves(
                        collected,
                        &comparison.baselines,
                        &BASELINE_PLOT_METRICS,
                        &path,
                        options.image,
                    )? {
                        plots.push(link(
                            format!("difference to the baseline {}", comparison.baselines.label),
                            &name,
                        ));
                    }
                }
            }
            let header = Header::new(collected, &options.stamp);
            markdown::render(&options.template, header, &table, comparison_table.as_ref(), &plots)
        }
    }
}

/// A trend plot's file stem: `<y>-by-<x>`.
fn trend_stem(x: &str, y: &str) -> String {
    format!("{y}-by-{x}")
}

/// The metric `y` (an id) against the matrix key `x`.
fn draw_trend(
    collected: &Collected,
    x: &str,
    y: &str,
    series: Option<&str>,
    out: &Path,
    image: ImageFormat,
) -> Result<()> {
    let metric =
        Metric::from_id(y).with_context(|| format!("unknown metric `{y}`: use one of {}", Metric::ids()))?;
    plot::trend(collected, x, metric, series, out, image)
}

/// The x axis of `expgrid plot --baseline`.
pub const INPUTS_AXIS: &str = "inputs";

/// `expgrid plot`: draw learning curves, a trend plot, or the differences to a baseline, of
/// `file`'s runs under `runs_dir`; returns the file written.
pub fn plot(file: &Path, runs_dir: &Path, options: &PlotOptions) -> Result<PathBuf> {
    let collected = Collected::load(file, runs_dir)?;
    let image = options.image;
    let name = match (&options.x, &options.baseline) {
        (Some(_), Some(_)) => format!("{}-{BASELINE_STEM}", options.y),
        (Some(x), None) => trend_stem(x, &options.y),
        (None, _) => CURVES_STEM.to_string(),
    };
    let out = options.out.clone().unwrap_or_else(|| {
        Path::new(REPORTS_DIR).join(stem(file)).join(name).with_extension(image.extension())
    });
    match (&options.x, &options.baseline) {
        (Some(x), Some(spec)) if x == INPUTS_AXIS => {
            draw_baseline(&collected, spec, &options.y, &out, image)?
        }
        (_, Some(_)) => bail!("--baseline draws differences over training: use it with `--x {INPUTS_AXIS}`"),
        (Some(x), None) => draw_trend(&collected, x, &options.y, options.series.as_deref(), &out, image)?,
        (None, None) => {
            if !plot::learning_curves(&collected, &out, image)? {
                bail!("no run of {} has validated yet: nothing to plot", file.display());
            }
        }
    }
    Ok(out)
}

/// `expgrid plot --x inputs --baseline [SPEC]`: the metric `y`'s difference to the baseline
/// `spec` (`""`: the experiment's `report.baseline`) over training.
fn draw_baseline(collected: &Collected, spec: &str, y: &str, out: &Path, image: ImageFormat) -> Result<()> {
    let file = collected.experiment.file.display();
    let metric =
        Metric::from_id(y).with_context(|| format!("unknown metric `{y}`: use one of {}", Metric::ids()))?;
    if metric.better().is_none() {
        let ids: Vec<String> = compare::compared_metrics().map(|m| format!("`{}`", m.id())).collect();
        bail!("`{y}` is not compared with a baseline: use --y with one of {}", ids.join(", "));
    }
    let baselines = if spec.is_empty() {
        Baselines::from_config(collected)?.with_context(|| {
            format!("{file} has no report.baseline: name the baseline, e.g. `--baseline alpha=0.0`")
        })?
    } else {
        Baselines::resolve(collected, &compare::parse_spec(spec)?)?
    };
    if !plot::baseline_curves(collected, &baselines, &[metric], out, image)? {
        bail!("no row of {file} and its baseline {} have validated yet: nothing to plot", baselines.label);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_date(0), "1970-01-01");
        assert_eq!(civil_date(20_414), "2025-11-22");
        assert_eq!(civil_date(11_016), "2000-02-29");
    }
}
