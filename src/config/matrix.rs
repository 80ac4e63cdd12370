//! The `matrix:` block: the cartesian product of its lists, the `$filter`, the `$sample`,
//! the `$halving` hook (`super::halving`), `matrix_id` and `matrix_slug`.

use std::collections::{HashMap, HashSet};

use indexmap::IndexMap;
use minijinja::Environment;

use super::error::{ConfigError, ConfigErrors};
use super::expr::{self, CompiledExpr, Scope};
use super::halving::Halving;
use super::node::{Node, Pos, Value};

/// The key of the filter expression inside `matrix:`.
pub const FILTER_KEY: &str = "$filter";
/// The key of the random subset inside `matrix:`.
pub const SAMPLE_KEY: &str = "$sample";
pub use super::halving::HALVING_KEY;

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
    sample: Option<Sample>,
    halving: Option<Halving>,
    /// Where `matrix:` is written (none without a matrix).
    at: Option<Pos>,
}

/// `$sample: {n, seed}`: `n` combinations drawn without replacement from those that pass the
/// filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    pub n: usize,
    pub seed: u64,
}

impl Matrix {
    /// Read the `matrix:` node. Every value must be a non-empty list without repeated
    /// values; every key a name expressions can use. All problems are reported at once.
    pub fn parse(node: Option<&Node>) -> Result<Matrix, ConfigErrors> {
        let Some(node) = node else {
            return Ok(Matrix { keys: Vec::new(), filter: None, sample: None, halving: None, at: None });
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
        let mut sample = None;
        let mut halving = None;
        let mut errors = Vec::new();
        for (key, value) in map {
            if key == SAMPLE_KEY {
                match Sample::parse(value) {
                    Ok(parsed) => sample = Some(parsed),
                    Err(err) => errors.push(err),
                }
                continue;
            }
            if key == HALVING_KEY {
                match Halving::parse(value) {
                    Ok(parsed) => halving = Some(parsed),
                    Err(err) => errors.push(err),
                }
                continue;
            }
            if key == FILTER_KEY {
                if value.as_str().is_none() {
                    errors.push(
                        ConfigError::at(value.at.clone(), "the filter must be one expression (a string)")
                            .key(format!("matrix.{key}"))
                            .hint("write e.g. `$filter: ${a} < ${b}`"),
                    );
                }
                filter = Some(value.clone());
                continue;
            }
            if key.starts_with('$') {
                errors.push(
                    ConfigError::at(value.key_at.clone(), format!("unknown matrix directive `{key}`"))
                        .key(format!("matrix.{key}"))
                        .hint(format!(
                            "the directives are `{FILTER_KEY}`, `{SAMPLE_KEY}` and `{HALVING_KEY}`"
                        )),
                );
                continue;
            }
            if let Err(err) = check_name(key, &value.key_at) {
                errors.push(err);
                continue;
            }
            match &value.value {
                Value::Seq(items) if items.is_empty() => errors.push(
                    ConfigError::at(value.at.clone(), "an empty list gives the file no runs")
                        .key(format!("matrix.{key}"))
                        .hint(format!("give at least one value, or remove `{key}` from the matrix")),
                ),
                Value::Seq(items) => {
                    errors.extend(repeated_values(key, items));
                    keys.push((key.clone(), items.clone()));
                }
                other => errors.push(
                    ConfigError::at(
                        value.at.clone(),
                        format!("matrix values must be a list, found {}", other.type_name()),
                    )
                    .key(format!("matrix.{key}"))
                    .hint(format!("wrap it in [ ]: `{key}: [{}]`", expr::to_text(other))),
                ),
            }
        }
        if !errors.is_empty() {
            return Err(ConfigErrors(errors));
        }
        Ok(Matrix { keys, filter, sample, halving, at: Some(node.key_at.clone()) })
    }

    /// The `$sample` directive, if any.
    pub fn sample(&self) -> Option<Sample> {
        self.sample
    }

    /// The `$halving` directive, if any.
    pub fn halving(&self) -> Option<&Halving> {
        self.halving.as_ref()
    }

    /// The matrix keys in file order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|(k, _)| k.as_str())
    }

    /// Size of the unfiltered product (1 for an empty matrix: one run without matrix
    /// values); `None` if it does not fit in a `usize`.
    pub fn product_size(&self) -> Option<usize> {
        self.keys.iter().try_fold(1usize, |product, (_, values)| product.checked_mul(values.len()))
    }

