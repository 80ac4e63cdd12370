//! The `value_transform` option: attention's values `V` replaced by a mix of `V` and
//! `T(V)` (see [`ValueTransformSpec`]). softmaxᵀ(V) normalises every channel of `V` over
//! the tokens, the request "Attention(Q,K,V) = softmax(c·K·Qᵀ) · softmaxᵀ(V)".

use burn::tensor::Tensor;
use burn::tensor::activation::softmax;
use serde::{Deserialize, Serialize};

use super::options::{InvalidModel, invalid};

/// `value_transform:` — replaces attention's values `V` (`[tokens, channels]` per head) by
/// a mix with `T(V)`: `mix` gives `(1-alpha)·V + alpha·s·T(V)`, `add` gives
/// `V + alpha·s·T(V)`, where `s = sign · scale`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ValueTransformSpec {
    pub kind: ValueTransformKind,
    pub alpha: f64,
    /// +1 or -1.
    pub sign: f64,
    pub mode: MixMode,
    pub scale: ValueScale,
}

/// Off; also what an omitted key takes.
impl Default for ValueTransformSpec {
    fn default() -> Self {
        ValueTransformSpec {
            kind: ValueTransformKind::None,
            alpha: 1.0,
            sign: 1.0,
            mode: MixMode::Mix,
            scale: ValueScale::default(),
        }
    }
}

/// What `T(V)` is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueTransformKind {
    /// `T(V) = V`: the option is off.
    #[default]
    None,
    /// softmaxᵀ(V): a softmax over the token axis, for every channel separately.
    SoftmaxT,
    /// Min-max rescale of each sample's whole `V` to [-1, 1].
    SignedNorm,
}

/// How `T(V)` is combined with `V`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MixMode {
    #[default]
    Mix,
    Add,
}

/// The factor on `T(V)`: a number, or `tokens` (the token count, which makes a column
/// softmax average 1 instead of 1/N).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ValueScale {
    Factor(f64),
    Tokens,
}

impl Default for ValueScale {
    fn default() -> Self {
        ValueScale::Factor(1.0)
    }
}

impl Serialize for ValueScale {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            ValueScale::Factor(factor) => serializer.serialize_f64(*factor),
            ValueScale::Tokens => serializer.serialize_str("tokens"),
        }
    }
}

impl<'de> Deserialize<'de> for ValueScale {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ScaleVisitor;
        impl serde::de::Visitor<'_> for ScaleVisitor {
            type Value = ValueScale;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number or `tokens`")
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<ValueScale, E> {
                Ok(ValueScale::Factor(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<ValueScale, E> {
                Ok(ValueScale::Factor(v as f64))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<ValueScale, E> {
                Ok(ValueScale::Factor(v as f64))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ValueScale, E> {
                match v {
                    "tokens" => Ok(ValueScale::Tokens),
                    _ => Err(E::invalid_value(serde::de::Unexpected::Str(v), &self)),
                }
            }
        }
        deserializer.deserialize_any(ScaleVisitor)
    }
}

/// Guards the min-max rescale of a constant `V` against 0/0.
const MIN_RANGE: f64 = 1e-12;

impl ValueTransformSpec {
    /// Checks `sign` and `alpha`; `key` is where the block is (`value_transform`).
    pub fn validate(&self, key: &str) -> Result<(), InvalidModel> {
        if self.sign != 1.0 && self.sign != -1.0 {
            return invalid(
                &format!("{key}.sign"),
                format!("`sign` must be 1 or -1, got {}", self.sign),
                "write `sign: 1` or `sign: -1`",
            );
        }
        if !self.alpha.is_finite() {
            return invalid(
                &format!("{key}.alpha"),
                format!("`alpha` must be a finite number, got {}", self.alpha),
                "e.g. `alpha: 0.5`",
            );
        }
        Ok(())
    }

    /// `v` (batch first, tokens on `token_axis`) with the transform mixed in.
    pub fn apply<const D: usize>(&self, v: Tensor<D>, token_axis: usize) -> Tensor<D> {
        let transformed = match self.kind {
            ValueTransformKind::None => return v,
            ValueTransformKind::SoftmaxT => softmax(v.clone(), token_axis),
            ValueTransformKind::SignedNorm => signed_norm(v.clone()),
        };
        let scale = match self.scale {
            ValueScale::Factor(factor) => factor,
            ValueScale::Tokens => v.dims()[token_axis] as f64,
        };
        let transformed = transformed.mul_scalar(self.alpha * self.sign * scale);
        match self.mode {
            MixMode::Mix => v.mul_scalar(1.0 - self.alpha) + transformed,
            MixMode::Add => v + transformed,
        }
    }
}

/// Every sample's whole `V` (all tokens, channels and heads) rescaled from its
/// [min, max] to [-1, 1]; per sample, so a sample's output does not depend on its batch.
fn signed_norm<const D: usize>(v: Tensor<D>) -> Tensor<D> {
    let dims = v.dims();
    let flat: Tensor<2> = v.reshape([dims[0] as i64, -1]);
    let min = flat.clone().min_dim(1);
    let range = (flat.clone().max_dim(1) - min.clone()).clamp_min(MIN_RANGE);
    ((flat - min) / range).mul_scalar(2.0).sub_scalar(1.0).reshape(dims)
}
