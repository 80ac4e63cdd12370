//! The `matrix:` block: the cartesian product of its lists, the `$filter`, `matrix_id` and
//! `matrix_slug`.

use std::collections::HashMap;

use indexmap::IndexMap;
use minijinja::Environment;

use super::error::ConfigError;
use super::expr::{self, CompiledExpr, Scope};
use super::node::{Node, Pos, Value};

/// The key of the filter expression inside `matrix:`.
pub const FILTER_KEY: &str = "$filter";

/// Longest slug before it is cut and given a hash.
const MAX_SLUG_LEN: usize = 120;

/// One combination of matrix values that passed the filter.
#[derive(Debug, Clone, PartialEq)]
pub struct Combination {
    /// 1-based index in the unfiltered product.
    pub index: usize,
    /// `index`, zero-padded to the width of the product's size.
    pub id: String,
    pub slug: String,
    /// The matrix values of this combination, in the file's key order.
    pub values: IndexMap<String, Node>,
}

/// The matrix of one experiment file.
#[derive(Debug, Clone)]
pub struct Matrix {
    keys: Vec<(String, Vec<Node>)>,
    filter: Option<Node>,
}

impl Matrix {
    /// Read the `matrix:` node. Every value must be a list.
    pub fn parse(node: Option<&Node>) -> Result<Matrix, ConfigError> {
        let Some(node) = node else {
            return Ok(Matrix { keys: Vec::new(), filter: None });
        };
        let map = node.as_map().ok_or_else(|| {
            ConfigError::at(
                node.at.clone(),
                format!("`matrix` must be a mapping of names to lists, found {}", node.type_name()),
            )
            .key("matrix")
            .hint("write e.g. `matrix:\\n  layer: [4, 8]`")
        })?;
        let mut keys = Vec::new();
        let mut filter = None;
        for (key, value) in map {
            if key == FILTER_KEY {
                if value.as_str().is_none() {
                    return Err(ConfigError::at(
                        value.at.clone(),
                        "the filter must be one expression (a string)",
                    )
                    .key(format!("matrix.{key}"))
                    .hint("write e.g. `$filter: ${a} < ${b}`"));
                }
                filter = Some(value.clone());
                continue;
            }
            if key.starts_with('$') {
                return Err(ConfigError::at(
                    value.key_at.clone(),
                    format!("unknown matrix directive `{key}`"),
                )
                .key(format!("matrix.{key}"))
                .hint(format!("the only directive is `{FILTER_KEY}`")));
            }
            check_name(key, &value.key_at)?;
            match &value.value {
                Value::Seq(items) => keys.push((key.clone(), items.clone())),
                other => {
                    return Err(ConfigError::at(
                        value.at.clone(),
                        format!("matrix values must be a list, found {}", other.type_name()),
                    )
                    .key(format!("matrix.{key}"))
                    .hint(format!("wrap it in [ ]: `{key}: [{}]`", expr::to_text(other))));
                }
            }
        }
        Ok(Matrix { keys, filter })
    }

    /// The matrix keys in file order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|(k, _)| k.as_str())
    }

    /// Keys whose list is empty (the product is then empty).
    pub fn empty_keys(&self) -> Vec<&str> {
        self.keys.iter().filter(|(_, v)| v.is_empty()).map(|(k, _)| k.as_str()).collect()
    }

    /// Size of the unfiltered product (1 for an empty matrix: one run without matrix values).
    pub fn product_size(&self) -> usize {
        self.keys.iter().map(|(_, v)| v.len()).product()
    }

    /// All combinations that pass the filter, first key varying slowest.
    pub fn expand(&self, env: &Environment<'static>) -> Result<Vec<Combination>, ConfigError> {
        let total = self.product_size();
        let width = total.to_string().len();
        let filter = match &self.filter {
            Some(node) => {
                let text = node.as_str().unwrap_or_default();
                let source = expr::inline_placeholders(text)
                    .map_err(|msg| ConfigError::at(node.at.clone(), msg).key("matrix.$filter"))?;
                Some((
                    CompiledExpr::compile(env, &source, &node.at).map_err(|e| e.key("matrix.$filter"))?,
                    node,
                ))
            }
            None => None,
        };
        // Convert every matrix value once; the filter scope is rebuilt from these per
        // combination.
        let jinja: Vec<Vec<minijinja::Value>> = self
            .keys
            .iter()
            .map(|(_, values)| values.iter().map(|n| expr::to_jinja(&n.value)).collect())
            .collect();
        let mut combinations = Vec::new();
        let mut scope = Scope::new();
        for index in 0..total {
            let choice = self.choice(index);
            if let Some((filter, node)) = &filter {
                scope.clear();
                for (k, (key, _)) in self.keys.iter().enumerate() {
                    scope.insert(key.clone(), jinja[k][choice[k]].clone());
                }
                let keep = filter.eval(&scope, &node.at).map_err(|e| e.key("matrix.$filter"))?;
                if !keep.is_true() {
                    continue;
                }
            }
            let values: IndexMap<String, Node> = self
                .keys
                .iter()
                .zip(&choice)
                .map(|((key, values), &c)| (key.clone(), values[c].clone()))
                .collect();
            combinations.push(Combination {
                index: index + 1,
                id: format!("{:0width$}", index + 1),
                slug: String::new(),
                values,
            });
        }
        assign_slugs(&mut combinations);
        Ok(combinations)
    }

    /// The value index of each key for the `index`-th combination (first key slowest).
    fn choice(&self, mut index: usize) -> Vec<usize> {
        let mut choice = vec![0; self.keys.len()];
        for (k, (_, values)) in self.keys.iter().enumerate().rev() {
            choice[k] = index % values.len();
            index /= values.len();
        }
        choice
    }
}

