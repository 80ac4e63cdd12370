//! The report table: columns, one row per group of repeats, sorting and bold best values.

use std::cmp::Ordering;

use anyhow::{Result, bail};
use indexmap::IndexMap;
use serde::Serialize;

use super::collect::{Better, Collected, Group, GroupValue, Metric};
use super::format::{Style, thousands};

/// What a column shows.
#[derive(Debug, Clone, PartialEq)]
enum Kind {
    /// A matrix key's value.
    Key(String),
    Metric(Metric),
    /// The number of runs behind a row's numbers.
    N,
    /// Done, pending, failed (with the error's first line)...
    Status,
}

/// A table column.
#[derive(Debug, Clone, Serialize)]
pub struct Column {
    /// The name used by `--sort` and `--columns`.
    pub id: String,
    /// The header text.
    pub label: String,
    /// Right-aligned (numbers).
    pub numeric: bool,
    #[serde(skip)]
    kind: Kind,
}

/// One row: a group of repeats.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// Markdown cell texts, one per column (best values in `**bold**`).
    pub cells: Vec<String>,
    /// The group's key values, e.g. `head=8, layer=4`.
    pub label: String,
    /// Runs behind the row's numbers.
    pub n: usize,
    /// The status cell text.
    pub status: String,
    /// The unformatted value of each column: text for keys, `{mean, std, n, stopped_at}`
    /// for metrics.
    pub values: IndexMap<String, serde_json::Value>,
    /// The row's index in [`Collected::groups`].
    #[serde(skip)]
    pub group: usize,
}

/// The finished table.
#[derive(Debug, Clone, Serialize)]
pub struct Table {
    pub columns: Vec<Column>,
    pub rows: Vec<Row>,
}

/// `--columns` and `--sort`.
#[derive(Debug, Clone, Default)]
pub struct TableOptions {
    /// Column ids to show, in order; `None`: the default columns.
    pub columns: Option<Vec<String>>,
    /// A column id, with a trailing `-` for descending; `None`: by validation loss.
    pub sort: Option<String>,
}

/// A value to sort by.
#[derive(Debug, Clone, PartialEq)]
enum SortKey {
    Number(f64),
    Text(String),
    /// A value of runs that stopped early: after every finished value.
    Partial(f64),
    Missing,
}

impl Table {
    /// Build the table of `collected`.
    pub fn build(collected: &Collected, options: &TableOptions) -> Result<Table> {
        let columns = match &options.columns {
            Some(ids) => ids.iter().map(|id| column(collected, id)).collect::<Result<Vec<_>>>()?,
            None => default_columns(collected),
        };
        let (sort_id, descending) = match options.sort.as_deref() {
            Some(spec) => match spec.strip_suffix('-') {
                Some(id) => (id, true),
                None => (spec, false),
            },
            None => (Metric::ValidationLoss.id(), false),
        };
        let sort_column = column(collected, sort_id)?;

        let mut groups: Vec<(usize, &Group)> = collected.groups.iter().enumerate().collect();
        groups.sort_by(|(_, a), (_, b)| {
            let (a, b) = (sort_key(collected, a, &sort_column), sort_key(collected, b, &sort_column));
            compare(&a, &b, descending)
        });
        let best: Vec<Option<f64>> = columns.iter().map(|c| best_value(collected, &c.kind)).collect();
        let rows = groups
            .into_iter()
            .map(|(index, group)| {
                let cells = columns.iter().zip(&best).map(|(c, best)| cell(collected, group, &c.kind, *best));
                Row {
                    cells: cells.collect(),
                    label: collected.label(group),
                    n: repeats(collected, group),
                    status: status(collected, group),
                    values: columns
                        .iter()
                        .map(|c| (c.id.clone(), raw_value(collected, group, &c.kind)))
                        .collect(),
                    group: index,
                }
            })
            .collect();
        Ok(Table { columns, rows })
    }
}

