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

/// A place in an experiment file: file, 1-based line and column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pos {
    pub file: Arc<Path>,
    pub line: u64,
    pub column: u64,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

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
        // values such as `[x, y, z]` or country codes into booleans.
        let options = serde_saphyr::options! { strict_booleans: true };
        let raw: Spanned<RawNode> = serde_saphyr::from_str_with_options(text, options).map_err(|err| {
            let (line, column) = err.location().map(|loc| (loc.line(), loc.column())).unwrap_or((0, 0));
            let at = Pos { file: file.clone(), line, column };
            let reason = err.to_string();
            match duplicate_key(&reason) {
                Some(key) => ConfigError::at(at, format!("the key `{key}` appears twice in this mapping"))
                    .hint("keep one of them (merge their contents)"),
                None => ConfigError::at(at, format!("this is not valid YAML: {}", yaml_reason(&reason)))
                    .hint("check the indentation and quoting around this place"),
            }
        })?;
        Ok(raw.into_node(&file, None))
    }

    /// Read and parse a YAML file.
    pub fn read(path: &Path) -> Result<Node, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|err| ConfigError::file(path, format!("cannot read the experiment file: {err}")))?;
        Node::parse(&text, path)
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
    fn into_node(self, file: &Arc<Path>, key_at: Option<Pos>) -> Node;
}

impl IntoNode for Spanned<RawNode> {
    fn into_node(self, file: &Arc<Path>, key_at: Option<Pos>) -> Node {
        let at = pos(file, &self.referenced);
        let value = match self.value {
            RawNode::Null => Value::Null,
            RawNode::Bool(b) => Value::Bool(b),
            RawNode::Int(i) => Value::Int(i),
            RawNode::Float(x) => Value::Float(x),
            RawNode::Str(s) => Value::Str(s),
            RawNode::Seq(items) => {
                Value::Seq(items.into_iter().map(|item| item.into_node(file, None)).collect())
            }
            RawNode::Map(entries) => Value::Map(
                entries
                    .into_iter()
                    .map(|(key, value)| {
                        let key_pos = pos(file, &key.referenced);
                        (key.value.0, value.into_node(file, Some(key_pos)))
                    })
                    .collect(),
            ),
        };
        Node { key_at: key_at.unwrap_or_else(|| at.clone()), value, at }
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
    /// The value as it renders in text (see [`super::expr::to_text`]).
    pub fn value_text(&self) -> String {
        super::expr::to_text(&self.value)
    }
}
