//! Reading run folders: every planned run's state and numbers, and the groups of repeats.

use std::path::Path;

use anyhow::Result;
use indexmap::IndexMap;
use serde::Serialize;

use super::stats::Stat;
use crate::config::{Experiment, PlannedRun};
use crate::rundir::{MetricsRow, RunDir, RunInfo, RunState, Standing};

pub use crate::metrics::{Better, Metric};

/// The numbers of one run: from `result.json` when done, else its last validation.
#[derive(Debug, Clone, PartialEq)]
pub struct RunNumbers {
    /// Training inputs seen.
    pub inputs: u64,
    /// Did the run finish its budget?
    pub finished: bool,
    values: [Option<f64>; Metric::ALL.len()],
}

impl RunNumbers {
    pub fn get(&self, metric: Metric) -> Option<f64> {
        self.values[metric as usize]
    }
}

/// One planned run and what its folder holds.
#[derive(Debug, Clone)]
pub struct RunRecord {
    pub planned: PlannedRun,
    pub state: RunState,
    /// The state checked against the file's config and the run's files.
    pub standing: Standing,
    pub info: Option<RunInfo>,
    pub outcome: Option<RunNumbers>,
    pub metrics: Vec<MetricsRow>,
    /// `$halving` stopped it at this rung and budget (done there, not promoted).
    pub stopped_at_rung: Option<(usize, u64)>,
}

impl RunRecord {
    /// A matrix value as text (`""` if the run has no such key).
    pub fn value_text(&self, key: &str) -> String {
        self.planned.values.get(key).map(|n| n.value_text()).unwrap_or_default()
    }

    /// Why the run failed, is stale or is damaged (and what to do).
    pub fn error(&self) -> Option<String> {
        let stopped = self.stopped_at_rung.map(|(rung, inputs)| {
            format!("at rung {rung} ({inputs} inputs): `$halving` did not promote it (yet)")
        });
        self.standing.detail().or(stopped).or_else(|| self.info.as_ref()?.error.clone())
    }

    /// The first line of [`error`](Self::error).
    pub fn error_line(&self) -> Option<String> {
        self.error().map(|e| e.lines().next().unwrap_or_default().to_string())
    }

    /// The status word: the state, `stale`, `damaged`, or `stopped` (at a `$halving` rung).
    pub fn status(&self) -> String {
        if self.stopped_at_rung.is_some() { "stopped".into() } else { self.standing.label() }
    }

    /// Whatever of the folder can be read: one damaged file hides only its own numbers.
    /// `budgets`: the `$halving` rung budgets of the file (empty without).
    fn read(planned: &PlannedRun, runs_dir: &Path, budgets: &[u64]) -> Result<RunRecord> {
        let dir = RunDir::new(runs_dir, &planned.config.experiment_name)?;
        let standing = dir.standing(&planned.resolved);
        let state = match &standing {
            Standing::Current(state) | Standing::Stale(state) => *state,
            Standing::Damaged(_) => dir.state().unwrap_or(RunState::Interrupted),
        };
        let info = dir.info().ok().flatten();
        let metrics = dir.metrics().unwrap_or_default();
        let result = if state == RunState::Done { dir.result().ok().flatten() } else { None };
        let params = info.as_ref().map(|i| i.params as f64);
        let stopped_at_rung = standing
            .stopped_at(result.as_ref(), planned.config.max_inputs)
            .and_then(|inputs| Some((budgets.iter().position(|&b| b == inputs)?, inputs)));
        let outcome = match (result, metrics.last()) {
            (Some(r), _) => Some(RunNumbers {
                inputs: r.inputs,
                finished: r.inputs >= planned.config.max_inputs,
                values: [
                    Some(r.validation_loss),
                    Some(r.accuracy_argmax),
                    r.accuracy_svc,
                    r.accuracy_svc_heldout,
                    Some(r.params as f64),
                    Some(r.train_time_s),
                    Some(r.throughput),
                ],
            }),
            (None, Some(last)) => Some(RunNumbers {
                inputs: last.inputs,
                finished: state == RunState::Done,
                values: [
                    Some(last.validation_loss),
                    Some(last.accuracy_argmax),
                    last.accuracy_svc,
                    last.accuracy_svc_heldout,
                    params,
                    Some(last.elapsed_s),
                    Some(last.throughput),
                ],
            }),
            (None, None) => None,
        };
        Ok(RunRecord { planned: planned.clone(), state, standing, info, outcome, metrics, stopped_at_rung })
    }
}

/// Runs that differ only in the `group_over` keys: repeats, reported as one row.
#[derive(Debug, Clone)]
pub struct Group {
    /// Indices into [`Collected::records`], in plan order.
    pub members: Vec<usize>,
}