/// The varying keys, every metric, `n` when some row has repeats, `status` when some run
/// is not done.
fn default_columns(collected: &Collected) -> Vec<Column> {
    let mut kinds: Vec<Kind> = collected.shown_keys.iter().cloned().map(Kind::Key).collect();
    kinds.extend(Metric::ALL.map(Kind::Metric));
    if collected.groups.iter().any(|g| g.members.len() > 1) {
        kinds.push(Kind::N);
    }
    if collected.done_count() < collected.records.len() {
        kinds.push(Kind::Status);
    }
    kinds.into_iter().map(|kind| make_column(collected, kind)).collect()
}

/// The column named `id`: a metric, `n`, `status` or a matrix key.
fn column(collected: &Collected, id: &str) -> Result<Column> {
    let kind = if let Some(metric) = Metric::from_id(id) {
        Kind::Metric(metric)
    } else if id == "n" {
        Kind::N
    } else if id == "status" {
        Kind::Status
    } else if collected.experiment.matrix_keys.iter().any(|k| k == id) {
        Kind::Key(id.to_string())
    } else {
        let keys = collected.experiment.matrix_keys.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>();
        bail!(
            "unknown column `{id}`: use a matrix key ({}), a metric ({}), `n` or `status`",
            if keys.is_empty() { "none".to_string() } else { keys.join(", ") },
            Metric::ids()
        );
    };
    Ok(make_column(collected, kind))
}

fn make_column(collected: &Collected, kind: Kind) -> Column {
    let (id, label, numeric) = match &kind {
        Kind::Key(key) => {
            let numeric = collected.records.iter().all(|r| r.value_text(key).parse::<f64>().is_ok());
            (key.clone(), key.clone(), numeric)
        }
        Kind::Metric(Metric::ValidationLoss) => {
            let metric = Metric::ValidationLoss;
            let label = match budget(collected) {
                Some(inputs) => format!("{} ({} inputs)", metric.label(), thousands(inputs as i64)),
                None => metric.label().to_string(),
            };
            (metric.id().to_string(), label, true)
        }
        Kind::Metric(metric) => (metric.id().to_string(), metric.label().to_string(), true),
        Kind::N => ("n".to_string(), "n".to_string(), true),
        Kind::Status => ("status".to_string(), "status".to_string(), false),
    };
    Column { id, label, numeric, kind }
}

/// The training budget (`max_inputs`) when every run has the same.
pub fn budget(collected: &Collected) -> Option<u64> {
    let mut budgets = collected.experiment.runs.iter().map(|r| r.config.max_inputs);
    let first = budgets.next()?;
    budgets.all(|b| b == first).then_some(first)
}

fn sort_key(collected: &Collected, group: &Group, column: &Column) -> SortKey {
    match &column.kind {
        Kind::Key(key) => {
            let text = collected.records[group.members[0]].value_text(key);
            text.parse().map(SortKey::Number).unwrap_or(SortKey::Text(text))
        }
        Kind::Metric(metric) => match collected.value(group, *metric) {
            None => SortKey::Missing,
            Some(v) if v.stopped_at.is_some() => SortKey::Partial(v.stat.mean),
            Some(v) => SortKey::Number(v.stat.mean),
        },
        Kind::N => SortKey::Number(repeats(collected, group) as f64),
        Kind::Status => SortKey::Text(status(collected, group)),
    }
}

