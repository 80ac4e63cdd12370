//! The HTML report: one self-contained page (style, script and data inline, no request to
//! any other host) with the markdown report's header and table, learning curves, trends,
//! parallel coordinates and every run's validations and resolved config.
//!
//! Rust gathers the numbers (the same table, cells and curves as the markdown report and the
//! plots); the page's script (`templates/report.js`, hand-written, no library) draws them as
//! SVG. `expgrid serve` serves the same page with [`PageData::poll`] set, so the script
//! refreshes the data from the server.

use anyhow::{Result, bail};
use indexmap::IndexMap;
use serde::Serialize;
use serde_json::Value;

use super::Stamp;
use super::collect::{Better, Collected, GroupValue, Metric, RunRecord};
use super::compare::{Baselines, Comparison, ComparisonTable};
use super::markdown::Header;
use super::plot::{CURVES, Point, curve};
use super::table::{Column, Table, TableOptions};
use crate::config::schema::TrendSpec;
use crate::rundir::RunState;

const PAGE: &str = include_str!("../../templates/report.html");
const STYLE: &str = include_str!("../../templates/report.css");
const SCRIPT: &str = include_str!("../../templates/report.js");

/// Everything the page shows, embedded as JSON (and served as `data.json` by `expgrid serve`).
#[derive(Debug, Clone, Serialize)]
pub struct PageData {
    pub header: Header,
    pub columns: Vec<Column>,
    pub rows: Vec<PageRow>,
    pub runs: Vec<PageRun>,
    /// The matrix keys that tell rows apart, with their values in plan order.
    pub keys: Vec<KeyValues>,
    pub metrics: Vec<MetricInfo>,
    /// The names of the numbers in [`PageRun::validations`], in order.
    pub validation_fields: Vec<String>,
    /// The learning-curve panels' titles, in the order of [`PageRow::curves`].
    pub curve_titles: Vec<&'static str>,
    /// The experiment file's `report: trends`.
    pub trends: Vec<TrendSpec>,
    /// With `report: baseline`: every row's differences to its baseline, as in markdown.
    pub comparison: Option<ComparisonTable>,
    /// Set by `expgrid serve`: the URL the page polls for fresh data.
    pub poll: Option<String>,
}

/// A table row: a group of repeats.
#[derive(Debug, Clone, Serialize)]
pub struct PageRow {
    /// The markdown report's cells, one per column.
    pub cells: Vec<Cell>,
    pub label: String,
    pub n: usize,
    pub status: String,
    /// Raw values per column id (text for keys, `{mean, std, n, stopped_at}` for metrics).
    pub values: IndexMap<String, Value>,
    /// The row's value of every metric (also those the table does not show).
    pub metrics: IndexMap<&'static str, Option<GroupValue>>,
    /// The row's value of every key of [`PageData::keys`].
    pub keys: IndexMap<String, String>,
    /// Indices into [`PageData::runs`].
    pub runs: Vec<usize>,
    /// Learning curves (validation loss, accuracy, train loss) as drawn by `expgrid plot`:
    /// mean and std over the reported runs at the inputs every one validated at.
    pub curves: Vec<Vec<Point>>,
}

/// A table cell: its text and whether it holds the column's best value (bold in markdown).
#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    pub text: String,
    pub best: bool,
}

/// One run with its state and every validation.
#[derive(Debug, Clone, Serialize)]
pub struct PageRun {
    pub matrix_id: String,
    pub matrix_slug: String,
    pub experiment_name: String,
    /// The status word: the run's state, `stale` or `damaged`.
    pub state: String,
    /// Why the run failed, is stale or is damaged (and what to do).
    pub error: Option<String>,
    pub max_inputs: u64,
    /// Rows of `metrics.csv`, each as numbers in [`PageData::validation_fields`] order.
    pub validations: Vec<Vec<Value>>,
    /// Seconds left at the last validation's throughput (running runs only).
    pub eta_s: Option<f64>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// The resolved run (`config.yaml`).
    pub config: String,
}

/// A matrix key and its values in plan order.
#[derive(Debug, Clone, Serialize)]
pub struct KeyValues {
    pub key: String,
    pub values: Vec<String>,
    /// Every value is a number.
    pub numeric: bool,
}

/// A metric the page can plot.
#[derive(Debug, Clone, Serialize)]
pub struct MetricInfo {
    pub id: &'static str,
    pub label: &'static str,
    /// `lower` or `higher` for quality metrics, `None` for costs.
    pub better: Option<&'static str>,
}

impl PageData {
    /// The page's data for `collected`, its table built with `options`.
    pub fn new(collected: &Collected, options: &TableOptions, stamp: &Stamp) -> Result<PageData> {
        let table = Table::build(collected, options)?;
        let order: Vec<usize> = table.rows.iter().map(|row| row.group).collect();
        let comparison = Baselines::from_config(collected)?
            .map(|baselines| Comparison::new(collected, baselines).table(collected, &order));
        let rows = table.rows.iter().map(|row| page_row(collected, row)).collect();
        let validation_fields = collected
            .records
            .iter()
            .find_map(|r| r.metrics.first())
            .and_then(|row| serde_json::to_value(row).ok())
            .and_then(|v| v.as_object().map(|o| o.keys().cloned().collect()))
            .unwrap_or_default();
        Ok(PageData {
            header: Header::new(collected, stamp),
            columns: table.columns,
            rows,
            runs: collected.records.iter().map(page_run).collect(),
            keys: collected.shown_keys.iter().map(|key| key_values(collected, key)).collect(),
            metrics: Metric::ALL.iter().map(|&m| metric_info(m)).collect(),
            validation_fields,
            curve_titles: CURVES.iter().map(|(title, _)| *title).collect(),
            trends: trends(collected)?,
            comparison,
            poll: None,
        })
    }

