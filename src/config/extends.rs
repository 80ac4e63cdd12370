//! `$extends: other.yml`: a file builds on another one. The child's keys win; nested
//! mappings merge key by key; a key set to null (`~`) in the child removes the parent's;
//! a cycle is an error.

use std::path::{Path, PathBuf};

use super::error::ConfigError;
use super::node::{Node, Value};

/// The key that names the parent file.
pub const EXTENDS_KEY: &str = "$extends";

/// Read `path` and everything it extends, merged into one document.
pub fn load(path: &Path) -> Result<Node, ConfigError> {
    load_chain(path, &mut Vec::new())
}

/// `chain` holds the files being read (canonical path for comparing, path as written for
/// messages), so that a cycle is found and shown in the user's terms.
fn load_chain(path: &Path, chain: &mut Vec<(PathBuf, PathBuf)>) -> Result<Node, ConfigError> {
    let canonical = path.canonicalize().map_err(|err| {
        ConfigError::file(path, format!("cannot read the experiment file: {err}")).hint("check the path")
    })?;
    let mut doc = Node::read(path)?;
    let Value::Map(map) = &mut doc.value else {
        return Err(ConfigError::at(
            doc.at.clone(),
            format!("an experiment file must be a mapping of keys, found {}", doc.type_name()),
        )
        .hint("start with e.g. `experiment_name: my_run`"));
    };
    let Some(parent_node) = map.shift_remove(EXTENDS_KEY) else {
        return Ok(doc);
    };
    let Some(parent_name) = parent_node.as_str() else {
        return Err(ConfigError::at(
            parent_node.at.clone(),
            format!("`$extends` must be a file path, found {}", parent_node.type_name()),
        )
        .key(EXTENDS_KEY)
        .hint("write e.g. `$extends: base.yml` (relative to this file)"));
    };
    chain.push((canonical, path.to_path_buf()));
    let parent_path = path.parent().unwrap_or(Path::new(".")).join(parent_name);
    let parent_canonical = parent_path.canonicalize().map_err(|err| {
        ConfigError::at(parent_node.at.clone(), format!("cannot read `{}`: {err}", parent_path.display()))
            .key(EXTENDS_KEY)
            .hint("the path is relative to the file that says `$extends`")
    })?;
    if chain.iter().any(|(canonical, _)| *canonical == parent_canonical) {
        let cycle = chain
            .iter()
            .map(|(_, shown)| shown)
            .chain([&parent_path])
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(" -> ");
        return Err(ConfigError::at(parent_node.at.clone(), format!("`$extends` makes a cycle: {cycle}"))
            .key(EXTENDS_KEY)
            .hint("remove one of the `$extends` lines"));
    }
    let parent = load_chain(&parent_path, chain).map_err(|err| err.extended_by(parent_node.at.clone()))?;
    chain.pop();
    Ok(merge(parent, doc))
}

/// `child` on top of `parent`: mappings merge key by key (a null child value removes the
/// key), anything else is replaced.
pub fn merge(parent: Node, child: Node) -> Node {
    match (parent.value, child.value) {
        (Value::Map(mut base), Value::Map(over)) => {
            for (key, value) in over {
                if value.value == Value::Null {
                    // `key: ~` in the child removes the parent's key.
                    base.shift_remove(&key);
                    continue;
                }
                // Replace in place: a parent key keeps its position (matrix order matters).
                match base.get_mut(&key) {
                    Some(slot) => {
                        let old = std::mem::replace(slot, Node::new(Value::Null, value.at.clone()));
                        *slot = merge(old, value);
                    }
                    None => {
                        base.insert(key, value);
                    }
                }
            }
            Node { value: Value::Map(base), at: child.at, key_at: child.key_at }
        }
        (_, value) => Node { value, at: child.at, key_at: child.key_at },
    }
}
