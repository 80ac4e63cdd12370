//! What every encoder's options provide without building a model ([`EncoderOptions`]),
//! the model layer's error ([`InvalidModel`]) and the checks the encoders share.
//! burn-free: `config` and `plan` use it without a device.

/// A model block that cannot be built: which option (`num_heads`, `channels[1]`, ...), what
/// is wrong, and how to fix it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("model.{key}: {message} ({hint})")]
pub struct InvalidModel {
    pub key: String,
    pub message: String,
    pub hint: &'static str,
}

impl InvalidModel {
    /// The same problem with its key below `prefix` (`k` -> `attention.convnn.k`).
    pub fn within(mut self, prefix: &str) -> Self {
        self.key = format!("{prefix}.{}", self.key);
        self
    }
}

/// One encoder's options, checked and sized in closed form. Each encoder implements it
/// beside its model; `EncoderSpec::options` is the one list of them.
pub trait EncoderOptions {
    /// Checks the options against the data's `[C, H, W]`.
    fn validate(&self, input_shape: [usize; 3]) -> Result<(), InvalidModel>;

    /// Size of the pooled features (the embedding when there is no `code_size`); the
    /// options must have passed [`EncoderOptions::validate`].
    fn embedding_dim(&self, input_shape: [usize; 3]) -> usize;

    /// Trainable parameters of the encoder with its code layer, closed form (must equal
    /// the built module's); the options must have passed [`EncoderOptions::validate`].
    fn count_params(&self, input_shape: [usize; 3], code_size: Option<usize>) -> usize;
}

/// `Err` of an [`InvalidModel`].
pub(crate) fn invalid(key: &str, message: String, hint: &'static str) -> Result<(), InvalidModel> {
    Err(InvalidModel { key: key.to_string(), message, hint })
}

/// `value` must be at least 1.
pub(crate) fn positive(key: &str, value: usize) -> Result<(), InvalidModel> {
    match value {
        0 => invalid(key, format!("`{key}` must be at least 1"), "use a positive size"),
        _ => Ok(()),
    }
}

/// `p` must be a dropout probability in [0, 1).
pub(crate) fn probability(key: &str, p: f64) -> Result<(), InvalidModel> {
    match (0.0..1.0).contains(&p) {
        true => Ok(()),
        false => {
            invalid(key, format!("`{key}` must be in [0, 1), got {p}"), "a dropout probability, e.g. 0.1")
        }
    }
}
