//! Checks of a typed run that types alone cannot express (positive sizes, matching shapes,
//! options that must divide), reported at the key that is wrong.

use super::error::ConfigError;
use super::node::{Node, Value};
use super::schema::{EncoderSpec, RunConfig};

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
    if config.model.classes < 2 {
        return fail("model.classes", "a classifier needs at least 2 classes".into(), "e.g. `classes: 10`");
    }
    if config.model.code_size == Some(0) {
        return fail(
            "model.code_size",
            "code_size must be at least 1".into(),
            "leave it out to use the encoder's features",
        );
    }
    let [_, height, width] = config.train_set.shape;
    if let EncoderSpec::Vit { image_size, patch_size, num_heads, hidden_dim, .. } = &config.model.encoder {
        if *num_heads == 0 || hidden_dim % num_heads != 0 {
            return fail(
                "model.num_heads",
                format!("hidden_dim {hidden_dim} is not divisible by num_heads {num_heads}"),
                "each head gets hidden_dim / num_heads channels: pick num_heads that divides hidden_dim (or filter such combinations out with `$filter`)",
            );
        }
        if *image_size != height || *image_size != width {
            return fail(
                "model.image_size",
                format!("image_size {image_size} does not match the data shape {:?}", config.train_set.shape),
                "set image_size to the height and width of `shape`",
            );
        }
        if *patch_size == 0 || image_size % patch_size != 0 {
            return fail(
                "model.patch_size",
                format!("image_size {image_size} is not divisible by patch_size {patch_size}"),
                "pick a patch size that divides the image size (e.g. 7 or 4 for 28)",
            );
        }
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
