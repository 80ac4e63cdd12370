//! Safe expressions and `${...}` placeholders, evaluated with minijinja's expression engine
//! (no code execution). Python-like operators: `/` true division, `//`, `%`, comparisons,
//! `and`/`or`/`not`, `in`, indexing, `len(x)`, and `merge(a, b, ...)` for mappings (later
//! keys win).

use std::collections::BTreeSet;

use indexmap::IndexMap;
use minijinja::value::{Value as Jinja, ValueKind};
use minijinja::{Environment, UndefinedBehavior};

use super::error::{ConfigError, suggestion};
pub use super::node::to_text;
use super::node::{Node, Pos, Value};
use super::python::{self, QuoteState};

/// The names an expression may use, with their values.
pub type Scope = IndexMap<String, Jinja>;

/// The expression environment: strict about undefined names, with `len` and `merge`.
pub fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.add_function("len", |value: Jinja| -> Result<usize, minijinja::Error> {
        value.len().ok_or_else(|| {
            minijinja::Error::new(
                minijinja::ErrorKind::InvalidOperation,
                format!("len() of {} is not defined", value.kind()),
            )
        })
    });
    env.add_function("merge", |maps: minijinja::value::Rest<Jinja>| -> Result<Jinja, minijinja::Error> {
        let mut merged = IndexMap::new();
        for map in maps.iter() {
            if map.kind() != ValueKind::Map {
                return Err(minijinja::Error::new(
                    minijinja::ErrorKind::InvalidOperation,
                    format!("merge() takes mappings, got {}", map.kind()),
                ));
            }
            for key in map.try_iter()? {
                let value = map.get_item(&key)?;
                merged.insert(key, value);
            }
        }
        Ok(Jinja::from(merged))
    });
    env.add_function(python::ORDERED, |left: Jinja, op: String, right: Jinja| {
        python::ordered(&left, &op, &right)
    });
    env
}

/// A piece of a string: literal text or the expression inside `${...}`.
#[derive(Debug, PartialEq)]
enum Piece<'a> {
    Text(&'a str),
    Placeholder(&'a str),
}

/// Split a string into text and `${...}` placeholders. Braces nest and quoted strings
/// inside an expression may contain braces. An unclosed `${` is an error.
fn pieces(text: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        if start > 0 {
            out.push(Piece::Text(&rest[..start]));
        }
        let body = &rest[start + 2..];
        let end = closing_brace(body).ok_or_else(|| format!("`${{` without its closing `}}` in {text:?}"))?;
        out.push(Piece::Placeholder(body[..end].trim()));
        rest = &body[end + 1..];
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest));
    }
    Ok(out)
}

/// Index of the `}` that closes an expression, skipping nested braces and quoted strings.
fn closing_brace(body: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in body.char_indices() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                '\'' | '"' => quote = Some(c),
                '{' => depth += 1,
                '}' if depth == 0 => return Some(i),
                '}' => depth -= 1,
                _ => {}
            },
        }
    }
    None
}

/// Does the string contain a placeholder?
pub fn has_placeholder(text: &str) -> bool {
    text.contains("${")
}

/// A compiled expression with the source text it came from, for error messages, and the
/// names it uses (found once, at compile time).
pub struct CompiledExpr<'env> {
    expr: minijinja::Expression<'env, 'env>,
    source: String,
    names: BTreeSet<String>,
}

