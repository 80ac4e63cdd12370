//! A serde `Deserializer` over a [`Node`] tree, so that typed parsing of a resolved run
//! reports errors at the file, line, column and key path where the value was written.
//!
//! Hand-written because the tree is built by us (after `$extends`, matrix expansion and
//! substitution); serde-saphyr's own locations only exist while it reads text.
//! Beyond plain serde it accepts a bare name for an enum variant with options
//! (`optimizer: SGD` as well as `optimizer: {SGD: {momentum: 0.9}}`), and an integral float
//! (`2e6`) where an integer is expected.

use std::fmt;

use indexmap::IndexMap;
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, EnumAccess, Error as _, IntoDeserializer, MapAccess, SeqAccess,
    VariantAccess, Visitor,
};

use super::error::{ConfigError, suggestion};
use super::node::{Node, Pos, Value};

/// Deserialize a typed value from a node; errors name the position and the key path.
/// `key` is the dotted path of `node` itself ("" for the document root).
pub fn from_node<T: DeserializeOwned>(node: &Node, key: &str) -> Result<T, ConfigError> {
    T::deserialize(NodeDeserializer(node)).map_err(|err| err.into_config_error(node, key))
}

/// A deserialization error on its way up the tree.
#[derive(Debug)]
pub struct DeError {
    pos: Option<Pos>,
    path: Vec<String>,
    message: String,
    hint: Option<String>,
}

impl DeError {
    fn locate(mut self, pos: &Pos) -> DeError {
        if self.pos.is_none() {
            self.pos = Some(pos.clone());
        }
        self
    }

    fn within(mut self, segment: String) -> DeError {
        self.path.insert(0, segment);
        self
    }

    fn into_config_error(self, root: &Node, root_key: &str) -> ConfigError {
        let mut path: Vec<&str> = Vec::new();
        if !root_key.is_empty() {
            path.push(root_key);
        }
        path.extend(self.path.iter().map(String::as_str));
        let mut err = ConfigError::at(self.pos.unwrap_or_else(|| root.at.clone()), self.message);
        if !path.is_empty() {
            err = err.key(join_key_path(&path));
        }
        match self.hint {
            Some(hint) => err.hint(hint),
            None => err,
        }
    }
}

/// `a.b[0].c`: list indices attach to their key without a dot.
fn join_key_path(segments: &[&str]) -> String {
    let mut out = String::new();
    for segment in segments {
        if !out.is_empty() && !segment.starts_with('[') {
            out.push('.');
        }
        out.push_str(segment);
    }
    out
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError { pos: None, path: Vec::new(), message: msg.to_string(), hint: None }
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        let mut err = DeError::custom(format_args!("unknown key `{field}`"));
        err.hint = Some(if expected.is_empty() {
            "this entry takes no options: remove the key".to_string()
        } else {
            suggestion(field, expected)
        });
        err
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        let mut err = DeError::custom(format_args!("unknown name `{variant}`"));
        err.hint = Some(suggestion(variant, expected));
        err
    }

    fn missing_field(field: &'static str) -> Self {
        let mut err = DeError::custom(format_args!("the required key `{field}` is missing"));
        err.hint = Some(format!("add `{field}: ...` here"));
        err
    }

    fn invalid_type(unexp: de::Unexpected, exp: &dyn de::Expected) -> Self {
        wrong_value(&unexp, exp)
    }

    fn invalid_value(unexp: de::Unexpected, exp: &dyn de::Expected) -> Self {
        wrong_value(&unexp, exp)
    }
}

