//! Every number of every run as flat records, written as CSV (spreadsheets, pandas) or JSON.

use anyhow::Result;
use indexmap::IndexMap;
use serde_json::{Value, json};

use super::collect::{Collected, Metric, RunRecord};
use super::compare::{Comparison, MetricDiff, compared_metrics};

/// One CSV row or JSON object.
pub type Record = IndexMap<String, Value>;

/// One record per run: identity, matrix values, state and final numbers, and with a
/// `comparison` the differences of the run's row to its baseline. With `curves`, CSV gets
/// one record per validation instead and JSON a `curve` array in each run.
pub fn records(collected: &Collected, curves: Curves, comparison: Option<&Comparison>) -> Vec<Record> {
    let mut group_of = vec![0; collected.records.len()];
    for (g, group) in collected.groups.iter().enumerate() {
        for &member in &group.members {
            group_of[member] = g;
        }
    }
    let mut out = Vec::new();
    for (index, record) in collected.records.iter().enumerate() {
        let mut run = run_record(collected, record);
        if let (Some(comparison), false) = (comparison, curves == Curves::Flat) {
            add_comparison(&mut run, collected, comparison, group_of[index]);
        }
        match curves {
            Curves::None => out.push(run),
            Curves::Nested => {
                let rows = record.metrics.iter().map(|m| serde_json::to_value(m).unwrap_or_default());
                run.insert("curve".into(), Value::Array(rows.collect()));
                out.push(run);
            }
            Curves::Flat => {
                let identity: Record = run.into_iter().take(identity_len(collected)).collect();
                for row in &record.metrics {
                    let mut flat = identity.clone();
                    if let Value::Object(fields) = serde_json::to_value(row).unwrap_or_default() {
                        flat.extend(fields);
                    }
                    out.push(flat);
                }
            }
        }
    }
    out
}

/// How validation rows are included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curves {
    None,
    /// A `curve` array per run (JSON).
    Nested,
    /// One record per validation (CSV).
    Flat,
}

/// The leading fields that name a run: file, id, slug, name, matrix values.
fn identity_len(collected: &Collected) -> usize {
    4 + collected.experiment.matrix_keys.len()
}

fn run_record(collected: &Collected, record: &RunRecord) -> Record {
    let planned = &record.planned;
    let mut out = Record::new();
    out.insert("file".into(), collected.experiment.file.display().to_string().into());
    out.insert("matrix_id".into(), planned.matrix_id.clone().into());
    out.insert("matrix_slug".into(), planned.matrix_slug.clone().into());
    out.insert("experiment_name".into(), planned.config.experiment_name.clone().into());
    for key in &collected.experiment.matrix_keys {
        let value = planned.values.get(key).map(|n| serde_json::to_value(n).unwrap_or_default());
        out.insert(key.clone(), value.unwrap_or_default());
    }
    let info = record.info.as_ref();
    let outcome = record.outcome.as_ref();
    out.insert("status".into(), record.status().into());
    out.insert("error".into(), json!(record.error()));
    out.insert("seed".into(), planned.config.seed.into());
    out.insert("max_inputs".into(), planned.config.max_inputs.into());
    out.insert("inputs".into(), json!(outcome.map(|o| o.inputs)));
    out.insert("finished".into(), json!(outcome.is_some_and(|o| o.finished)));
    for metric in Metric::ALL {
        let value = outcome.and_then(|o| o.get(metric));
        let value = if metric == Metric::Params { json!(value.map(|v| v as u64)) } else { json!(value) };
        out.insert(metric.id().into(), value);
    }
    out.insert("backend".into(), json!(info.map(|i| i.backend.clone())));
    out.insert("device".into(), json!(info.map(|i| i.device.clone())));
    out.insert("expgrid_version".into(), json!(info.map(|i| i.expgrid_version.clone())));
    out.insert("started_at".into(), json!(info.and_then(|i| i.started_at.clone())));
    out.insert("finished_at".into(), json!(info.and_then(|i| i.finished_at.clone())));
    out
}

/// The differences of group `g` to its baseline: `baseline_row` (the baseline's label, null
/// for a baseline row) and per quality metric `<metric>_diff`, `_diff_low`, `_diff_high`,
/// `_diff_p`, `_diff_test` (`welch` or `paired`), `_diff_significant` (the interval
/// excludes 0) and `_diff_repeats_needed`.
fn add_comparison(out: &mut Record, collected: &Collected, comparison: &Comparison, g: usize) {
    let baseline = comparison.baselines.of[g].map(|b| collected.label(&collected.groups[b]));
    out.insert("baseline_row".into(), json!(baseline));
    let diffs = comparison.diffs[g].as_deref().unwrap_or_default();
    for (i, metric) in compared_metrics().enumerate() {
        let diff: Option<&MetricDiff> = diffs.get(i).and_then(Option::as_ref);
        let test = diff.and_then(|d| d.test);
        let id = metric.id();
        out.insert(format!("{id}_diff"), json!(diff.map(|d| d.diff)));
        out.insert(format!("{id}_diff_low"), json!(test.map(|t| t.low)));
        out.insert(format!("{id}_diff_high"), json!(test.map(|t| t.high)));
        out.insert(format!("{id}_diff_p"), json!(test.map(|t| t.p)));
        out.insert(format!("{id}_diff_test"), json!(test.map(|t| t.test)));
        out.insert(format!("{id}_diff_significant"), json!(test.map(|t| t.significant())));
        out.insert(format!("{id}_diff_repeats_needed"), json!(diff.and_then(|d| d.repeats_needed)));
    }
}

/// Records as CSV: the union of their fields as the header, empty cells for nulls, JSON
/// text for lists and mappings.
pub fn to_csv(records: &[Record]) -> Result<String> {
    let mut header: Vec<&String> = Vec::new();
    for key in records.iter().flat_map(|r| r.keys()) {
        if !header.contains(&key) {
            header.push(key);
        }
    }
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(&header)?;
    for record in records {
        writer.write_record(header.iter().map(|key| cell(record.get(*key))))?;
    }
    Ok(String::from_utf8(writer.into_inner()?)?)
}

fn cell(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// Records as a pretty JSON array.
pub fn to_json(records: &[Record]) -> Result<String> {
    let mut text = serde_json::to_string_pretty(records)?;
    text.push('\n');
    Ok(text)
}
