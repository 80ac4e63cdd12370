//! `$halving` in `expgrid run`: rung by rung, each rung's runs decided by [`Ladder`].

use anyhow::{Result, bail};

use super::{Job, Outcome, RunOptions, RunReport, full_runs, select_from, train_jobs};
use crate::config::Experiment;
use crate::config::halving::HALVING_KEY;
use crate::rungs::Ladder;

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
