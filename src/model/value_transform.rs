//! The `value_transform` option: attention's values `V` replaced by a mix of `V` and
//! `T(V)` (see [`ValueTransformSpec`]). softmaxᵀ(V) normalises every channel of `V` over
//! the tokens, the request "Attention(Q,K,V) = softmax(c·K·Qᵀ) · softmaxᵀ(V)".

use burn::tensor::Tensor;
use burn::tensor::activation::softmax;

pub use crate::config::schema::{MixMode, ValueScale, ValueTransformKind, ValueTransformSpec};

/// Guards the min-max rescale of a constant `V` against 0/0.
const MIN_RANGE: f64 = 1e-12;

impl ValueTransformSpec {
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