/// Matrix keys are used as names in expressions, so they must be identifiers.
fn check_name(key: &str, at: &Pos) -> Result<(), ConfigError> {
    let mut chars = key.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        Ok(())
    } else {
        Err(ConfigError::at(at.clone(), format!("`{key}` cannot be a matrix key"))
            .key(format!("matrix.{key}"))
            .hint("matrix keys are names used in expressions: letters, digits and `_`, not starting with a digit"))
    }
}

/// Give every combination its slug (see [`slug`]); where two would be equal, both get the
/// hash suffix.
fn assign_slugs(combinations: &mut [Combination]) {
    for c in combinations.iter_mut() {
        c.slug = slug(&c.values, false);
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    for c in combinations.iter() {
        *seen.entry(c.slug.clone()).or_default() += 1;
    }
    for c in combinations.iter_mut() {
        if seen[&c.slug] > 1 {
            c.slug = slug(&c.values, true);
        }
    }
}

/// The slug of one combination: `key-value` pairs in key order joined by `_`, e.g.
/// `patch-7_layer-4_drop-0.0`. Values render as in [`expr::to_text`]; lists and mappings
/// flatten to `a,b` and `k=v,k=v`. Only `A-Z a-z 0-9 . , = + -` and `_` are kept, so the
/// slug is a valid file name on Linux, macOS and Windows. If characters were dropped, the
/// slug was cut to 120 characters, or `force_hash` is set, `_h` and 8 hex digits of a hash
/// of the values are appended, which keeps slugs unique.
pub fn slug(values: &IndexMap<String, Node>, force_hash: bool) -> String {
    let raw: Vec<String> = values.iter().map(|(k, n)| format!("{k}-{}", slug_value(&n.value))).collect();
    let raw = raw.join("_");
    let mut safe: String = raw
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ',' | '=' | '+' | '-' | '_'))
        .collect();
    let mut lossy = safe.len() != raw.len();
    if safe.len() > MAX_SLUG_LEN {
        safe.truncate(MAX_SLUG_LEN);
        lossy = true;
    }
    // Windows does not allow a name to end in a dot.
    while safe.ends_with('.') {
        safe.pop();
        lossy = true;
    }
    if lossy || force_hash {
        let canonical = values
            .iter()
            .map(|(k, n)| format!("{k}={}", expr::to_text(&n.value)))
            .collect::<Vec<_>>()
            .join("\n");
        safe.push_str(&format!("_h{:08x}", fnv1a(canonical.as_bytes()) as u32));
    }
    safe
}

fn slug_value(value: &Value) -> String {
    match value {
        Value::Seq(items) => items.iter().map(|n| slug_value(&n.value)).collect::<Vec<_>>().join(","),
        Value::Map(map) => {
            map.iter().map(|(k, n)| format!("{k}={}", slug_value(&n.value))).collect::<Vec<_>>().join(",")
        }
        other => expr::to_text(other),
    }
}

/// FNV-1a, written out because folder names need a hash that never changes between Rust
/// versions (std's `DefaultHasher` may).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325, |hash, &b| (hash ^ u64::from(b)).wrapping_mul(0x100000001b3))
}
