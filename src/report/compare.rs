//! `report: {baseline: {...}}`: every row's difference to its baseline row for each quality
//! metric, with a 95 % interval, a p-value and the repeats that would make it significant.
//!
//! The baseline of a row is the row whose baseline keys take the baseline values and whose
//! other keys (those not in `report.group_over`) equal the row's. Two rows are compared by
//! the paired t-test when both ran the same seeds (two or more), else by Welch's t-test;
//! with a single run on either side there is no interval.

use anyhow::{Result, bail};
use indexmap::IndexMap;
use serde::Serialize;
use serde_json::Value;

use super::collect::{Better, Collected, Group, Metric, RunRecord};
use super::format::Style;
use super::stats::{self, Difference, Test};

/// The baseline values as `report.baseline` or `--baseline` give them.
pub type BaselineSpec = IndexMap<String, Value>;

/// The metrics a comparison covers: those with a direction (not cost metrics).
pub fn compared_metrics() -> impl Iterator<Item = Metric> {
    Metric::ALL.into_iter().filter(|m| m.better().is_some())
}

/// Each group's baseline, resolved against the collected runs.
#[derive(Debug, Clone)]
pub struct Baselines {
    /// `alpha=0.0`.
    pub label: String,
    /// The other keys a baseline is matched within (the shown keys not in the spec).
    pub within: Vec<String>,
    /// For each group of [`Collected::groups`]: the index of its baseline group; `None` for a
    /// baseline group and for a group whose baseline was not planned.
    pub of: Vec<Option<usize>>,
}

impl Baselines {
    /// The baselines named by `report.baseline` of the experiment, if it names any.
    pub fn from_config(collected: &Collected) -> Result<Option<Baselines>> {
        let spec = collected.experiment.runs.first().and_then(|r| r.config.report.baseline.as_ref());
        spec.map(|spec| Baselines::resolve(collected, spec)).transpose()
    }

    /// Match `spec` against the groups; an error names the key and the values it can take.
    pub fn resolve(collected: &Collected, spec: &BaselineSpec) -> Result<Baselines> {
        let file = collected.experiment.file.display();
        let keys = &collected.experiment.matrix_keys;
        if spec.is_empty() {
            bail!("{file}: report.baseline names no matrix value: write e.g. `baseline: {{alpha: 0.0}}`");
        }
        for key in spec.keys() {
            if !keys.contains(key) {
                bail!(
                    "{file}: report.baseline: `{key}` is not a matrix key (keys: {})",
                    if keys.is_empty() { "none".to_string() } else { keys.join(", ") }
                );
            }
            if collected.group_over.contains(key) {
                bail!(
                    "{file}: report.baseline: `{key}` is in report.group_over, so its runs are repeats of one row, not a baseline: name a key that tells rows apart"
                );
            }
        }
        let first = |group: &Group| &collected.records[group.members[0]];
        let is_baseline: Vec<bool> = collected.groups.iter().map(|g| matches(first(g), spec)).collect();
        if !is_baseline.contains(&true) {
            bail!("{file}: report.baseline: {}", no_baseline_reason(collected, spec));
        }
        let within: Vec<String> =
            collected.shown_keys.iter().filter(|k| !spec.contains_key(*k)).cloned().collect();
        let context =
            |group: &Group| -> Vec<String> { within.iter().map(|k| first(group).value_text(k)).collect() };
        let baseline_by_context: IndexMap<Vec<String>, usize> = collected
            .groups
            .iter()
            .enumerate()
            .filter(|(i, _)| is_baseline[*i])
            .map(|(i, g)| (context(g), i))
            .collect();
        let of = collected
            .groups
            .iter()
            .enumerate()
            .map(|(i, g)| if is_baseline[i] { None } else { baseline_by_context.get(&context(g)).copied() })
            .collect();
        Ok(Baselines { label: spec_label(spec), within, of })
    }
}

/// Why no run matches `spec`: a value no run has (with the values the key takes), or
/// values that no run has together.
fn no_baseline_reason(collected: &Collected, spec: &BaselineSpec) -> String {
    let missing = spec.iter().find(|(k, v)| !collected.records.iter().any(|r| same(r, k, v)));
    let Some((key, value)) = missing else {
        return format!("no planned run has {} together", spec_label(spec));
    };
    let mut values: Vec<String> = Vec::new();
    for record in &collected.records {
        let text = record.value_text(key);
        if !values.contains(&text) {
            values.push(text);
        }
    }
    format!("no planned run has {key}={} (the planned runs have {key} = {})", text(value), values.join(", "))
}

/// `alpha=0.0, opt=SGD`.
fn spec_label(spec: &BaselineSpec) -> String {
    spec.iter().map(|(k, v)| format!("{k}={}", text(v))).collect::<Vec<_>>().join(", ")
}

