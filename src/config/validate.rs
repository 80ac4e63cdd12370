//! Checks of a typed run that types alone cannot express, reported at the key that is wrong:
//! sizes and rates in range, shapes the data set has, a `limit` the split can give, a class
//! count that matches the data, transforms that fit the images, a budget that is more than
//! one batch, and the model's own checks. Everything `expgrid run` would only find later.

use std::path::{Component, Path};

use super::error::ConfigError;
use super::node::{Node, Value};
use super::schema::{DatasetSpec, LossSpec, OptimizerSpec, RunConfig, SchedulerSpec};
use crate::data::dataset::{check_shape, class_count, class_sizes};

/// A run that validates or checkpoints more often than this is refused: each validation
/// passes the whole validation set.
pub const MAX_VALIDATIONS: u64 = 10_000;

/// Check one resolved run; `resolved` gives the positions for messages. Every problem of the
/// run is returned.
pub fn run(config: &RunConfig, resolved: &Node) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    let mut fail =
        |key: &str, message: String, hint: &str| errors.push(error_at(resolved, key, message).hint(hint));

    if let Some(problem) = name_problem(&config.experiment_name) {
        fail(
            "experiment_name",
            format!("experiment_name `{}` {problem}", config.experiment_name),
            "it names a folder inside the runs directory: relative, e.g. `study/fmnist_${matrix_slug}`",
        );
    }
    if config.batch_size == 0 {
        fail("batch_size", "batch_size must be at least 1".into(), "e.g. `batch_size: 64`");
    }
    if config.max_inputs == 0 {
        fail(
            "max_inputs",
            "max_inputs must be at least 1".into(),
            "it counts training samples, e.g. `max_inputs: 2_000_000`",
        );
    } else if config.batch_size as u64 > config.max_inputs {
        fail(
            "max_inputs",
            format!(
                "max_inputs {} is less than one batch of {}: the run would take a single step",
                config.max_inputs, config.batch_size
            ),
            "max_inputs counts training samples, not batches: raise it or lower batch_size",
        );
    }
    if !(config.learnrate.is_finite() && config.learnrate > 0.0) {
        fail(
            "learnrate",
            format!("learnrate must be a positive number, found {}", config.learnrate),
            "e.g. `learnrate: 0.0003`",
        );
    }
    for (key, every) in
        [("validate_every", config.validate_every), ("checkpoint_every", config.checkpoint_every)]
    {
        if every == Some(0) {
            fail(
                key,
                format!("{key} must be at least 1"),
                "it counts training inputs; leave it out for the default",
            );
        }
    }
    if let Some(decay) = config.weight_decay.filter(|d| !(d.is_finite() && *d >= 0.0)) {
        fail(
            "weight_decay",
            format!("weight_decay must be a number >= 0, found {decay}"),
            "a negative decay pushes the weights away from 0; leave it out for the optimizer's default",
        );
    }
    optimizer_problems(&config.optimizer, &mut fail);
    if let LossSpec::LabelSmoothingCe { smoothing } = config.loss_function
        && !(0.0..1.0).contains(&smoothing)
    {
        fail(
            "loss_function.label_smoothing_ce.smoothing",
            format!("smoothing must be in [0, 1), found {smoothing}"),
            "at 1 every target is uniform and nothing is learned; 0.1 is usual",
        );
    }
    if let SchedulerSpec::CosineAnnealingWarmupLR { warmup_inputs } = config.scheduler
        && warmup_inputs >= config.max_inputs
    {
        fail(
            "scheduler.CosineAnnealingWarmupLR.warmup_inputs",
            format!(
                "warmup_inputs {warmup_inputs} is not less than max_inputs {}: the run would end during the warm-up",
                config.max_inputs
            ),
            "warm up over a part of the budget, e.g. a tenth",
        );
    }

    let classes = class_count(config.train_set.dataset);
    if config.model.classes != classes {
        fail(
            "model.classes",
            format!("model.classes is {}, the training data set has {classes} classes", config.model.classes),
            &format!("write `classes: {classes}`"),
        );
    }
    for (key, spec) in [("train_set", &config.train_set), ("validation_set", &config.validation_set)] {
        dataset_problems(key, spec, &mut fail);
    }
    if config.train_set.shape != config.validation_set.shape {
        fail(
            "validation_set.shape",
            format!(
                "the validation shape {:?} differs from the training shape {:?}",
                config.validation_set.shape, config.train_set.shape
            ),
            "the model sees both: give them the same `shape`",
        );
    }
    if config.probe.samples < classes {
        fail(
            "probe.samples",
            format!("probe.samples {} is fewer than the {classes} classes", config.probe.samples),
            "the probe needs samples of every class; leave it out for 10000",
        );
    }
    if let Err(err) = crate::data::Pipeline::new(&config.train_input_transforms, config.train_set.shape) {
        let message = err.to_string();
        let message = message.strip_prefix("train_input_transforms: ").unwrap_or(&message).to_string();
        fail("train_input_transforms", message, "see the Training transforms section of the README");
    }
    if config.max_inputs > 0 {
        // Without `validate_every`, a run validates (and checkpoints) once per epoch.
        let epoch = config.train_set.limit.unwrap_or_else(|| split_size(&config.train_set)).max(1) as u64;
        let stops = [
            ("validate_every", config.validate_every.or(Some(epoch))),
            ("checkpoint_every", config.checkpoint_every),
        ];
        for (key, every) in stops {
            let Some(every) = every.filter(|&every| every > 0) else {
                continue;
            };
            let times = config.max_inputs.div_ceil(every);
            if times <= MAX_VALIDATIONS {
                continue;
            }
            let (key, why) = match (key, config.validate_every) {
                ("validate_every", None) => ("train_set.limit", format!("once per epoch of {every} images")),
                _ => (key, format!("every {every} inputs")),
            };
            fail(
                key,
                format!(
                    "the run would {} {times} times ({why} over {} inputs), more than {MAX_VALIDATIONS}",
                    if key == "checkpoint_every" { "checkpoint" } else { "validate" },
                    config.max_inputs
                ),
                "raise validate_every / checkpoint_every, or the training set's limit",
            );
        }
    }
    if let Err(invalid) = crate::model::validate(&config.model, config.train_set.shape) {
        let key = format!("model.{}", invalid.key);
        if !errors.iter().any(|err| err.key.as_deref() == Some(key.as_str())) {
            errors.push(error_at(resolved, &key, invalid.message).hint(invalid.hint));
        }
    }
    errors
}

