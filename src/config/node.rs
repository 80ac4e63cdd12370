//! A YAML document as a tree of [`Node`]s that remember where they came from.
//!
//! Matrix expansion, `$extends` merging and `${...}` substitution all work on this tree, so
//! that an error found late (a wrong type after substitution, an unknown key in a parent file)
//! can still name the file, line and column the user wrote.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use indexmap::IndexMap;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use super::error::ConfigError;
pub use super::pos::Pos;

/// One YAML value with its position and, for a mapping entry, the position of its key.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub value: Value,
    pub at: Pos,
    pub key_at: Pos,
}

/// The value of a [`Node`]. Mappings keep the file's key order.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(IndexMap<String, Node>),
}

impl Node {
    /// A node at `at` (also used as its key position).
    pub fn new(value: Value, at: Pos) -> Node {
        Node { value, key_at: at.clone(), at }
    }

    pub fn as_map(&self) -> Option<&IndexMap<String, Node>> {
        match &self.value {
            Value::Map(map) => Some(map),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// A short description of the value's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        self.value.type_name()
    }

    /// Parse a YAML document; positions are tagged with `file`.
    pub fn parse(text: &str, file: &Path) -> Result<Node, ConfigError> {
        let file: Arc<Path> = Arc::from(file);
        // Only `true`/`false` are booleans: YAML 1.1's `y`, `no`, `on` would turn matrix
        // values such as `[x, y, z]` or country codes into booleans. `.nan` and `.inf` are
        // read as numbers; the typed config refuses them where a number is needed.
        let options = serde_saphyr::options! {
            strict_booleans: true,
            non_finite_float_policy: serde_saphyr::NonFiniteFloatPolicy::PassThrough,
        };
        let raw: Spanned<RawNode> = serde_saphyr::from_str_with_options(text, options).map_err(|err| {
            let (line, column) = err.location().map(|loc| (loc.line(), loc.column())).unwrap_or((0, 0));
            yaml_error(&err, Pos { file: file.clone(), line, column })
        })?;
        raw.into_node(&Source { file, text }, None)
    }

    /// Read and parse a YAML file. Only a regular file of at most [`MAX_FILE_BYTES`] is read,
    /// so that a device, a FIFO or a huge file gives an error instead of hanging.
    pub fn read(path: &Path) -> Result<Node, ConfigError> {
        let cannot =
            |detail: String| ConfigError::file(path, format!("cannot read the experiment file: {detail}"));
        let metadata = std::fs::metadata(path).map_err(|err| cannot(err.to_string()))?;
        if !metadata.is_file() {
            return Err(cannot("it is not a regular file (a folder, device or pipe)".to_string())
                .hint("give the path of a YAML file"));
        }
        let file = std::fs::File::open(path).map_err(|err| cannot(err.to_string()))?;
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut std::io::Read::take(file, MAX_FILE_BYTES + 1), &mut bytes)
            .map_err(|err| cannot(err.to_string()))?;
        if bytes.len() as u64 > MAX_FILE_BYTES {
            return Err(cannot(format!("it is larger than {} MiB", MAX_FILE_BYTES >> 20))
                .hint("an experiment file is a short list of settings: is this the right file?"));
        }
        let text = String::from_utf8(bytes).map_err(|err| cannot(format!("it is not UTF-8 text ({err})")))?;
        Node::parse(&text, path)
    }
}

/// The largest experiment file `expgrid` reads (also each `$extends` parent).
pub const MAX_FILE_BYTES: u64 = 1 << 20;