    /// All combinations that pass the filter, first key varying slowest. A product larger
    /// than `max_combinations`, a filter that gives anything but `true`/`false`, and a
    /// filter that keeps nothing are errors.
    pub fn expand(
        &self,
        env: &Environment<'static>,
        max_combinations: usize,
    ) -> Result<Vec<Combination>, ConfigError> {
        let total = self.checked_size(max_combinations)?;
        let width = total.to_string().len();
        let filter = match &self.filter {
            Some(node) => {
                let text = node.as_str().unwrap_or_default();
                let source = expr::inline_placeholders(text).map_err(|(message, hint)| {
                    ConfigError::at(node.at.clone(), message).key("matrix.$filter").hint(hint)
                })?;
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
                if keep.kind() != minijinja::value::ValueKind::Bool {
                    return Err(self.not_a_truth_value(&keep, &scope, node));
                }
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
        if let (true, Some((_, node))) = (combinations.is_empty(), &filter) {
            return Err(ConfigError::at(
                node.at.clone(),
                format!("the filter keeps none of the {total} combinations, so the file has no runs"),
            )
            .key("matrix.$filter")
            .hint("`expgrid plan` without the filter lists the combinations it sees"));
        }
        assign_slugs(&mut combinations);
        Ok(combinations)
    }

    /// The product size, or an error if it is above `max_combinations`.
    fn checked_size(&self, max_combinations: usize) -> Result<usize, ConfigError> {
        let size = self.product_size();
        if let Some(size) = size.filter(|&size| size <= max_combinations || self.keys.is_empty()) {
            return Ok(size);
        }
        let sizes: Vec<String> =
            self.keys.iter().map(|(key, values)| format!("{} {key}", values.len())).collect();
        let size = size.map_or_else(|| format!("more than {}", usize::MAX), |size| size.to_string());
        let at = self.at.clone().expect("a product above the limit comes from a matrix");
        Err(ConfigError::at(
            at,
            format!(
                "the matrix has {size} combinations ({}), more than the limit of {max_combinations}",
                sizes.join(" x ")
            ),
        )
        .key("matrix")
        .hint("sweep fewer values, split the file, or raise the limit with `--max-combinations N`"))
    }

    /// The error for a filter result that is not a boolean.
    fn not_a_truth_value(&self, result: &minijinja::Value, scope: &Scope, node: &Node) -> ConfigError {
        let values: Vec<String> = scope.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
        let shown = match result.kind() {
            minijinja::value::ValueKind::String => {
                format!("the string {:?}", result.as_str().unwrap_or_default())
            }
            kind => format!("{result:?} (a {kind})"),
        };
        ConfigError::at(
            node.at.clone(),
            format!("the filter must give true or false, it gave {shown} for {}", values.join(", ")),
        )
        .key("matrix.$filter")
        .hint(
            "write a comparison, e.g. `${a} % 2 != 0` rather than `${a} % 2`; \
             a filter written in quotes inside the YAML string is a string, not an expression",
        )
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

impl Sample {
    /// Read `$sample: {n: 20, seed: 0}` (`seed` defaults to 0). By hand rather than through
    /// `de::from_node`: its generic messages ("expected a nonzero usize") say less than these.
    fn parse(node: &Node) -> Result<Sample, ConfigError> {
        let key = format!("matrix.{SAMPLE_KEY}");
        let hint = format!("write e.g. `{SAMPLE_KEY}: {{n: 20, seed: 0}}`");
        let Some(map) = node.as_map() else {
            return Err(ConfigError::at(
                node.at.clone(),
                format!("`{SAMPLE_KEY}` must be a mapping with `n` and `seed`, found {}", node.type_name()),
            )
            .key(key)
            .hint(hint));
        };
        let mut sample = Sample { n: 0, seed: 0 };
        for (name, value) in map {
            let number = match value.value {
                Value::Int(i) if i >= 0 => Some(i as u64),
                _ => None,
            };
            match (name.as_str(), number) {
                ("n", Some(n)) if n > 0 => sample.n = n as usize,
                ("n", _) => {
                    return Err(ConfigError::at(
                        value.at.clone(),
                        format!("`n` must be a positive whole number, found {}", expr::to_text(&value.value)),
                    )
                    .key(format!("{key}.n"))
                    .hint("the number of combinations to train, e.g. `n: 20`"));
                }
                ("seed", Some(seed)) => sample.seed = seed,
                ("seed", _) => {
                    return Err(ConfigError::at(
                        value.at.clone(),
                        format!("`seed` must be a whole number >= 0, found {}", expr::to_text(&value.value)),
                    )
                    .key(format!("{key}.seed"))
                    .hint("e.g. `seed: 0`; another seed draws another subset"));
                }
                _ => {
                    let takes = "`n` and `seed`";
                    return Err(ConfigError::unknown_key_in(
                        SAMPLE_KEY,
                        name,
                        value.key_at.clone(),
                        &key,
                        takes,
                    ));
                }
            }
        }
        if sample.n == 0 {
            return Err(ConfigError::at(
                node.at.clone(),
                format!("`{SAMPLE_KEY}` needs `n`, the number of combinations to train"),
            )
            .key(key)
            .hint(hint));
        }
        Ok(sample)
    }

    /// The `n` combinations of `combinations` that rank first by a hash of the seed and their
    /// values, in their original order. A combination's rank does not depend on `n` or on the
    /// other combinations, so growing `n` keeps the runs already drawn.
    pub fn draw(&self, combinations: Vec<Combination>) -> Vec<Combination> {
        let mut ranked: Vec<(u64, Combination)> =
            combinations.into_iter().map(|c| (self.rank(&c.values), c)).collect();
        ranked.sort_by_key(|(rank, c)| (*rank, c.index));
        ranked.truncate(self.n);
        let mut drawn: Vec<Combination> = ranked.into_iter().map(|(_, c)| c).collect();
        drawn.sort_by_key(|c| c.index);
        drawn
    }

    fn rank(&self, values: &IndexMap<String, Node>) -> u64 {
        splitmix64(fnv1a(canonical(values).as_bytes()) ^ splitmix64(self.seed))
    }
}

/// SplitMix64's finaliser: spreads FNV-1a's bits so that ranks are uniformly ordered.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e3779b97f4a7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
    z ^ (z >> 31)
}

/// `key=value` lines of a combination's values: what its slug hash and sample rank hash.
fn canonical(values: &IndexMap<String, Node>) -> String {
    values.iter().map(|(k, n)| format!("{k}={}", expr::to_text(&n.value))).collect::<Vec<_>>().join("\n")
}

/// Matrix keys are used as names in expressions, so they must be identifiers, and not the
/// built-in names.
fn check_name(key: &str, at: &Pos) -> Result<(), ConfigError> {
    if [super::SLUG_NAME, super::ID_NAME].contains(&key) {
        return Err(ConfigError::at(
            at.clone(),
            format!("`{key}` is a built-in name, it cannot be a matrix key"),
        )
        .key(format!("matrix.{key}"))
        .hint(format!("rename the key; `${{{key}}}` is always the run's own {key}")));
    }
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

/// An error for every value that repeats an earlier one of the same list (`1` and `1.0`,
/// `0.0003` and `3e-4` are the same value): both would plan the same run twice.
fn repeated_values(key: &str, items: &[Node]) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    for (i, item) in items.iter().enumerate() {
        if let Some(first) = items[..i].iter().find(|earlier| same_value(&earlier.value, &item.value)) {
            errors.push(
                ConfigError::at(
                    item.at.clone(),
                    format!(
                        "the value {} is listed twice (also at line {}, column {})",
                        expr::to_text(&item.value),
                        first.at.line,
                        first.at.column
                    ),
                )
                .key(format!("matrix.{key}[{i}]"))
                .hint("two equal values would plan the same run twice: remove one"),
            );
        }
    }
    errors
}

/// Equal as values: numbers compare by value (`1 == 1.0`), lists and mappings by content.
fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Int(i), Value::Float(x)) | (Value::Float(x), Value::Int(i)) => *i as f64 == *x,
        (Value::Seq(a), Value::Seq(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(a, b)| same_value(&a.value, &b.value))
        }
        (Value::Map(a), Value::Map(b)) => {
            a.len() == b.len()
                && a.iter().zip(b).all(|((ka, a), (kb, b))| ka == kb && same_value(&a.value, &b.value))
        }
        _ => a == b,
    }
}

