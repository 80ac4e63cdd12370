//! Experiment files: parsing, validation, matrix expansion and templating.
//!
//! Data flow: [`extends::load`] reads the file and its parents into one [`Node`] tree;
//! [`Matrix`] expands `matrix:` into combinations; for each one, `globals:` and then every
//! other value are substituted ([`expr`]) and the result is deserialized ([`de`]) into a
//! typed [`RunConfig`] ([`schema`]), then checked ([`validate`]).

pub mod de;
pub mod error;
pub mod expr;
pub mod extends;
pub mod folders;
pub mod halving;
pub mod matrix;
pub mod node;
pub mod pos;
mod python;
pub mod schema;
pub mod slurm;
pub mod validate;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use minijinja::Environment;

pub use error::{ConfigError, ConfigErrors};
pub use matrix::{Combination, Matrix};
pub use node::{Node, Value};
pub use pos::Pos;
pub use schema::RunConfig;

use expr::Scope;

/// Top-level keys that are not part of a run's configuration.
const MATRIX_KEY: &str = "matrix";
const GLOBALS_KEY: &str = "globals";

/// Most distinct errors reported for one file (then a count of the rest).
const MAX_ERRORS: usize = 100;

/// Names every placeholder can use besides matrix keys and globals.
pub const SLUG_NAME: &str = "matrix_slug";
pub const ID_NAME: &str = "matrix_id";

/// An experiment file with all its runs planned.
#[derive(Debug, Clone)]
pub struct Experiment {
    pub file: PathBuf,
    /// Matrix keys in file order.
    pub matrix_keys: Vec<String>,
    /// Combinations before the filter.
    pub product_size: usize,
    /// With `$sample`: the combinations that passed the filter, which the runs were drawn from.
    pub sampled_from: Option<usize>,
    /// `$halving`: successive halving over the training budget (`crate::run::halving`).
    pub halving: Option<halving::Halving>,
    pub runs: Vec<PlannedRun>,
}

/// One run: its matrix values and its resolved configuration.
#[derive(Debug, Clone)]
pub struct PlannedRun {
    pub matrix_id: String,
    pub matrix_slug: String,
    pub values: IndexMap<String, Node>,
    /// The resolved document (no `matrix`, `globals`, `$extends`, no placeholders), as
    /// written to the run folder's `config.yaml`.
    pub resolved: Node,
    pub config: RunConfig,
}

impl PlannedRun {
    /// Trainable parameters of the run's model, computed in closed form (nothing is built).
    pub fn params(&self) -> Result<usize, crate::model::InvalidModel> {
        crate::model::count_params(&self.config.model, self.config.train_set.shape)
    }
}

/// Bounds on what loading an experiment file may cost.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most combinations a matrix may have before the filter (each is evaluated and planned).
    pub max_combinations: usize,
}

impl Limits {
    /// 100,000 combinations: `check` plans them in about 10 s and 1 GB.
    pub const DEFAULT_MAX_COMBINATIONS: usize = 100_000;
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_combinations: Limits::DEFAULT_MAX_COMBINATIONS }
    }
}

impl Experiment {
    /// Read, expand and validate an experiment file with the default [`Limits`].
    pub fn load(path: &Path) -> Result<Experiment, ConfigErrors> {
        Experiment::load_with(path, Limits::default())
    }

