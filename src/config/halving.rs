//! `$halving: {min_inputs, eta, metric}` in `matrix:`: successive halving over the training
//! budget. Every run trains to the first rung (`min_inputs`); the best `1/eta` of them (by
//! `metric` at that budget) continue to `eta ×` the budget, and so on; the last rung is the
//! runs' `max_inputs`. This module is the directive and its rules; `crate::rungs` decides
//! each rung's runs and `crate::run::halving` trains them.

use super::PlannedRun;
use super::error::ConfigError;
use super::expr;
use super::node::{Node, Pos, Value};
use super::schema::ProbeEvery;
use crate::metrics::Metric;

/// The key of the directive inside `matrix:`.
pub const HALVING_KEY: &str = "$halving";

/// The parsed `$halving` directive.
#[derive(Debug, Clone, PartialEq)]
pub struct Halving {
    /// The first rung's budget, in training inputs.
    pub min_inputs: u64,
    /// Each rung keeps `1/eta` of the runs and multiplies the budget by `eta`.
    pub eta: u64,
    /// What ranks the runs at a rung (a quality metric: see `ranks_runs`).
    pub metric: Metric,
    /// Where the directive is written.
    pub at: Pos,
}

/// The metrics `$halving` may rank by: those with a better direction (the loss and the
/// accuracies), which every validation row has (the svc ones with the probe at each validation).
fn ranks_runs(metric: Metric) -> bool {
    metric.better().is_some()
}

/// Does `metric` come from the SVC probe?
fn needs_probe(metric: Metric) -> bool {
    matches!(metric, Metric::AccuracySvc | Metric::AccuracySvcHeldout)
}

impl Halving {
    /// Read `$halving: {min_inputs: 20_000, eta: 3, metric: validation_loss}` (`eta`
    /// defaults to 3, `metric` to `validation_loss`).
    pub fn parse(node: &Node) -> Result<Halving, ConfigError> {
        let key = format!("matrix.{HALVING_KEY}");
        let hint =
            format!("write e.g. `{HALVING_KEY}: {{min_inputs: 20_000, eta: 3, metric: validation_loss}}`");
        let Some(map) = node.as_map() else {
            return Err(ConfigError::at(
                node.at.clone(),
                format!("`{HALVING_KEY}` must be a mapping, found {}", node.type_name()),
            )
            .key(key)
            .hint(hint));
        };
        let mut halving =
            Halving { min_inputs: 0, eta: 3, metric: Metric::ValidationLoss, at: node.at.clone() };
        for (name, value) in map {
            let number = match value.value {
                Value::Int(i) if i > 0 => Some(i as u64),
                _ => None,
            };
            let error = |message: String, hint: &str| {
                ConfigError::at(value.at.clone(), message).key(format!("{key}.{name}")).hint(hint)
            };
            let text = expr::to_text(&value.value);
            match (name.as_str(), number) {
                ("min_inputs", Some(n)) => halving.min_inputs = n,
                ("min_inputs", None) => {
                    return Err(error(
                        format!("`min_inputs` must be a positive whole number, found {text}"),
                        "the first rung's budget in training inputs, e.g. `min_inputs: 20_000`",
                    ));
                }
                ("eta", Some(n)) if n >= 2 => halving.eta = n,
                ("eta", _) => {
                    return Err(error(
                        format!("`eta` must be a whole number of at least 2, found {text}"),
                        "each rung keeps 1/eta of the runs and trains them eta times longer, e.g. `eta: 3`",
                    ));
                }
                ("metric", _) => {
                    let id = value.as_str().unwrap_or_default();
                    let Some(metric) = Metric::from_id(id).filter(|m| ranks_runs(*m)) else {
                        let ids: Vec<&str> =
                            Metric::ALL.into_iter().filter(|m| ranks_runs(*m)).map(Metric::id).collect();
                        return Err(error(
                            format!("`{text}` is not a metric halving can rank by"),
                            &super::error::suggestion(id, &ids),
                        ));
                    };
                    halving.metric = metric;
                }
                _ => {
                    let takes = "`min_inputs`, `eta` and `metric`";
                    return Err(ConfigError::unknown_key_in(
                        HALVING_KEY,
                        name,
                        value.key_at.clone(),
                        &key,
                        takes,
                    ));
                }
            }
        }
        if halving.min_inputs == 0 {
            return Err(ConfigError::at(
                node.at.clone(),
                format!("`{HALVING_KEY}` needs `min_inputs`, the first rung's budget"),
            )
            .key(key)
            .hint(hint));
        }
        Ok(halving)
    }

    /// The rung budgets: `min_inputs × eta^k` below `max_inputs`, then `max_inputs`.
    pub fn budgets(&self, max_inputs: u64) -> Vec<u64> {
        let mut budgets = Vec::new();
        let mut budget = self.min_inputs;
        while budget < max_inputs {
            budgets.push(budget);
            budget = budget.saturating_mul(self.eta);
        }
        budgets.push(max_inputs);
        budgets
    }