impl<'env> CompiledExpr<'env> {
    /// Compile `source`; on error the message points at `pos`.
    pub fn compile(env: &'env Environment<'static>, source: &str, pos: &Pos) -> Result<Self, ConfigError> {
        if let Some(problem) = python::power_ambiguity(source) {
            return Err(ConfigError::at(pos.clone(), format!("in `{source}`: {problem}"))
                .hint("add parentheses that say which is meant: `-(x ** 2)` or `(-x) ** 2`"));
        }
        let parse_error = |err: minijinja::Error| {
            ConfigError::at(
                pos.clone(),
                format!("cannot parse the expression `{source}`: {}", jinja_reason(&err)),
            )
            .hint("expressions use Python-like syntax: `a // b`, `x in [1, 2]`, `len(v)`, `a and not b`")
        };
        // The text as written decides what is a syntax error; the rewrite only adds calls.
        env.compile_expression(source).map_err(parse_error)?;
        let expr = env.compile_expression_owned(python::with_python_ordering(source)).map_err(parse_error)?;
        let names = expr
            .undeclared_variables(false)
            .into_iter()
            .filter(|name| env.globals().all(|(global, _)| global != name))
            .collect();
        Ok(CompiledExpr { expr, source: source.to_string(), names })
    }

    /// Evaluate in `scope`; an unknown name is an error listing the names that exist.
    pub fn eval(&self, scope: &Scope, pos: &Pos) -> Result<Jinja, ConfigError> {
        if let Some(name) = self.names.iter().find(|name| !scope.contains_key(*name)) {
            let known: Vec<&str> = scope.keys().map(String::as_str).collect();
            return Err(ConfigError::at(pos.clone(), format!("unknown name `{name}` in `{}`", self.source))
                .hint(suggestion(name, &known)));
        }
        let ctx = jinja_map(scope.iter().map(|(k, v)| (k.as_str(), v.clone())));
        self.expr.eval(ctx).map_err(|err| {
            ConfigError::at(pos.clone(), format!("cannot evaluate `{}`: {}", self.source, jinja_reason(&err)))
        })
    }
}

fn jinja_reason(err: &minijinja::Error) -> String {
    match err.detail() {
        Some(detail) => format!("{} ({detail})", err.kind()),
        None => err.kind().to_string(),
    }
}

/// Rewrite every `${e}` in a filter expression as `(e)`, so that the whole filter is one
/// expression over the matrix names. A placeholder inside a quoted string is refused: in
/// nn-experiments `'${m}' == 'vit'` pastes the value into the text before Python reads it,
/// here the quotes would make it the literal text `${m}`. Errors are (message, hint).
pub fn inline_placeholders(text: &str) -> Result<String, (String, String)> {
    let pieces = pieces(text).map_err(|msg| (msg, "close it with `}`".to_string()))?;
    let mut out = String::new();
    let mut quote = QuoteState::default();
    for piece in pieces {
        match piece {
            Piece::Text(t) => {
                t.chars().for_each(|c| quote.push(c));
                out.push_str(t);
            }
            Piece::Placeholder(e) if quote.inside() => {
                return Err((
                    format!(
                        "`${{{e}}}` stands inside quotes, so the filter sees the text `${{{e}}}`, not the value of `{e}`"
                    ),
                    format!("compare the value itself, without quotes around it: `${{{e}}} == 'text'`"),
                ));
            }
            Piece::Placeholder(e) => out.push_str(&format!("({e})")),
        }
    }
    Ok(out)
}

/// Substitute placeholders in every string of `node` (recursively). A string that is
/// exactly one placeholder takes the value's type; inside longer text the value renders as
/// text. `key` is the dotted path of `node`, for error messages.
pub fn substitute(
    node: &Node,
    key: &str,
    scope: &Scope,
    env: &Environment<'static>,
) -> Result<Node, ConfigError> {
    let value = match &node.value {
        Value::Str(text) if has_placeholder(text) => {
            substitute_str(text, node, scope, env).map_err(|e| e.key_if_unset(key))?
        }
        Value::Seq(items) => Value::Seq(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| substitute(item, &format!("{key}[{i}]"), scope, env))
                .collect::<Result<_, _>>()?,
        ),
        Value::Map(map) => Value::Map(
            map.iter()
                .map(|(k, v)| {
                    let path = if key.is_empty() { k.clone() } else { format!("{key}.{k}") };
                    Ok((k.clone(), substitute(v, &path, scope, env)?))
                })
                .collect::<Result<_, ConfigError>>()?,
        ),
        other => other.clone(),
    };
    Ok(Node { value, at: node.at.clone(), key_at: node.key_at.clone() })
}

