//! `expgrid plan`: the runs of experiment files as a terminal table or JSON.

use serde::Serialize;

use std::path::Path;

use crate::config::{Experiment, Node, PlannedRun, expr};
use crate::rundir::RunDir;
use crate::rungs::Ladder;

/// One row of the plan, as printed by `--format json`.
#[derive(Debug, Serialize)]
pub struct PlanRow<'a> {
    pub file: String,
    pub matrix_id: &'a str,
    pub matrix_slug: &'a str,
    pub experiment_name: &'a str,
    pub values: &'a indexmap::IndexMap<String, Node>,
    /// pending, running, interrupted, done, stopped (done at a `$halving` rung below
    /// `max_inputs`), failed, stale (trained with an older config) or damaged (from the run
    /// folder).
    pub status: String,
    /// Trainable parameters, computed without building the model.
    pub params: usize,
    /// With `$halving`: the highest rung the run is promoted to so far (0: every run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rung: Option<usize>,
}

/// The rung of each run of a `$halving` file (see [`PlanRow::rung`]).
fn rungs(exp: &Experiment, runs_dir: &Path) -> Vec<Option<usize>> {
    let Some(halving) = &exp.halving else { return vec![None; exp.runs.len()] };
    let ladder = Ladder::read(exp, halving, runs_dir, usize::MAX);
    (0..exp.runs.len()).map(|index| Some(ladder.rung_of(index))).collect()
}

/// `$halving: rungs at 100, 200, 400 inputs for 4, 2, 1 runs (by validation_loss, eta 2)`.
fn halving_line(exp: &Experiment) -> Option<String> {
    let halving = exp.halving.as_ref()?;
    let budgets = halving.run_budgets(&exp.runs);
    let sizes = halving.rung_sizes(exp.runs.len(), budgets.len());
    let list = |items: Vec<String>| items.join(", ");
    Some(format!(
        "$halving: rungs at {} inputs for {} runs (by {}, eta {})\n",
        list(budgets.iter().map(u64::to_string).collect()),
        list(sizes.iter().map(usize::to_string).collect()),
        halving.metric.id(),
        halving.eta
    ))
}

/// The status of a run from its folder below `runs_dir`, against the file's config; a run
/// done below its `max_inputs` (a `$halving` rung) is `stopped`, as in the reports.
pub fn status(run: &PlannedRun, runs_dir: &Path) -> String {
    let dir = match RunDir::new(runs_dir, &run.config.experiment_name) {
        Ok(dir) => dir,
        Err(err) => return format!("unreadable: {err:#}"),
    };
    let standing = dir.standing(&run.resolved);
    let result = dir.result().ok().flatten();
    match standing.stopped_at(result.as_ref(), run.config.max_inputs) {
        Some(_) => "stopped".into(),
        None => standing.label(),
    }
}

/// Why a run is stale or damaged (and what to do), if it is.
fn status_note(run: &PlannedRun, runs_dir: &Path) -> Option<String> {
    RunDir::new(runs_dir, &run.config.experiment_name).ok().map(|dir| dir.standing(&run.resolved))?.detail()
}

/// The rows of all runs of the experiments, in file and matrix order.
pub fn rows<'a>(experiments: &'a [Experiment], runs_dir: &'a Path) -> Vec<PlanRow<'a>> {
    experiments
        .iter()
        .flat_map(|exp| {
            exp.runs.iter().zip(rungs(exp, runs_dir)).map(move |(run, rung)| PlanRow {
                file: exp.file.display().to_string(),
                matrix_id: &run.matrix_id,
                matrix_slug: &run.matrix_slug,
                experiment_name: &run.config.experiment_name,
                values: &run.values,
                status: status(run, runs_dir),
                // Validated at load time, so never an error here.
                params: run.params().unwrap_or(0),
                rung,
            })
        })
        .collect()
}

/// The plan as pretty JSON (an array of objects).
pub fn to_json(experiments: &[Experiment], runs_dir: &Path) -> String {
    serde_json::to_string_pretty(&rows(experiments, runs_dir)).expect("plan rows serialize")
}

/// The plan as an aligned text table, one block per file.
pub fn to_table(experiments: &[Experiment], runs_dir: &Path) -> String {
    let mut out = String::new();
    for exp in experiments {
        out.push_str(&format!(
            "{}: {} runs ({} combinations before the filter{})\n",
            exp.file.display(),
            exp.runs.len(),
            exp.product_size,
            exp.sampled_from.map_or(String::new(), |from| format!(
                ", {from} after it; $sample drew {} of them, keeping their ids",
                exp.runs.len()
            ))
        ));
        out.push_str(&halving_line(exp).unwrap_or_default());
        let header = ["id", "status", "rung", "params", "slug", "experiment_name"];
        let mut table = vec![header.iter().map(|h| h.to_string()).collect::<Vec<_>>()];
        table[0].extend(exp.matrix_keys.iter().cloned());
        let rungs = rungs(exp, runs_dir);
        if exp.halving.is_none() {
            table[0].remove(2);
        }
        for (run, rung) in exp.runs.iter().zip(rungs) {
            let mut row = vec![run.matrix_id.clone(), status(run, runs_dir)];
            row.extend(rung.map(|rung| rung.to_string()));
            row.extend([
                run.params().unwrap_or(0).to_string(),
                run.matrix_slug.clone(),
                run.config.experiment_name.clone(),
            ]);
            row.extend(
                exp.matrix_keys
                    .iter()
                    .map(|k| run.values.get(k).map(|n| expr::to_text(&n.value)).unwrap_or_default()),
            );
            table.push(row);
        }
        out.push_str(&align(&table));
        for run in &exp.runs {
            if let Some(note) = status_note(run, runs_dir) {
                out.push_str(&format!("run {}: {note}\n", run.matrix_id));
            }
        }
    }
    out
}

/// Left-aligned columns separated by two spaces.
fn align(table: &[Vec<String>]) -> String {
    let columns = table.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| table.iter().filter_map(|row| row.get(c)).map(|s| s.chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in table {
        let cells: Vec<String> = row.iter().zip(&widths).map(|(cell, w)| format!("{cell:<w$}")).collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}