    /// How many of `n` runs a rung promotes to the next: `n / eta` rounded down, at least 1.
    pub fn keep(&self, n: usize) -> usize {
        (n / self.eta as usize).max(1)
    }

    /// How many of `runs` runs each of `rungs` rungs trains.
    pub fn rung_sizes(&self, runs: usize, rungs: usize) -> Vec<usize> {
        std::iter::successors(Some(runs), |&n| Some(self.keep(n))).take(rungs).collect()
    }

    /// The rung budgets of the planned runs (they all have the same `max_inputs`: checked).
    pub fn run_budgets(&self, runs: &[PlannedRun]) -> Vec<u64> {
        self.budgets(runs.first().map_or(self.min_inputs, |run| run.config.max_inputs))
    }

    /// The rules that make every rung reachable and comparable: one `max_inputs` above
    /// `min_inputs`; `validate_every` set, a multiple of `batch_size`, and dividing every rung
    /// budget below the last (so each rung ends on a validation and a checkpoint, exactly
    /// where a run without halving validates); a probe at every validation for svc metrics.
    pub fn check(&self, runs: &[PlannedRun]) -> Vec<ConfigError> {
        let key = format!("matrix.{HALVING_KEY}");
        let error = |message: String, hint: String| {
            vec![ConfigError::at(self.at.clone(), message).key(key.clone()).hint(hint)]
        };
        let Some(first) = runs.first() else { return Vec::new() };
        let max_inputs = first.config.max_inputs;
        if let Some(other) = runs.iter().find(|run| run.config.max_inputs != max_inputs) {
            return error(
                format!(
                    "the runs must share one `max_inputs` (the last rung), but run {} has {} and run {} has {}",
                    first.matrix_id, max_inputs, other.matrix_id, other.config.max_inputs
                ),
                "take `max_inputs` out of the matrix, or halve each budget in its own file".into(),
            );
        }
        if self.min_inputs >= max_inputs {
            return error(
                format!("`min_inputs` {} must be less than max_inputs {max_inputs}", self.min_inputs),
                format!("lower `min_inputs`, e.g. to {}", max_inputs / (self.eta * self.eta).max(1)),
            );
        }
        let budgets = self.budgets(max_inputs);
        let rungs = &budgets[..budgets.len() - 1];
        let mut errors = Vec::new();
        for run in runs {
            let config = &run.config;
            let batch = config.batch_size as u64;
            let problem = match config.validate_every {
                None => Some((
                    "`validate_every` must be set".to_string(),
                    format!(
                        "set `validate_every` to a divisor of {}, e.g. `validate_every: {}`",
                        rungs[0], rungs[0]
                    ),
                )),
                Some(every) if every % batch != 0 => Some((
                    format!("validate_every {every} must be a multiple of batch_size {batch}"),
                    "so that validations, and rungs, fall on step boundaries".to_string(),
                )),
                Some(every) => rungs.iter().find(|&&budget| budget % every != 0).map(|budget| {
                    (
                        format!("the rung at {budget} inputs is not a multiple of validate_every {every}"),
                        format!(
                            "every rung ({}) must end on a validation: choose `min_inputs` and \
                             `validate_every` so that validate_every divides min_inputs",
                            rungs.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
                        ),
                    )
                }),
            };
            let problem = problem.or_else(|| {
                (needs_probe(self.metric) && config.probe.every != ProbeEvery::EachValidation).then(|| {
                    (
                        format!("`metric: {}` needs the probe at every validation", self.metric.id()),
                        "set `probe: {every: each_validation}`, or rank by `validation_loss`".to_string(),
                    )
                })
            });
            if let Some((message, hint)) = problem {
                errors.extend(error(format!("{message} (run {})", run.matrix_id), hint));
                break;
            }
        }
        errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn halving(min_inputs: u64, eta: u64) -> Halving {
        let at = Pos { file: std::sync::Arc::from(std::path::Path::new("x.yml")), line: 1, column: 1 };
        Halving { min_inputs, eta, metric: Metric::ValidationLoss, at }
    }

    #[test]
    fn budgets_grow_by_eta_and_end_at_max_inputs() {
        assert_eq!(halving(100, 3).budgets(2700), [100, 300, 900, 2700]);
        assert_eq!(halving(100, 3).budgets(1000), [100, 300, 900, 1000]);
        assert_eq!(halving(100, 2).budgets(150), [100, 150]);
    }

    #[test]
    fn each_rung_keeps_n_over_eta_rounded_down_and_at_least_one() {
        assert_eq!(halving(1, 3).rung_sizes(27, 4), [27, 9, 3, 1]);
        assert_eq!(halving(1, 3).rung_sizes(10, 4), [10, 3, 1, 1]);
        assert_eq!(halving(1, 2).rung_sizes(5, 3), [5, 2, 1]);
    }
}