    /// Read, expand and validate an experiment file. Errors of different runs are all
    /// collected (each distinct error once); then runs that would share a run folder and
    /// `report:` settings that name nothing are errors too.
    pub fn load_with(path: &Path, limits: Limits) -> Result<Experiment, ConfigErrors> {
        let doc = extends::load(path)?;
        let map = doc.as_map().expect("extends::load returns a mapping");
        let matrix = Matrix::parse(map.get(MATRIX_KEY))?;
        let globals = parse_globals(map.get(GLOBALS_KEY), &matrix)?;
        let env = expr::environment();
        let combinations = matrix.expand(&env, limits.max_combinations)?;
        let product_size = matrix.product_size().expect("expand checked the size");
        // `$sample` draws after the filter, so slugs and ids do not depend on its `n`; with
        // `n` above the combinations left, all of them are planned (`plan` says how many).
        let sampled_from = matrix.sample().map(|_| combinations.len());
        let combinations = match matrix.sample() {
            Some(sample) => sample.draw(combinations),
            None => combinations,
        };
        let body: IndexMap<String, Node> = map
            .iter()
            .filter(|(k, _)| *k != MATRIX_KEY && *k != GLOBALS_KEY)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let body = Node { value: Value::Map(body), at: doc.at.clone(), key_at: doc.key_at.clone() };

        let mut runs = Vec::new();
        let mut errors: Vec<ConfigError> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        let mut more = 0usize;
        for combination in combinations {
            match plan_run(&combination, &globals, &body, &env) {
                Ok(run) => runs.push(run),
                Err(errs) => {
                    for err in errs {
                        if seen.len() >= MAX_ERRORS {
                            more += 1;
                        } else if seen.insert(err.to_string()) {
                            errors.push(err);
                        }
                    }
                }
            }
        }
        if more > 0 {
            errors.push(
                ConfigError::file(path, format!("{more} more errors in other runs are not shown"))
                    .hint("fix the errors above first"),
            );
        }
        if !errors.is_empty() {
            return Err(ConfigErrors(errors));
        }
        let matrix_keys: Vec<String> = matrix.keys().map(String::from).collect();
        errors.extend(folders::shared_folders(&runs, &body));
        errors.extend(report_key_errors(&runs, &matrix_keys, &body));
        let halving = matrix.halving().cloned();
        errors.extend(halving.iter().flat_map(|halving| halving.check(&runs)));
        if !errors.is_empty() {
            return Err(ConfigErrors(errors));
        }
        Ok(Experiment { file: path.to_path_buf(), matrix_keys, product_size, sampled_from, halving, runs })
    }

    /// Matrix keys that take more than one value among the planned runs.
    pub fn varying_keys(&self) -> Vec<&str> {
        self.matrix_keys
            .iter()
            .filter(|key| {
                let mut values = self.runs.iter().map(|run| run.values.get(*key).map(|n| &n.value));
                let first = values.next();
                values.any(|v| v != first.flatten())
            })
            .map(String::as_str)
            .collect()
    }
}

