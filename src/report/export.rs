//! Every number of every run as flat records, written as CSV (spreadsheets, pandas) or JSON.

use anyhow::Result;
use indexmap::IndexMap;
use serde_json::{Value, json};

use super::collect::{Collected, Metric, RunRecord};

/// One CSV row or JSON object.
pub type Record = IndexMap<String, Value>;

/// One record per run: identity, matrix values, state and final numbers. With `curves`,
/// CSV gets one record per validation instead and JSON a `curve` array in each run.
pub fn records(collected: &Collected, curves: Curves) -> Vec<Record> {
    let mut out = Vec::new();
    for record in &collected.records {
        let mut run = run_record(collected, record);
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