/// Give every combination its slug (see [`slug`]); where two would be equal, also when
/// letter case is ignored (one folder on macOS and Windows), both get the hash suffix.
fn assign_slugs(combinations: &mut [Combination]) {
    for c in combinations.iter_mut() {
        c.slug = slug(&c.values, false);
    }
    let clashing = clashing_slugs(combinations);
    for c in combinations.iter_mut().filter(|c| clashing.contains(&c.slug.to_lowercase())) {
        c.slug = slug(&c.values, true);
    }
    // Values of different types can render alike (the string `'1'` and the integer `1`);
    // only those slugs also get a hash of the typed values.
    let clashing = clashing_slugs(combinations);
    for c in combinations.iter_mut().filter(|c| clashing.contains(&c.slug.to_lowercase())) {
        let typed = serde_json::to_string(&c.values).expect("matrix values serialize");
        c.slug.push_str(&format!("_t{:08x}", fnv1a(typed.as_bytes()) as u32));
    }
}

/// The slugs (in lower case) that more than one combination has, ignoring letter case.
fn clashing_slugs(combinations: &[Combination]) -> HashSet<String> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    for c in combinations {
        *seen.entry(c.slug.to_lowercase()).or_default() += 1;
    }
    seen.into_iter().filter(|(_, count)| *count > 1).map(|(slug, _)| slug).collect()
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
        safe.push_str(&format!("_h{:08x}", fnv1a(canonical(values).as_bytes()) as u32));
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
