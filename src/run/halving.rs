//! `$halving` in `expgrid run`: rung by rung.
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

use anyhow::{Result, bail};

use super::{Job, Outcome, RunOptions, RunReport, full_runs, select_from, train_jobs};
use crate::config::Experiment;
use crate::config::halving::{HALVING_KEY, Halving, HalvingMetric};
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
fn cost(metric: HalvingMetric, row: &MetricsRow) -> Option<f64> {
    let value = match metric {
        HalvingMetric::ValidationLoss => Some(row.validation_loss),
        HalvingMetric::AccuracyArgmax => Some(row.accuracy_argmax),
        HalvingMetric::AccuracySvc => row.accuracy_svc,
        HalvingMetric::AccuracySvcHeldout => row.accuracy_svc_heldout,
    }?;
    Some(if metric.higher_is_better() { -value } else { value })
}

/// `expgrid run` with `$halving` files: every rung in turn (rung 0 also trains the runs of
/// files without `$halving`), or only `options.rung`. A rung with a failed, interrupted or
/// stale run ends the call; the next call picks up from the run folders.
pub fn run_rungs(experiments: &[Experiment], options: &RunOptions) -> Result<Vec<RunReport>> {
    if options.rung.is_none() && (options.shard.is_some() || !options.only.is_empty()) {
        bail!(
            "--shard and --only choose among the runs of one `{HALVING_KEY}` rung: add --rung K \
             (0 for the first; rung K+1 can start once every run of rung K finished)"
        );
    }
    if let (Some(rung), Some(exp)) = (options.rung, experiments.iter().find(|exp| exp.halving.is_none())) {
        bail!("--rung {rung}: {} has no `{HALVING_KEY}` in its matrix", exp.file.display());
    }
    let rungs = experiments.iter().filter_map(|exp| Some(exp.halving.as_ref()?.run_budgets(&exp.runs).len()));
    let last = rungs.max().unwrap_or(1) - 1;
    let (first, last) = match options.rung {
        Some(rung) if rung > last => bail!("--rung {rung}: the files have rungs 0 to {last}"),
        Some(rung) => (rung, rung),
        None => (0, last),
    };
    let mut reports = Vec::new();
    for rung in first..=last {
        let mut candidates = Vec::new();
        for exp in experiments {
            let Some(halving) = &exp.halving else {
                if rung == 0 {
                    candidates.extend(full_runs(std::slice::from_ref(exp)));
                }
                continue;
            };
            let ladder = Ladder::read(exp, halving, &options.runs_dir, rung);
            let Some(runs) = ladder.rungs.get(rung) else {
                if rung < ladder.budgets.len() {
                    bail!("{}", ladder.undecided.unwrap_or_default());
                }
                continue;
            };
            let stop_at = ladder.budgets[rung];
            candidates.extend(runs.iter().map(|&i| Job { exp, run: &exp.runs[i], stop_at }));
        }
        let jobs = select_from(candidates, &options.only, options.shard)?;
        // `--reset` starts the runs from scratch once, at their first rung.
        let options = RunOptions { reset: options.reset && rung == first, ..options.clone() };
        let trained = train_jobs(jobs, &options);
        let unfinished = trained.iter().any(|report| {
            matches!(report.outcome, Outcome::Failed(_) | Outcome::Interrupted(_) | Outcome::Stale(_))
        });
        reports.extend(trained);
        if unfinished || crate::stop::requested().is_some() {
            break;
        }
    }
    Ok(reports)
}