/// `globals:` as an ordered list of (name, unresolved value). A global may not take the
/// name of a matrix key or a built-in name: a placeholder would mean one or the other.
fn parse_globals(node: Option<&Node>, matrix: &Matrix) -> Result<Vec<(String, Node)>, ConfigError> {
    let Some(node) = node else {
        return Ok(Vec::new());
    };
    let map = node.as_map().ok_or_else(|| {
        ConfigError::at(
            node.at.clone(),
            format!("`globals` must be a mapping of names to values, found {}", node.type_name()),
        )
        .key(GLOBALS_KEY)
    })?;
    for (name, value) in map {
        let taken = if [SLUG_NAME, ID_NAME].contains(&name.as_str()) {
            "a built-in name"
        } else if matrix.keys().any(|key| key == name) {
            "a matrix key"
        } else {
            continue;
        };
        return Err(ConfigError::at(
            value.key_at.clone(),
            format!("`{name}` is {taken}, it cannot be a global too"),
        )
        .key(format!("{GLOBALS_KEY}.{name}"))
        .hint("give the global another name"));
    }
    Ok(map.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
}

/// Does a run's matrix value equal `value` as written in `report.baseline` (numbers by value:
/// `0` matches `0.0`)?
pub fn matrix_value_is(node: &Node, value: &serde_json::Value) -> bool {
    let own = serde_json::to_value(node).unwrap_or_default();
    match (own.as_f64(), value.as_f64()) {
        (Some(a), Some(b)) => a == b,
        _ => &own == value,
    }
}

/// `report.group_over`, `report.trends[].x` and `.series` must be matrix keys, `.y` a
/// metric (`seed` may be grouped over without being a matrix key: the default);
/// `report.baseline` must name matrix keys outside `group_over` and values a planned run has.
fn report_key_errors(runs: &[PlannedRun], matrix_keys: &[String], body: &Node) -> Vec<ConfigError> {
    use crate::metrics::Metric;
    let Some(report) = runs.first().map(|run| &run.config.report) else {
        return Vec::new();
    };
    let at =
        body.as_map().and_then(|map| map.get("report")).map_or_else(|| body.at.clone(), |n| n.at.clone());
    let keys_text = if matrix_keys.is_empty() {
        "the file has no matrix keys".to_string()
    } else {
        format!(
            "matrix keys: {}",
            matrix_keys.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
        )
    };
    let mut errors = Vec::new();
    let mut key = |path: String, name: &str| {
        if !matrix_keys.iter().any(|k| k == name) {
            errors.push(
                ConfigError::at(at.clone(), format!("`{name}` is not a matrix key"))
                    .key(path)
                    .hint(suggestion_or(name, matrix_keys, &keys_text)),
            );
        }
    };
    for (i, name) in report.group_over.iter().enumerate() {
        if name != "seed" {
            key(format!("report.group_over[{i}]"), name);
        }
    }
    if let Some(baseline) = &report.baseline {
        for name in baseline.keys() {
            key(format!("report.baseline.{name}"), name);
        }
    }
    for (i, trend) in report.trends.iter().enumerate() {
        key(format!("report.trends[{i}].x"), &trend.x);
        if let Some(series) = &trend.series {
            key(format!("report.trends[{i}].series"), series);
        }
    }
    for (i, trend) in report.trends.iter().enumerate() {
        if Metric::from_id(&trend.y).is_none() {
            let ids: Vec<&str> = Metric::ALL.iter().map(|m| m.id()).collect();
            errors.push(
                ConfigError::at(at.clone(), format!("`{}` is not a metric", trend.y))
                    .key(format!("report.trends[{i}].y"))
                    .hint(error::suggestion(&trend.y, &ids)),
            );
        }
    }
    if let Some(baseline) = &report.baseline {
        let text = |(k, v): (&String, &serde_json::Value)| match v {
            serde_json::Value::String(s) => format!("{k}={s}"),
            other => format!("{k}={other}"),
        };
        let label = baseline.iter().map(text).collect::<Vec<_>>().join(", ");
        let grouped = baseline.keys().find(|k| report.group_over.contains(k));
        let matched = runs.iter().any(|run| {
            baseline.iter().all(|(k, v)| run.values.get(k).is_some_and(|node| matrix_value_is(node, v)))
        });
        if baseline.is_empty() {
            errors.push(
                ConfigError::at(at.clone(), "the baseline names no matrix value")
                    .key("report.baseline")
                    .hint("write e.g. `baseline: {alpha: 0.0}`"),
            );
        } else if let Some(name) = grouped {
            errors.push(
                ConfigError::at(
                    at.clone(),
                    format!(
                        "`{name}` is in report.group_over, so its runs are repeats of one row, not a baseline"
                    ),
                )
                .key(format!("report.baseline.{name}"))
                .hint("name a key that tells rows apart"),
            );
        } else if baseline.keys().all(|k| matrix_keys.contains(k)) && !matched {
            errors.push(
                ConfigError::at(at.clone(), format!("no planned run has {label}"))
                    .key("report.baseline")
                    .hint("the baseline's values must be those of planned runs (`expgrid plan FILE` lists them)"),
            );
        }
    }
    errors
}

/// "did you mean" among `known`, or `otherwise` when nothing is close.
fn suggestion_or(given: &str, known: &[String], otherwise: &str) -> String {
    match error::closest(given, known.iter().map(String::as_str)) {
        Some(best) => format!("did you mean `{best}`? ({otherwise})"),
        None => otherwise.to_string(),
    }
}

/// Resolve one combination: globals in order, then the body; then type and check it.
fn plan_run(
    combination: &Combination,
    globals: &[(String, Node)],
    body: &Node,
    env: &Environment<'static>,
) -> Result<PlannedRun, Vec<ConfigError>> {
    let mut scope = Scope::new();
    for (key, node) in &combination.values {
        scope.insert(key.clone(), expr::to_jinja(&node.value));
    }
    scope.insert(SLUG_NAME.to_string(), minijinja::Value::from(combination.slug.as_str()));
    scope.insert(ID_NAME.to_string(), minijinja::Value::from(combination.id.as_str()));
    for (name, node) in globals {
        let value =
            expr::substitute(node, &format!("{GLOBALS_KEY}.{name}"), &scope, env).map_err(|e| vec![e])?;
        scope.insert(name.clone(), expr::to_jinja(&value.value));
    }
    let mut resolved = expr::substitute(body, "", &scope, env).map_err(|e| vec![e])?;
    if let (Value::Map(map), Some(seed)) = (&mut resolved.value, combination.values.get("seed")) {
        map.entry("seed".to_string()).or_insert_with(|| seed.clone());
    }
    let typed = reshape_model(&resolved);
    let config: RunConfig = de::from_node(&typed, "").map_err(|e| vec![unreshape_model_key(e)])?;
    let problems = validate::run(&config, &resolved);
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(PlannedRun {
        matrix_id: combination.id.clone(),
        matrix_slug: combination.slug.clone(),
        values: combination.values.clone(),
        resolved,
        config,
    })
}

/// The user writes `model: {encoder: vit, image_size: 28, ..., code_size: 128, classes: 10}`;
/// the schema reads `model: {encoder: {vit: {image_size: 28, ...}}, code_size, classes}`.
///
/// Why a tree rewrite rather than a serde `Deserialize` that reads `encoder` first: `encoder`
/// may come after the options, so serde would have to buffer them (an internally tagged enum
/// or `flatten` goes through serde's private `Content`), and buffered values lose what
/// [`de`] gives every error (file, line, key) and its whole-float-as-integer rule.
fn reshape_model(doc: &Node) -> Node {
    let mut doc = doc.clone();
    let Value::Map(top) = &mut doc.value else {
        return doc;
    };
    let Some(model) = top.get_mut("model") else {
        return doc;
    };
    let Value::Map(fields) = &mut model.value else {
        return doc;
    };
    let Some(name) = fields.get("encoder").and_then(|n| n.as_str().map(String::from)) else {
        return doc;
    };
    let encoder_at = fields["encoder"].clone();
    let mut outer = IndexMap::new();
    let mut options = IndexMap::new();
    for (key, value) in fields.drain(..) {
        match key.as_str() {
            "encoder" => {}
            "code_size" | "classes" => {
                outer.insert(key, value);
            }
            _ => {
                options.insert(key, value);
            }
        }
    }
    let options = Node { value: Value::Map(options), at: model.at.clone(), key_at: encoder_at.at.clone() };
    let encoder = Node { value: Value::Map(IndexMap::from([(name, options)])), ..encoder_at };
    outer.shift_insert(0, "encoder".to_string(), encoder);
    *fields = outer;
    doc
}

/// Error paths inside the reshaped model (`model.encoder.vit.patch_size`) back in the
/// user's terms (`model.patch_size`).
fn unreshape_model_key(mut err: ConfigError) -> ConfigError {
    if let Some(inner) = err.key.as_deref().and_then(|key| key.strip_prefix("model.encoder.")) {
        err.key = Some(match inner.split_once('.') {
            Some((_encoder, option)) => format!("model.{option}"),
            None => "model".to_string(),
        });
    }
    err
}
