//! Checks of a typed run that types alone cannot express (positive sizes, matching shapes,
//! options that must divide), reported at the key that is wrong.

use super::error::ConfigError;
use super::node::{Node, Value};
use super::schema::RunConfig;

/// Check one resolved run; `resolved` gives the positions for messages.
pub fn run(config: &RunConfig, resolved: &Node) -> Result<(), ConfigError> {
    let fail = |key: &str, message: String, hint: &str| Err(error_at(resolved, key, message).hint(hint));
    if config.batch_size == 0 {
        return fail("batch_size", "batch_size must be at least 1".into(), "e.g. `batch_size: 64`");
    }
    if config.max_inputs == 0 {
        return fail(
            "max_inputs",
            "max_inputs must be at least 1".into(),
            "it counts training samples, e.g. `max_inputs: 2_000_000`",
        );
    }
    if !(config.learnrate.is_finite() && config.learnrate > 0.0) {
        return fail(
            "learnrate",
            format!("learnrate must be a positive number, found {}", config.learnrate),
            "e.g. `learnrate: 0.0003`",
        );
    }
    if config.validate_every == Some(0) || config.checkpoint_every == Some(0) {
        let key = if config.validate_every == Some(0) { "validate_every" } else { "checkpoint_every" };
        return fail(
            key,
            format!("{key} must be at least 1"),
            "it counts training inputs; leave it out for the default",
        );
    }
    if config.train_set.shape != config.validation_set.shape {
        return fail(
            "validation_set.shape",
            format!(
                "the validation shape {:?} differs from the training shape {:?}",
                config.validation_set.shape, config.train_set.shape
            ),
            "the model sees both: give them the same `shape`",
        );
    }
    if let Err(invalid) = crate::model::validate(&config.model, config.train_set.shape) {
        let key = format!("model.{}", invalid.key);
        return Err(error_at(resolved, &key, invalid.message).hint(invalid.hint));
    }
    Ok(())
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