/// Why an experiment name does not name a folder inside the runs directory, if it doesn't.
fn name_problem(name: &str) -> Option<&'static str> {
    if name.trim().is_empty() {
        return Some("is empty");
    }
    let path = Path::new(name);
    if path.is_absolute() || name.starts_with('/') || name.starts_with('\\') {
        return Some("is an absolute path");
    }
    path.components().find_map(|component| match component {
        Component::Normal(_) => None,
        Component::ParentDir => Some("contains `..`, which leaves the runs directory"),
        Component::CurDir => Some("contains a `.` folder"),
        Component::RootDir | Component::Prefix(_) => Some("is an absolute path"),
    })
}

fn optimizer_problems(optimizer: &OptimizerSpec, fail: &mut impl FnMut(&str, String, &str)) {
    match optimizer {
        OptimizerSpec::AdamW { betas, eps } | OptimizerSpec::Adam { betas, eps } => {
            if betas.iter().any(|b| !(0.0..1.0).contains(b)) {
                fail(
                    "optimizer",
                    format!("betas must be in [0, 1), found {betas:?}"),
                    "PyTorch's default is [0.9, 0.999]",
                );
            }
            if !(eps.is_finite() && *eps > 0.0) {
                fail(
                    "optimizer",
                    format!("eps must be a positive number, found {eps}"),
                    "PyTorch's default is 1e-8",
                );
            }
        }
        OptimizerSpec::Sgd { momentum, .. } => {
            if !(momentum.is_finite() && *momentum >= 0.0) {
                fail(
                    "optimizer",
                    format!("momentum must be a number >= 0, found {momentum}"),
                    "e.g. `{SGD: {momentum: 0.9}}`",
                );
            }
        }
    }
}

/// Samples in the split of the official files.
fn split_size(spec: &DatasetSpec) -> usize {
    class_sizes(spec.dataset, spec.split).iter().sum()
}

/// Shape and `limit` of `train_set` / `validation_set` against what the data set has.
fn dataset_problems(key: &str, spec: &DatasetSpec, fail: &mut impl FnMut(&str, String, &str)) {
    if let Err(err) = check_shape(spec.dataset, spec.shape, crate::data::dataset::native_shape(spec.dataset))
    {
        fail(&format!("{key}.shape"), err.to_string(), "the model's input shape must be the data set's");
    }
    let Some(limit) = spec.limit else {
        return;
    };
    let sizes = class_sizes(spec.dataset, spec.split);
    let classes = sizes.len();
    let total: usize = sizes.iter().sum();
    let short = sizes
        .iter()
        .enumerate()
        .find(|&(class, &size)| limit / classes + usize::from(class < limit % classes) > size);
    let problem = if limit < classes {
        Some(format!("limit {limit} is fewer than the {classes} classes: some classes would have no samples"))
    } else if limit > total {
        Some(format!("limit {limit} is more than the {total} samples of the split"))
    } else {
        short.map(|(class, size)| {
            format!("a class-balanced limit of {limit} needs more samples of class {class} than the split's {size}")
        })
    };
    if let Some(problem) = problem {
        fail(
            &format!("{key}.limit"),
            problem,
            &format!(
                "a limit between {classes} and {} (or none: the whole split)",
                sizes.iter().min().unwrap_or(&0) * classes
            ),
        );
    }
}

/// An error at the node of a dotted key path (or the nearest existing parent).
fn error_at(resolved: &Node, key: &str, message: String) -> ConfigError {
    let mut node = resolved;
    for part in key.split('.') {
        match &node.value {
            Value::Map(map) if map.contains_key(part) => node = &map[part],
            _ => break,
        }
    }
    ConfigError::at(node.at.clone(), message).key(key)
}