    /// The data as JSON that is safe inside a `<script>` element (no `<`, so no `</script>`).
    pub fn to_json(&self) -> Result<String> {
        Ok(serde_json::to_string(self)?.replace('<', "\\u003c"))
    }

    /// The whole page.
    pub fn to_html(&self) -> Result<String> {
        let title = html_escape(&self.header.title);
        Ok(PAGE
            .replace("{{title}}", &title)
            .replace("{{style}}", STYLE)
            .replace("{{script}}", SCRIPT)
            .replace("{{data}}", &self.to_json()?))
    }
}

/// The file's `report: trends`, checked as `expgrid plot --x` checks its options.
fn trends(collected: &Collected) -> Result<Vec<TrendSpec>> {
    let specs = collected.experiment.runs.first().map(|r| r.config.report.trends.clone()).unwrap_or_default();
    let keys = &collected.experiment.matrix_keys;
    for (i, spec) in specs.iter().enumerate() {
        if Metric::from_id(&spec.y).is_none() {
            bail!("report.trends[{i}]: unknown metric `{}`: use one of {}", spec.y, Metric::ids());
        }
        for key in std::iter::once(&spec.x).chain(&spec.series) {
            if !keys.contains(key) {
                bail!(
                    "report.trends[{i}]: `{key}` is not a matrix key of {} (keys: {})",
                    collected.experiment.file.display(),
                    keys.join(", ")
                );
            }
        }
    }
    Ok(specs)
}

fn page_row(collected: &Collected, row: &super::table::Row) -> PageRow {
    let group = &collected.groups[row.group];
    let first = &collected.records[group.members[0]];
    PageRow {
        cells: row.cells.iter().map(|text| cell(text)).collect(),
        label: row.label.clone(),
        n: row.n,
        status: row.status.clone(),
        values: row.values.clone(),
        metrics: Metric::ALL.iter().map(|&m| (m.id(), collected.value(group, m))).collect(),
        keys: collected.shown_keys.iter().map(|k| (k.clone(), first.value_text(k))).collect(),
        runs: group.members.clone(),
        curves: CURVES.iter().map(|(_, field)| curve(collected, group, *field)).collect(),
    }
}

/// A markdown cell as text and a best flag: `**0.8912**` → `0.8912`, best; `\|` → `|`.
fn cell(markdown: &str) -> Cell {
    Cell { text: markdown.replace("**", "").replace("\\|", "|"), best: markdown.contains("**") }
}

fn page_run(record: &RunRecord) -> PageRun {
    let info = record.info.as_ref();
    let max_inputs = record.planned.config.max_inputs;
    let eta_s = match (record.state, record.metrics.last()) {
        (RunState::Running, Some(last)) if last.throughput > 0.0 => {
            Some(max_inputs.saturating_sub(last.inputs) as f64 / last.throughput)
        }
        _ => None,
    };
    PageRun {
        matrix_id: record.planned.matrix_id.clone(),
        matrix_slug: record.planned.matrix_slug.clone(),
        experiment_name: record.planned.config.experiment_name.clone(),
        state: record.status(),
        error: record.error(),
        max_inputs,
        validations: record
            .metrics
            .iter()
            .map(|row| match serde_json::to_value(row) {
                Ok(Value::Object(fields)) => fields.into_iter().map(|(_, v)| v).collect(),
                _ => Vec::new(),
            })
            .collect(),
        eta_s,
        started_at: info.and_then(|i| i.started_at.clone()),
        finished_at: info.and_then(|i| i.finished_at.clone()),
        config: serde_saphyr::to_string(&record.planned.resolved).unwrap_or_default(),
    }
}

fn key_values(collected: &Collected, key: &str) -> KeyValues {
    let mut values: Vec<String> = Vec::new();
    for record in &collected.records {
        let text = record.value_text(key);
        if !values.contains(&text) {
            values.push(text);
        }
    }
    let numeric = values.iter().all(|v| v.parse::<f64>().is_ok());
    KeyValues { key: key.to_string(), values, numeric }
}

fn metric_info(metric: Metric) -> MetricInfo {
    MetricInfo {
        id: metric.id(),
        label: metric.label(),
        better: metric.better().map(|b| match b {
            Better::Lower => "lower",
            Better::Higher => "higher",
        }),
    }
}

/// Text for HTML element content.
fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_cells_become_text_and_a_best_flag() {
        let best = cell("(780,000 inputs) **0.018970**");
        assert_eq!((best.text.as_str(), best.best), ("(780,000 inputs) 0.018970", true));
        let plain = cell("failed: a \\| b");
        assert_eq!((plain.text.as_str(), plain.best), ("failed: a | b", false));
    }

    #[test]
    fn embedded_json_cannot_close_the_script_element() {
        assert_eq!(html_escape("a<b>&"), "a&lt;b&gt;&amp;");
        let text = serde_json::to_string("</script>").unwrap().replace('<', "\\u003c");
        assert_eq!(text, "\"\\u003c/script>\"");
        assert_eq!(serde_json::from_str::<String>(&text).unwrap(), "</script>");
    }
}