fn substitute_str(
    text: &str,
    node: &Node,
    scope: &Scope,
    env: &Environment<'static>,
) -> Result<Value, ConfigError> {
    let pieces =
        pieces(text).map_err(|msg| ConfigError::at(node.at.clone(), msg).hint("close it with `}`"))?;
    let eval = |source: &str| CompiledExpr::compile(env, source, &node.at)?.eval(scope, &node.at);
    if let [Piece::Placeholder(source)] = pieces.as_slice() {
        return from_jinja(&eval(source)?, &node.at);
    }
    let mut out = String::new();
    for piece in pieces {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Placeholder(source) => out.push_str(&to_text(&from_jinja(&eval(source)?, &node.at)?)),
        }
    }
    Ok(Value::Str(out))
}

/// A node's value as an expression value.
pub fn to_jinja(value: &Value) -> Jinja {
    match value {
        Value::Null => Jinja::from(()),
        Value::Bool(b) => Jinja::from(*b),
        Value::Int(i) => Jinja::from(*i),
        Value::Float(x) => Jinja::from(*x),
        Value::Str(s) => Jinja::from(s.as_str()),
        Value::Seq(items) => Jinja::from(items.iter().map(|n| to_jinja(&n.value)).collect::<Vec<_>>()),
        Value::Map(map) => jinja_map(map.iter().map(|(k, n)| (k.as_str(), to_jinja(&n.value)))),
    }
}

/// An ordered expression mapping.
fn jinja_map<'a>(entries: impl Iterator<Item = (&'a str, Jinja)>) -> Jinja {
    Jinja::from(entries.map(|(k, v)| (Jinja::from(k), v)).collect::<IndexMap<Jinja, Jinja>>())
}

