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
pub mod matrix;
pub mod node;
pub mod schema;
pub mod slurm;
pub mod validate;

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use minijinja::Environment;

pub use error::{ConfigError, ConfigErrors};
pub use matrix::{Combination, Matrix};
pub use node::{Node, Pos, Value};
pub use schema::RunConfig;

use expr::Scope;

/// Top-level keys that are not part of a run's configuration.
const MATRIX_KEY: &str = "matrix";
const GLOBALS_KEY: &str = "globals";

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
    pub runs: Vec<PlannedRun>,
    /// Things worth telling the user that are not errors (e.g. an empty matrix list).
    pub warnings: Vec<String>,
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

impl Experiment {
    /// Read, expand and validate an experiment file. Errors of different runs are all
    /// collected (each distinct error once).
    pub fn load(path: &Path) -> Result<Experiment, ConfigErrors> {
        let doc = extends::load(path)?;
        let map = doc.as_map().expect("extends::load returns a mapping");
        let matrix = Matrix::parse(map.get(MATRIX_KEY))?;
        let globals = parse_globals(map.get(GLOBALS_KEY))?;
        let env = expr::environment();
        let mut warnings = Vec::new();
        for key in matrix.empty_keys() {
            warnings
                .push(format!("{}: matrix.{key} is an empty list, so the file has no runs", path.display()));
        }
        let combinations = matrix.expand(&env)?;
        let body: IndexMap<String, Node> = map
            .iter()
            .filter(|(k, _)| *k != MATRIX_KEY && *k != GLOBALS_KEY)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let body = Node { value: Value::Map(body), at: doc.at.clone(), key_at: doc.key_at.clone() };

        let mut runs = Vec::new();
        let mut errors: Vec<ConfigError> = Vec::new();
        for combination in combinations {
            match plan_run(&combination, &globals, &body, &env) {
                Ok(run) => runs.push(run),
                Err(err) => {
                    if !errors.contains(&err) {
                        errors.push(err);
                    }
                }
            }
        }
        if !errors.is_empty() {
            return Err(ConfigErrors(errors));
        }
        Ok(Experiment {
            file: path.to_path_buf(),
            matrix_keys: matrix.keys().map(String::from).collect(),
            product_size: matrix.product_size(),
            runs,
            warnings,
        })
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

/// `globals:` as an ordered list of (name, unresolved value).
fn parse_globals(node: Option<&Node>) -> Result<Vec<(String, Node)>, ConfigError> {
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
    Ok(map.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
}

/// Resolve one combination: globals in order, then the body; then type and check it.
fn plan_run(
    combination: &Combination,
    globals: &[(String, Node)],
    body: &Node,
    env: &Environment<'static>,
) -> Result<PlannedRun, ConfigError> {
    let mut scope = Scope::new();
    for (key, node) in &combination.values {
        scope.insert(key.clone(), expr::to_jinja(&node.value));
    }
    scope.insert(SLUG_NAME.to_string(), minijinja::Value::from(combination.slug.as_str()));
    scope.insert(ID_NAME.to_string(), minijinja::Value::from(combination.id.as_str()));
    for (name, node) in globals {
        let value = expr::substitute(node, &format!("{GLOBALS_KEY}.{name}"), &scope, env)?;
        scope.insert(name.clone(), expr::to_jinja(&value.value));
    }
    let mut resolved = expr::substitute(body, "", &scope, env)?;
    if let (Value::Map(map), Some(seed)) = (&mut resolved.value, combination.values.get("seed")) {
        map.entry("seed".to_string()).or_insert_with(|| seed.clone());
    }
    let typed = reshape_model(&resolved);
    let config: RunConfig = de::from_node(&typed, "").map_err(unreshape_model_key)?;
    validate::run(&config, &resolved)?;
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
