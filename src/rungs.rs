//! Which runs each `$halving` rung holds, decided from the run folders alone (read by
//! `expgrid run`, `plan` and `slurm`).
//!
//! Rung 0 is every run of the file, trained to the first budget. Rung k+1 is the best
//! [`Halving::keep`] of rung k by the metric in its validation row at rung k's budget (ties:
//! the lower matrix id), trained on from its checkpoint to the next budget. Which runs a rung
//! holds is computed from the run folders alone, the same way by every process, so
//! `--rung K` with `--shard` splits one rung between processes that cannot see each other;
//! rung k+1 cannot be computed before every run of rung k has its row at rung k's budget.
//! A run trained to a rung is done for that rung (`result.json` records its inputs); only a
//! promotion trains it further.

use std::path::Path;

use crate::config::Experiment;
use crate::config::halving::Halving;
use crate::metrics::{Better, Metric};
use crate::rundir::{MetricsRow, RunDir, Standing};

/// The rungs of a `$halving` file as far as its run folders decide them.
#[derive(Debug, Clone, PartialEq)]
pub struct Ladder {
    /// The budget of each rung, in inputs (the last is `max_inputs`).
    pub budgets: Vec<u64>,
    /// The runs of each decided rung (indices into the experiment's runs, in plan order).
    pub rungs: Vec<Vec<usize>>,
    /// Why the next rung is not decided yet (`None` when every rung is).
    pub undecided: Option<String>,
}

impl Ladder {
    /// Decide rungs 0 to `up_to` (or as many as the run folders allow).
    pub fn read(exp: &Experiment, halving: &Halving, runs_dir: &Path, up_to: usize) -> Ladder {
        let budgets = halving.run_budgets(&exp.runs);
        let mut rungs = vec![(0..exp.runs.len()).collect::<Vec<_>>()];
        let mut undecided = None;
        while rungs.len() < budgets.len().min(up_to.saturating_add(1)) {
            let rung = rungs.len() - 1;
            match promoted(exp, halving, &rungs[rung], budgets[rung], runs_dir) {
                Ok(next) => rungs.push(next),
                Err(missing) => {
                    undecided = Some(format!(
                        "rung {rung} ({} inputs) is not complete: {missing}; `expgrid run {} --rung {rung}` trains it",
                        budgets[rung],
                        exp.file.display()
                    ));
                    break;
                }
            }
        }
        Ladder { budgets, rungs, undecided }
    }

    /// The highest decided rung that holds run `index`.
    pub fn rung_of(&self, index: usize) -> usize {
        self.rungs.iter().rposition(|runs| runs.contains(&index)).unwrap_or(0)
    }
}

/// The best [`Halving::keep`] runs of `rung` at `budget`, or which runs have no validation
/// at the budget yet.
fn promoted(
    exp: &Experiment,
    halving: &Halving,
    rung: &[usize],
    budget: u64,
    runs_dir: &Path,
) -> Result<Vec<usize>, String> {
    let mut ranked = Vec::new();
    let mut missing = Vec::new();
    for &index in rung {
        let run = &exp.runs[index];
        let cost = RunDir::new(runs_dir, &run.config.experiment_name).ok().and_then(|dir| {
            let current = matches!(dir.standing(&run.resolved), Standing::Current(_));
            let metrics = dir.metrics().ok()?;
            let row = metrics.iter().find(|row| row.inputs >= budget)?;
            current.then(|| cost(halving.metric, row)).flatten()
        });
        match cost {
            Some(cost) => ranked.push((cost, index)),
            None => missing.push(run.matrix_id.as_str()),
        }
    }
    if !missing.is_empty() {
        return Err(format!("run {} has no validation at {budget} inputs", missing.join(", ")));
    }
    // NaN (never written: training stops at a non-finite loss) would rank last.
    ranked.sort_by(|(a, i), (b, j)| a.total_cmp(b).then(i.cmp(j)));
    let mut kept: Vec<usize> = ranked.into_iter().take(halving.keep(rung.len())).map(|(_, i)| i).collect();
    kept.sort_unstable();
    Ok(kept)
}

/// The metric in a validation row, turned so that lower is better.
fn cost(metric: Metric, row: &MetricsRow) -> Option<f64> {
    let value = row.get(metric)?;
    Some(if metric.better() == Some(Better::Higher) { -value } else { value })
}