/// A value as the report writes matrix values (strings without quotes).
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn matches(record: &RunRecord, spec: &BaselineSpec) -> bool {
    spec.iter().all(|(key, value)| same(record, key, value))
}

/// Does the run's matrix value of `key` equal `value` (numbers by value: `0` matches `0.0`)?
fn same(record: &RunRecord, key: &str, value: &Value) -> bool {
    record.planned.values.get(key).is_some_and(|node| crate::config::matrix_value_is(node, value))
}

/// Parse `--baseline alpha=0.0,opt=SGD` (values as JSON when they parse, else text).
pub fn parse_spec(text: &str) -> Result<BaselineSpec> {
    text.split(',')
        .map(|pair| match pair.split_once('=') {
            Some((key, value)) if !key.trim().is_empty() => {
                let value = value.trim();
                Ok((
                    key.trim().to_string(),
                    serde_json::from_str(value).unwrap_or_else(|_| Value::from(value)),
                ))
            }
            _ => bail!(
                "--baseline takes KEY=VALUE pairs separated by commas (e.g. `alpha=0.0`), found `{pair}`"
            ),
        })
        .collect()
}

/// One metric of one row against its baseline.
#[derive(Debug, Clone)]
pub struct MetricDiff {
    /// `mean(row) - mean(baseline)`.
    pub diff: f64,
    /// Runs on each side.
    pub n: usize,
    pub baseline_n: usize,
    /// The t-test; `None` with a single run on either side or no variance at all.
    pub test: Option<Difference>,
    /// The repeats per row at which `diff` would be significant at the observed variance.
    pub repeats_needed: Option<usize>,
}

impl MetricDiff {
    /// Does the 95 % interval exclude 0?
    pub fn significant(&self) -> bool {
        self.test.is_some_and(|t| t.significant())
    }

    /// Is the row's mean better than the baseline's in `metric`'s direction?
    pub fn improves(&self, metric: Metric) -> bool {
        match metric.better() {
            Some(Better::Lower) => self.diff < 0.0,
            Some(Better::Higher) => self.diff > 0.0,
            None => false,
        }
    }
}

/// `(seed, value)` samples.
pub type Samples = Vec<(u64, f64)>;

/// Compare `row` with `baseline`: paired when both have the same two or more seeds, else
/// Welch's test; `None` when a side has no sample.
pub fn compare(row: &Samples, baseline: &Samples) -> Option<MetricDiff> {
    let mean = |s: &Samples| s.iter().map(|(_, v)| v).sum::<f64>() / s.len() as f64;
    if row.is_empty() || baseline.is_empty() {
        return None;
    }
    let by_seed = |s: &Samples| {
        let mut s = s.clone();
        s.sort_by_key(|(seed, _)| *seed);
        s
    };
    let (a, b) = (by_seed(row), by_seed(baseline));
    let seeds = |s: &Samples| s.iter().map(|(seed, _)| *seed).collect::<Vec<_>>();
    let unique = seeds(&a).windows(2).all(|w| w[0] != w[1]);
    let values = |s: &Samples| s.iter().map(|(_, v)| *v).collect::<Vec<_>>();
    let test = if unique && seeds(&a) == seeds(&b) {
        stats::paired(&values(&a), &values(&b))
    } else {
        stats::welch(&values(&a), &values(&b))
    };
    Some(MetricDiff {
        diff: mean(&a) - mean(&b),
        n: a.len(),
        baseline_n: b.len(),
        repeats_needed: test.as_ref().and_then(stats::repeats_needed),
        test,
    })
}

/// A group's finished values of `metric` by seed; empty unless every reported run finished.
fn final_samples(collected: &Collected, group: &Group, metric: Metric) -> Samples {
    let reported = collected.reported(group);
    if !reported.iter().all(|r| r.outcome.as_ref().is_some_and(|o| o.finished)) {
        return Vec::new();
    }
    reported.iter().filter_map(|r| Some((r.planned.config.seed, r.outcome.as_ref()?.get(metric)?))).collect()
}

/// The values of `metric` by seed of a group's reported runs that validated at `inputs`.
pub fn curve_samples(collected: &Collected, group: &Group, inputs: u64, metric: Metric) -> Samples {
    collected
        .reported(group)
        .iter()
        .filter_map(|r| {
            let row = r.metrics.iter().find(|m| m.inputs == inputs)?;
            Some((r.planned.config.seed, row.get(metric)?))
        })
        .collect()
}

/// Every compared group's final differences, per metric.
#[derive(Debug, Clone)]
pub struct Comparison {
    pub baselines: Baselines,
    /// For each group: its differences (by [`compared_metrics`] order; `None` where a side
    /// has no finished value), or `None` when it has no baseline.
    pub diffs: Vec<Option<Vec<Option<MetricDiff>>>>,
}