/// "expected a whole number >= 0, found ..." with a hint on how to write the expected kind.
fn wrong_value(unexp: &de::Unexpected, exp: &dyn de::Expected) -> DeError {
    let expected = match exp.to_string().as_str() {
        "usize" | "u64" | "u32" | "u16" | "u8" => "a whole number >= 0".to_string(),
        "i64" | "i32" => "a whole number".to_string(),
        "f64" | "f32" => "a number".to_string(),
        "a boolean" => "`true` or `false`".to_string(),
        other => other.to_string(),
    };
    let mut err = DeError::custom(format_args!("expected {expected}, found {}", describe(unexp)));
    err.hint = match expected.as_str() {
        "a sequence" => Some("write a list: `[a, b]`, or one `- item` per line".to_string()),
        e if e.starts_with("a whole number") || e == "a number" => {
            Some("write the number without quotes, e.g. `64`, `2_000_000` or `3e-4`".to_string())
        }
        _ => None,
    };
    err
}

/// `.nan`, `.inf`, `-.inf` are YAML numbers, but no setting of a run can use them.
fn not_finite(x: f64) -> DeError {
    let written = if x.is_nan() {
        ".nan"
    } else if x > 0.0 {
        ".inf"
    } else {
        "-.inf"
    };
    let mut err =
        DeError::custom(format_args!("found `{written}` (not a finite number), which no setting can use"));
    err.hint = Some(format!("write a number such as `0.5`, or `'{written}'` in quotes if text is meant"));
    err
}

fn describe(unexp: &de::Unexpected) -> String {
    match unexp {
        de::Unexpected::Unit => "nothing (null)".to_string(),
        de::Unexpected::Float(x) => format!("the number {x}"),
        de::Unexpected::Signed(x) => format!("the integer {x}"),
        de::Unexpected::Unsigned(x) => format!("the integer {x}"),
        other => other.to_string(),
    }
}

/// Deserializes one node.
struct NodeDeserializer<'a>(&'a Node);

impl NodeDeserializer<'_> {
    fn visit_integral<'de, V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.0.value {
            Value::Float(x) if x.fract() == 0.0 && x.abs() < 9.0e15 => visitor.visit_i64(*x as i64),
            _ => self.visit_any(visitor),
        }
    }

    fn visit_any<'de, V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let node = self.0;
        let result = match &node.value {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Int(i) => visitor.visit_i64(*i),
            Value::Float(x) if !x.is_finite() => Err(not_finite(*x)),
            Value::Float(x) => visitor.visit_f64(*x),
            Value::Str(s) => visitor.visit_str(s),
            Value::Seq(items) => visitor.visit_seq(NodeSeq { items: items.iter(), index: 0 }),
            Value::Map(map) => visitor.visit_map(NodeMap::new(map)),
        };
        result.map_err(|err| err.locate(&node.at))
    }
}

macro_rules! integral {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            self.visit_integral(visitor)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for NodeDeserializer<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.visit_any(visitor)
    }

    integral!(deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
              deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64);

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0.value {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let node = self.0;
        let access = match &node.value {
            Value::Str(name) => NodeEnum { name, name_at: &node.at, options: None },
            Value::Map(map) if map.len() == 1 => {
                let (name, options) = map.first().expect("one entry");
                NodeEnum { name, name_at: &options.key_at, options: Some(options) }
            }
            _ => {
                return Err(DeError::custom(format_args!(
                    "expected a name, or a mapping with one entry `name: {{options}}`, found {}",
                    node.type_name()
                ))
                .locate(&node.at));
            }
        };
        visitor.visit_enum(access).map_err(|err| err.locate(&node.at))
    }

    serde::forward_to_deserialize_any! {
        bool f32 f64 char str string bytes byte_buf unit unit_struct seq tuple
        tuple_struct map struct identifier ignored_any i128 u128
    }
}

struct NodeSeq<'a> {
    items: std::slice::Iter<'a, Node>,
    index: usize,
}

impl<'de> SeqAccess<'de> for NodeSeq<'_> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, DeError> {
        let Some(item) = self.items.next() else {
            return Ok(None);
        };
        let index = self.index;
        self.index += 1;
        seed.deserialize(NodeDeserializer(item)).map(Some).map_err(|err| err.within(format!("[{index}]")))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct NodeMap<'a> {
    entries: indexmap::map::Iter<'a, String, Node>,
    value: Option<(&'a String, &'a Node)>,
}