/// The parser's error in the user's terms.
fn yaml_error(err: &serde_saphyr::Error, at: Pos) -> ConfigError {
    use serde_saphyr::Error;
    use serde_saphyr::budget::BudgetBreach;
    match err.without_snippet() {
        Error::DuplicateMappingKey { .. } => {
            let reason = err.to_string();
            let key = duplicate_key(&reason).unwrap_or("?");
            ConfigError::at(at, format!("the key `{key}` appears twice in this mapping"))
                .hint("keep one of them (merge their contents)")
        }
        Error::MultipleDocuments { .. } => {
            ConfigError::at(at, "the file holds more than one YAML document (a `---` line)")
                .hint("an experiment file is one document: remove the `---` line, or split the file")
        }
        Error::Budget { breach, .. } => {
            let what = match breach {
                BudgetBreach::Nodes { .. } => {
                    "more than 250,000 values (each use of an alias `*name` counts its values again)"
                        .to_string()
                }
                BudgetBreach::Depth { depth } => format!("values nested {depth} levels deep"),
                BudgetBreach::Aliases { .. } => "too many aliases (`*name`)".to_string(),
                BudgetBreach::Anchors { .. } => "too many anchors (`&name`)".to_string(),
                BudgetBreach::Events { .. } => "too many YAML elements".to_string(),
                _ => "more than the YAML reader allows".to_string(),
            };
            ConfigError::at(at, format!("the file is too large to be an experiment file: {what}")).hint(
                "an experiment file lists settings and short matrix lists; aliases must not multiply them",
            )
        }
        _ => {
            let reason = err.to_string();
            ConfigError::at(at, format!("this is not valid YAML: {}", yaml_reason(&reason)))
                .hint("check the indentation and quoting around this place")
        }
    }
}

/// The text a node tree is read from, to see how a scalar was written.
struct Source<'a> {
    file: Arc<Path>,
    text: &'a str,
}

impl Source<'_> {
    /// The source text of a plain scalar, if its span is known.
    fn raw(&self, loc: &serde_saphyr::Location) -> Option<&str> {
        let span = loc.span();
        let start = usize::try_from(span.byte_offset()?).ok()?;
        let len = usize::try_from(span.byte_len()?).ok()?;
        self.text.get(start..start.checked_add(len)?)
    }
}

/// A scalar the parser read as a float but that is written as a whole number: `01`, `010`
/// (YAML 1.2: decimal integers, not octal) or one too large for an integer (an error).
fn integer_spelling(raw: &str, at: &Pos) -> Result<Option<i64>, ConfigError> {
    let digits = raw.trim().replace('_', "");
    let unsigned = digits.strip_prefix(['+', '-']).unwrap_or(&digits);
    if unsigned.is_empty() || !unsigned.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    match digits.parse::<i64>() {
        Ok(value) => Ok(Some(value)),
        Err(_) => Err(ConfigError::at(
            at.clone(),
            format!("the integer {} is too large (integers go up to {})", raw.trim(), i64::MAX),
        )
        .hint("if a very large number is meant, write it as a float, e.g. `1e20`")),
    }
}

impl Value {
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

/// The parser's message without its own "error: line N column M:" prefix (we print the
/// position ourselves).
fn yaml_reason(text: &str) -> &str {
    let first = text.lines().next().unwrap_or(text);
    match first.strip_prefix("error: line ") {
        Some(rest) => rest.split_once(": ").map_or(first, |(_, reason)| reason),
        None => first,
    }
}

/// The key of serde-saphyr's "duplicate mapping key: KEY, set DuplicateKeyPolicy ..." error.
fn duplicate_key(text: &str) -> Option<&str> {
    let rest = text.split_once("duplicate mapping key: ")?.1;
    Some(rest.split_once(", set DuplicateKeyPolicy").map_or(rest, |(key, _)| key).trim())
}

/// What serde-saphyr hands us: a value whose children carry their own spans.
enum RawNode {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<RawNode>>),
    Map(Vec<(Spanned<RawKey>, Spanned<RawNode>)>),
}

/// A mapping key: any scalar, kept as its text.
struct RawKey(String);

trait IntoNode {
    fn into_node(self, source: &Source, key_at: Option<Pos>) -> Result<Node, ConfigError>;
}

impl IntoNode for Spanned<RawNode> {
    fn into_node(self, source: &Source, key_at: Option<Pos>) -> Result<Node, ConfigError> {
        let at = pos(&source.file, &self.referenced);
        let value = match self.value {
            RawNode::Null => Value::Null,
            RawNode::Bool(b) => Value::Bool(b),
            RawNode::Int(i) => Value::Int(i),
            RawNode::Float(x) => match source.raw(&self.referenced).map(|raw| integer_spelling(raw, &at)) {
                Some(Ok(Some(i))) => Value::Int(i),
                Some(Err(err)) => return Err(err),
                _ => Value::Float(x),
            },
            RawNode::Str(s) => Value::Str(s),
            RawNode::Seq(items) => Value::Seq(
                items.into_iter().map(|item| item.into_node(source, None)).collect::<Result<_, _>>()?,
            ),
            RawNode::Map(entries) => Value::Map(
                entries
                    .into_iter()
                    .map(|(key, value)| {
                        let key_pos = pos(&source.file, &key.referenced);
                        Ok((key.value.0, value.into_node(source, Some(key_pos))?))
                    })
                    .collect::<Result<_, ConfigError>>()?,
            ),
        };
        Ok(Node { key_at: key_at.unwrap_or_else(|| at.clone()), value, at })
    }
}