/// An expression value as a node value; children take the position `at`.
pub fn from_jinja(value: &Jinja, at: &Pos) -> Result<Value, ConfigError> {
    let node = |v: &Jinja| Ok(Node::new(from_jinja(v, at)?, at.clone()));
    Ok(match value.kind() {
        ValueKind::None | ValueKind::Undefined => Value::Null,
        ValueKind::Bool => Value::Bool(value.is_true()),
        ValueKind::Number if value.is_integer() => match value.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(f64::try_from(value.clone()).unwrap_or(f64::NAN)),
        },
        ValueKind::Number => Value::Float(f64::try_from(value.clone()).unwrap_or(f64::NAN)),
        ValueKind::String => Value::Str(value.as_str().unwrap_or_default().to_string()),
        ValueKind::Seq | ValueKind::Iterable => Value::Seq(
            value
                .try_iter()
                .map_err(|e| ConfigError::at(at.clone(), e.to_string()))?
                .map(|v| node(&v))
                .collect::<Result<_, ConfigError>>()?,
        ),
        ValueKind::Map => {
            let mut map = IndexMap::new();
            for key in value.try_iter().map_err(|e| ConfigError::at(at.clone(), e.to_string()))? {
                let item = value.get_item(&key).map_err(|e| ConfigError::at(at.clone(), e.to_string()))?;
                map.insert(key.to_string(), node(&item)?);
            }
            Value::Map(map)
        }
        other => {
            return Err(ConfigError::at(
                at.clone(),
                format!("an expression gave a {other} value, which cannot be used in a config"),
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::node::float_text;

    #[test]
    fn pieces_split_text_and_nested_placeholders() {
        assert_eq!(
            pieces("a_${x}_${ {'k': '}'}['k'] }").unwrap(),
            vec![
                Piece::Text("a_"),
                Piece::Placeholder("x"),
                Piece::Text("_"),
                Piece::Placeholder("{'k': '}'}['k']")
            ]
        );
        assert!(pieces("${x").is_err());
    }

    #[test]
    fn floats_render_like_python_repr() {
        let cases = [
            (0.0, "0.0"),
            (0.0003, "0.0003"),
            (2.5, "2.5"),
            (1e-5, "1e-05"),
            (1e30, "1e+30"),
            (-1.5e-7, "-1.5e-07"),
            (1e16, "1e+16"),
            (123456.0, "123456.0"),
        ];
        for (x, text) in cases {
            assert_eq!(float_text(x), text);
        }
    }

    #[test]
    fn filter_placeholders_become_parenthesised() {
        assert_eq!(inline_placeholders("${a} / ${b} == 2").unwrap(), "(a) / (b) == 2");
        assert!(inline_placeholders("'${m}' == 'vit'").is_err());
        assert!(inline_placeholders("'${m}'").is_err());
        assert_eq!(inline_placeholders("${m} == 'vit' and ${n} > 1").unwrap(), "(m) == 'vit' and (n) > 1");
    }

    type Rng = rand_chacha::ChaCha8Rng;

    /// A random number expression: names, literals, `+`, `*`, unary minus, `len([...])` and
    /// conditionals, `depth` levels deep.
    fn random_number(rng: &mut Rng, depth: u32) -> String {
        use rand::RngExt;
        let atoms = ["a", "b", "0", "1", "2.5", "-3"];
        if depth == 0 || rng.random_bool(0.3) {
            return atoms[rng.random_range(0..atoms.len())].to_string();
        }
        let (x, y) = (random_number(rng, depth - 1), random_number(rng, depth - 1));
        match rng.random_range(0..5) {
            0 => format!("({x}+{y})"),
            1 => format!("{x} * {y}"),
            2 => format!("-({x})"),
            3 => format!("len([{x}, {y}])"),
            _ => format!("({x} if {} else {y})", random_condition(rng, depth - 1)),
        }
    }

    /// A random condition: a comparison chain of numbers, `and`, `or`, `not`.
    fn random_condition(rng: &mut Rng, depth: u32) -> String {
        use rand::RngExt;
        let operators = ["<", "<=", ">", ">=", "==", "!=", " < ", " >= "];
        match if depth == 0 { 0 } else { rng.random_range(0..4) } {
            0 => {
                let mut chain = random_number(rng, depth.saturating_sub(1));
                for _ in 0..rng.random_range(1..=3) {
                    chain += operators[rng.random_range(0..operators.len())];
                    chain += &random_number(rng, depth.saturating_sub(1));
                }
                chain
            }
            1 => format!("{} and {}", random_condition(rng, depth - 1), random_condition(rng, depth - 1)),
            2 => format!("({} or {})", random_condition(rng, depth - 1), random_condition(rng, depth - 1)),
            _ => format!("not {}", random_condition(rng, depth - 1)),
        }
    }

    /// Over numbers, where Python and minijinja agree, the ordering rewrite changes no result.
    #[test]
    fn the_ordering_rewrite_keeps_every_result_over_numbers() {
        use rand::SeedableRng;
        let env = environment();
        let mut rng = Rng::seed_from_u64(18);
        let scope = jinja_map([("a", Jinja::from(2)), ("b", Jinja::from(-0.5))].into_iter());
        let mut rewritten_any = 0;
        for _ in 0..2000 {
            let source = random_condition(&mut rng, 3);
            let rewritten = python::with_python_ordering(&source);
            rewritten_any += usize::from(rewritten != source);
            let eval = |text: &str| env.compile_expression(text).unwrap().eval(scope.clone()).unwrap();
            assert_eq!(eval(&rewritten), eval(&source), "{source}\n{rewritten}");
        }
        assert!(rewritten_any > 1000, "{rewritten_any} of 2000 had an ordering comparison");
    }
}