impl<'a> NodeMap<'a> {
    fn new(map: &'a IndexMap<String, Node>) -> Self {
        NodeMap { entries: map.iter(), value: None }
    }
}

impl<'de> MapAccess<'de> for NodeMap<'_> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, DeError> {
        let Some((key, node)) = self.entries.next() else {
            return Ok(None);
        };
        self.value = Some((key, node));
        let key_de: de::value::StrDeserializer<'_, DeError> = key.as_str().into_deserializer();
        seed.deserialize(key_de).map(Some).map_err(|err| err.locate(&node.key_at).within(key.clone()))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let (key, node) = self.value.take().expect("next_value after next_key");
        seed.deserialize(NodeDeserializer(node)).map_err(|err| err.within(key.clone()))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

/// An enum written as `name` or `{name: options}`.
struct NodeEnum<'a> {
    name: &'a str,
    name_at: &'a Pos,
    options: Option<&'a Node>,
}

impl<'de, 'a> EnumAccess<'de> for NodeEnum<'a> {
    type Error = DeError;
    type Variant = NodeVariant<'a>;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self::Variant), DeError> {
        let name_de: de::value::StrDeserializer<'_, DeError> = self.name.into_deserializer();
        let variant = seed.deserialize(name_de).map_err(|err| err.locate(self.name_at))?;
        Ok((variant, NodeVariant { name: self.name, name_at: self.name_at, options: self.options }))
    }
}

struct NodeVariant<'a> {
    name: &'a str,
    name_at: &'a Pos,
    options: Option<&'a Node>,
}

impl NodeVariant<'_> {
    fn options_error(&self) -> DeError {
        let mut err = DeError::custom(format_args!("`{}` takes no options", self.name));
        err.hint = Some(format!("write just the name: `{}`", self.name));
        err.within(self.name.to_string())
    }
}

impl<'de> VariantAccess<'de> for NodeVariant<'_> {
    type Error = DeError;

    fn unit_variant(self) -> Result<(), DeError> {
        match self.options {
            None => Ok(()),
            Some(node) if matches!(&node.value, Value::Null) => Ok(()),
            Some(node) if matches!(&node.value, Value::Map(map) if map.is_empty()) => Ok(()),
            Some(node) => Err(self.options_error().locate(&node.at)),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, DeError> {
        match self.options {
            Some(node) => seed.deserialize(NodeDeserializer(node)).map_err(|e| e.within(self.name.into())),
            // A bare name: its options struct with every option at its default.
            None => {
                let empty = Node {
                    value: Value::Map(IndexMap::new()),
                    at: self.name_at.clone(),
                    key_at: self.name_at.clone(),
                };
                seed.deserialize(NodeDeserializer(&empty)).map_err(|e| e.within(self.name.into()))
            }
        }
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, DeError> {
        match self.options {
            Some(node) => de::Deserializer::deserialize_seq(NodeDeserializer(node), visitor)
                .map_err(|e| e.within(self.name.into())),
            None => visitor.visit_seq(NodeSeq { items: [].iter(), index: 0 }),
        }
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match self.options.map(|node| (node, &node.value)) {
            // A bare name, or `name:` with nothing after it: every option takes its default.
            None | Some((_, Value::Null)) => visitor.visit_map(NodeMap::new(&EMPTY_MAP)),
            Some((node, Value::Map(map))) => {
                visitor.visit_map(NodeMap::new(map)).map_err(|e| e.locate(&node.at).within(self.name.into()))
            }
            Some((node, _)) => Err(DeError::custom(format_args!(
                "the options of `{}` must be a mapping, found {}",
                self.name,
                node.type_name()
            ))
            .locate(&node.at)
            .within(self.name.into())),
        }
    }
}

static EMPTY_MAP: std::sync::LazyLock<IndexMap<String, Node>> = std::sync::LazyLock::new(IndexMap::new);