/// A group's value of one metric.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GroupValue {
    #[serde(flatten)]
    pub stat: Stat,
    /// `Some(inputs)` when the runs behind it stopped early (the fewest inputs among them).
    pub stopped_at: Option<u64>,
}

/// An experiment file with every run folder read.
#[derive(Debug, Clone)]
pub struct Collected {
    pub experiment: Experiment,
    pub records: Vec<RunRecord>,
    pub groups: Vec<Group>,
    /// Matrix keys whose runs are repeats (`report.group_over`).
    pub group_over: Vec<String>,
    /// Matrix keys that vary between groups: they tell the rows apart.
    pub shown_keys: Vec<String>,
}

impl Collected {
    /// Load `file` and read its runs below `runs_dir`.
    pub fn load(file: &Path, runs_dir: &Path) -> Result<Collected> {
        let experiment = Experiment::load(file).map_err(|errors| anyhow::anyhow!("{errors}"))?;
        Collected::read(experiment, runs_dir)
    }

    /// Read the run folders of a planned experiment.
    pub fn read(experiment: Experiment, runs_dir: &Path) -> Result<Collected> {
        let budgets =
            experiment.halving.as_ref().map(|h| h.run_budgets(&experiment.runs)).unwrap_or_default();
        let records = experiment
            .runs
            .iter()
            .map(|run| RunRecord::read(run, runs_dir, &budgets))
            .collect::<Result<Vec<_>>>()?;
        let group_over: Vec<String> =
            experiment.runs.first().map(|r| r.config.report.group_over.clone()).unwrap_or_default();
        let shown_keys: Vec<String> = experiment
            .varying_keys()
            .into_iter()
            .filter(|k| !group_over.iter().any(|g| g == k))
            .map(String::from)
            .collect();
        let mut by_key: IndexMap<Vec<String>, Group> = IndexMap::new();
        for (index, record) in records.iter().enumerate() {
            let key = experiment
                .matrix_keys
                .iter()
                .filter(|k| !group_over.contains(k))
                .map(|k| record.value_text(k))
                .collect();
            by_key.entry(key).or_insert_with(|| Group { members: Vec::new() }).members.push(index);
        }
        let groups = by_key.into_values().collect();
        Ok(Collected { experiment, records, groups, group_over, shown_keys })
    }

    /// The records of a group.
    pub fn members<'a>(&'a self, group: &'a Group) -> impl Iterator<Item = &'a RunRecord> + 'a {
        group.members.iter().map(|&i| &self.records[i])
    }

    /// The runs behind a group's numbers: its finished runs, or, if none finished, the runs
    /// that stopped early (with validations).
    pub fn reported<'a>(&'a self, group: &'a Group) -> Vec<&'a RunRecord> {
        let with_numbers: Vec<&RunRecord> = self.members(group).filter(|r| r.outcome.is_some()).collect();
        let finished: Vec<&RunRecord> =
            with_numbers.iter().copied().filter(|r| r.outcome.as_ref().is_some_and(|o| o.finished)).collect();
        if finished.is_empty() { with_numbers } else { finished }
    }

    /// A group's value of `metric` over its [`reported`](Self::reported) runs.
    pub fn value(&self, group: &Group, metric: Metric) -> Option<GroupValue> {
        let outcomes: Vec<&RunNumbers> =
            self.reported(group).into_iter().filter_map(|r| r.outcome.as_ref()).collect();
        let stopped_at =
            outcomes.iter().all(|o| !o.finished).then(|| outcomes.iter().map(|o| o.inputs).min()).flatten();
        let samples: Vec<f64> = outcomes.iter().filter_map(|o| o.get(metric)).collect();
        Stat::of(&samples).map(|stat| GroupValue { stat, stopped_at })
    }

    /// A group's label: its shown key values (`head=8, layer=4`), or the slug of its
    /// run when no key varies (`all runs` for a group of repeats).
    pub fn label(&self, group: &Group) -> String {
        let first = &self.records[group.members[0]];
        if self.shown_keys.is_empty() {
            return if group.members.len() == 1 {
                first.planned.matrix_slug.clone()
            } else {
                "all runs".into()
            };
        }
        self.shown_keys.iter().map(|k| format!("{k}={}", first.value_text(k))).collect::<Vec<_>>().join(", ")
    }

    /// Runs that are done, with the file's config and intact files.
    pub fn done_count(&self) -> usize {
        self.records.iter().filter(|r| r.standing == Standing::Current(RunState::Done)).count()
    }
}