impl Comparison {
    pub fn new(collected: &Collected, baselines: Baselines) -> Comparison {
        let diffs = baselines
            .of
            .iter()
            .enumerate()
            .map(|(i, of)| {
                let (group, baseline) = (&collected.groups[i], &collected.groups[(*of)?]);
                Some(
                    compared_metrics()
                        .map(|m| {
                            compare(
                                &final_samples(collected, group, m),
                                &final_samples(collected, baseline, m),
                            )
                        })
                        .collect(),
                )
            })
            .collect();
        Comparison { baselines, diffs }
    }

    /// The report's comparison table (rows in `order`, a list of group indices).
    pub fn table(&self, collected: &Collected, order: &[usize]) -> ComparisonTable {
        let mut rows = Vec::new();
        let (mut compared, mut significant, mut better, mut single, mut unfinished) = (0, 0, 0, 0, 0);
        for &g in order {
            let Some(diffs) = &self.diffs[g] else { continue };
            if diffs.iter().all(Option::is_none) {
                unfinished += 1;
                continue;
            }
            for (metric, diff) in compared_metrics().zip(diffs) {
                let Some(diff) = diff else { continue };
                compared += 1;
                significant += usize::from(diff.significant());
                better += usize::from(diff.significant() && diff.improves(metric));
                single += usize::from(diff.n == 1 || diff.baseline_n == 1);
                rows.push(comparison_row(collected.label(&collected.groups[g]), metric, diff));
            }
        }
        let columns = ["row", "metric", "difference", "95 % interval", "p", "test", "repeats for p < 0.05"];
        ComparisonTable {
            baseline: self.baselines.label.clone(),
            within: self.baselines.within.clone(),
            columns: columns.map(String::from).to_vec(),
            rows,
            compared,
            significant,
            better,
            single,
            unfinished,
        }
    }
}

/// What the markdown template shows of a comparison.
#[derive(Debug, Clone, Serialize)]
pub struct ComparisonTable {
    /// The baseline values, `alpha=0.0`.
    pub baseline: String,
    /// The keys a baseline is matched within.
    pub within: Vec<String>,
    pub columns: Vec<String>,
    /// Cell texts; a difference whose interval excludes 0 is **bold**.
    pub rows: Vec<Vec<String>>,
    /// Differences shown.
    pub compared: usize,
    /// Differences whose interval excludes 0.
    pub significant: usize,
    /// Of those, the ones in the metric's better direction (a lower loss, a higher accuracy).
    pub better: usize,
    /// Differences with a single run on a side (no interval).
    pub single: usize,
    /// Rows without finished runs on both sides (not shown).
    pub unfinished: usize,
}

fn comparison_row(label: String, metric: Metric, diff: &MetricDiff) -> Vec<String> {
    let style = Style::of(metric);
    let largest = diff.test.map_or(diff.diff.abs(), |t| t.low.abs().max(t.high.abs()));
    let signed = |v: f64| {
        let text = style.value_like(v, largest);
        if v >= 0.0 { format!("+{text}") } else { text }
    };
    let bold = |text: String| if diff.significant() { format!("**{text}**") } else { text };
    let (interval, p, test) = match &diff.test {
        Some(t) => (
            bold(format!("[{}, {}]", signed(t.low), signed(t.high))),
            p_text(t.p),
            match t.test {
                Test::Welch => format!("Welch, {} vs {} runs", diff.n, diff.baseline_n),
                Test::Paired => format!("paired, {} seeds", diff.n),
            },
        ),
        None if diff.n == 1 || diff.baseline_n == 1 => {
            ("—".into(), "—".into(), format!("n = {} vs {}: no interval", diff.n, diff.baseline_n))
        }
        None => ("—".into(), "—".into(), "no variance: no interval".into()),
    };
    let repeats = match (&diff.test, diff.repeats_needed) {
        (None, _) => "—".to_string(),
        (Some(_), Some(n)) => super::format::thousands(n as i64),
        (Some(_), None) if diff.diff == 0.0 => "never".to_string(),
        (Some(_), None) => format!("> {}", super::format::thousands(stats::MAX_REPEATS as i64)),
    };
    [label, metric.label().to_string(), bold(signed(diff.diff)), interval, p, test, repeats]
        .map(|cell| cell.replace('|', "\\|"))
        .to_vec()
}

/// `0.82`, `0.047`, `< 0.001`.
fn p_text(p: f64) -> String {
    if p < 0.001 { "< 0.001".to_string() } else { format!("{p:.3}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_difference_improves_in_the_metrics_direction() {
        let lower = compare(&vec![(0, 0.9), (1, 0.8)], &vec![(0, 1.0), (1, 0.95)]).unwrap();
        assert!(lower.improves(Metric::ValidationLoss));
        assert!(!lower.improves(Metric::AccuracyArgmax));
        assert!(!lower.improves(Metric::TrainTime), "cost metrics have no better direction");
    }
}