/// Ascending or descending; values of early-stopped runs after the others, missing values
/// last.
fn compare(a: &SortKey, b: &SortKey, descending: bool) -> Ordering {
    let order = match (a, b) {
        (SortKey::Missing, SortKey::Missing) => return Ordering::Equal,
        (SortKey::Missing, _) => return Ordering::Greater,
        (_, SortKey::Missing) => return Ordering::Less,
        (SortKey::Partial(a), SortKey::Partial(b)) => a.total_cmp(b),
        (SortKey::Partial(_), _) => return Ordering::Greater,
        (_, SortKey::Partial(_)) => return Ordering::Less,
        (SortKey::Number(a), SortKey::Number(b)) => a.total_cmp(b),
        (SortKey::Number(_), SortKey::Text(_)) => Ordering::Less,
        (SortKey::Text(_), SortKey::Number(_)) => Ordering::Greater,
        (SortKey::Text(a), SortKey::Text(b)) => a.cmp(b),
    };
    if descending { order.reverse() } else { order }
}

/// The best mean of a quality metric over the groups whose runs finished.
fn best_value(collected: &Collected, kind: &Kind) -> Option<f64> {
    let Kind::Metric(metric) = kind else { return None };
    let better = metric.better()?;
    let means = collected
        .groups
        .iter()
        .filter_map(|g| collected.value(g, *metric))
        .filter(|v| v.stopped_at.is_none())
        .map(|v| v.stat.mean);
    match better {
        Better::Lower => means.min_by(f64::total_cmp),
        Better::Higher => means.max_by(f64::total_cmp),
    }
}

fn cell(collected: &Collected, group: &Group, kind: &Kind, best: Option<f64>) -> String {
    let text = match kind {
        Kind::Key(key) => collected.records[group.members[0]].value_text(key),
        Kind::Metric(metric) => match collected.value(group, *metric) {
            None => String::new(),
            Some(value) => metric_cell(*metric, &value, best),
        },
        Kind::N => repeats(collected, group).to_string(),
        Kind::Status => status(collected, group),
    };
    text.replace('|', "\\|")
}

/// `0.8912 ± 0.0031`, bold when best; a run that stopped early shows its inputs in the loss
/// cell: `(780,000 inputs) 0.018970` (nn-experiments says "steps" for what are inputs).
fn metric_cell(metric: Metric, value: &GroupValue, best: Option<f64>) -> String {
    let text = Style::of(metric).stat(&value.stat);
    let text = if best == Some(value.stat.mean) && value.stopped_at.is_none() {
        format!("**{text}**")
    } else {
        text
    };
    match value.stopped_at {
        Some(inputs) if metric == Metric::ValidationLoss => {
            format!("({} inputs) {text}", thousands(inputs as i64))
        }
        _ => text,
    }
}

/// The runs a row's numbers come from (see [`Collected::value`]).
fn repeats(collected: &Collected, group: &Group) -> usize {
    collected.value(group, Metric::ValidationLoss).map_or(0, |v| v.stat.n)
}

fn raw_value(collected: &Collected, group: &Group, kind: &Kind) -> serde_json::Value {
    match kind {
        Kind::Key(key) => collected.records[group.members[0]].value_text(key).into(),
        Kind::Metric(metric) => serde_json::to_value(collected.value(group, *metric)).unwrap_or_default(),
        Kind::N => repeats(collected, group).into(),
        Kind::Status => status(collected, group).into(),
    }
}

/// `done`, `pending`, `failed: <first line>`, `stale: ...`, `damaged: ...`, `stopped: at rung
/// ...` (`$halving`), or counts for a
/// group: `2 done, 1 failed: ...`.
fn status(collected: &Collected, group: &Group) -> String {
    const ORDER: [&str; 8] =
        ["done", "stopped", "running", "interrupted", "pending", "stale", "failed", "damaged"];
    let members: Vec<_> = collected.members(group).collect();
    let mut parts = Vec::new();
    for status in ORDER {
        let runs: Vec<_> = members.iter().filter(|r| r.status() == status).collect();
        if runs.is_empty() {
            continue;
        }
        let mut part =
            if members.len() == 1 { status.to_string() } else { format!("{} {status}", runs.len()) };
        if let Some(error) = runs.iter().find_map(|r| r.error_line()) {
            part = format!("{part}: {error}");
        }
        parts.push(part);
    }
    parts.join(", ")
}