fn pos(file: &Arc<Path>, loc: &serde_saphyr::Location) -> Pos {
    Pos { file: file.clone(), line: loc.line(), column: loc.column() }
}

impl<'de> Deserialize<'de> for RawNode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RawNodeVisitor)
    }
}

struct RawNodeVisitor;

impl<'de> Visitor<'de> for RawNodeVisitor {
    type Value = RawNode;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E>(self) -> Result<RawNode, E> {
        Ok(RawNode::Null)
    }
    fn visit_none<E>(self) -> Result<RawNode, E> {
        Ok(RawNode::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<RawNode, D::Error> {
        RawNode::deserialize(d)
    }
    fn visit_bool<E>(self, v: bool) -> Result<RawNode, E> {
        Ok(RawNode::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<RawNode, E> {
        Ok(RawNode::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawNode, E> {
        i64::try_from(v).map(RawNode::Int).or(Ok(RawNode::Float(v as f64)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<RawNode, E> {
        Ok(RawNode::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<RawNode, E> {
        Ok(RawNode::Str(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<RawNode, E> {
        Ok(RawNode::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawNode, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(RawNode::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawNode, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = map.next_entry::<Spanned<RawKey>, Spanned<RawNode>>()? {
            entries.push(entry);
        }
        Ok(RawNode::Map(entries))
    }
}

impl<'de> Deserialize<'de> for RawKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = RawKey;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a scalar mapping key")
            }
            fn visit_str<E>(self, v: &str) -> Result<RawKey, E> {
                Ok(RawKey(v.to_string()))
            }
            fn visit_bool<E>(self, v: bool) -> Result<RawKey, E> {
                Ok(RawKey(v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<RawKey, E> {
                Ok(RawKey(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<RawKey, E> {
                Ok(RawKey(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<RawKey, E> {
                Ok(RawKey(v.to_string()))
            }
            fn visit_unit<E>(self) -> Result<RawKey, E> {
                Ok(RawKey("null".to_string()))
            }
        }
        deserializer.deserialize_any(KeyVisitor)
    }
}

/// A node serializes as its plain value (positions are left out).
impl serde::Serialize for Node {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.value {
            Value::Null => serializer.serialize_unit(),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Int(i) => serializer.serialize_i64(*i),
            Value::Float(x) => serializer.serialize_f64(*x),
            Value::Str(s) => serializer.serialize_str(s),
            Value::Seq(items) => serializer.collect_seq(items),
            Value::Map(map) => serializer.collect_map(map),
        }
    }
}

impl Node {
    /// The value as it renders in text (see [`to_text`]).
    pub fn value_text(&self) -> String {
        to_text(&self.value)
    }
}

/// How a value renders inside a longer string and in slugs' source text: numbers as
/// written (floats keep a decimal point: `0.0`), lists as `[a, b]`.
pub fn to_text(value: &Value) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(x) => float_text(*x),
        Value::Str(s) => s.clone(),
        Value::Seq(items) => {
            format!("[{}]", items.iter().map(|n| to_text(&n.value)).collect::<Vec<_>>().join(", "))
        }
        Value::Map(map) => format!(
            "{{{}}}",
            map.iter().map(|(k, n)| format!("{k}: {}", to_text(&n.value))).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// A float as Python's `repr` prints it: `0.0`, `0.0003`, `2.5`, `1e-05`, `1e+30`.
pub fn float_text(x: f64) -> String {
    let exponent = if x == 0.0 || !x.is_finite() { 0 } else { x.abs().log10().floor() as i32 };
    if !(-4..16).contains(&exponent) {
        let text = format!("{x:e}");
        let (mantissa, exp) = text.split_once('e').unwrap_or((&text, "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    } else if x.fract() == 0.0 {
        format!("{x:.1}")
    } else {
        format!("{x}")
    }
}
