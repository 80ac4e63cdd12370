//! The attention of the transformer encoders: multi-head scaled dot-product
//! self-attention with a fused q|k|v input projection, shared by ViT (torch's
//! `nn.MultiheadAttention`) and CCT (Compact-Transformers' `Attention`), which differ only
//! in how they initialise it; or, with `attention: convnn`, ConvNN attention.

use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Linear};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::convnn::{ConvNnAttention, ConvNnOptions};
use super::options::InvalidModel;
use super::scaled_dot_product::scaled_dot_product;
use super::value_transform::ValueTransformSpec;

/// `attention:` of the transformer encoders (`vit`, `cct`): a bare name or
/// `{convnn: {options}}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum AttentionSpec {
    /// Scaled dot-product softmax attention, the encoder's own.
    #[default]
    Softmax,
    /// ConvNN attention (Kang & Farias 2025) in every layer.
    Convnn(ConvNnOptions),
}

impl AttentionSpec {
    /// ConvNN's options against the encoder's width, heads and token count.
    pub fn validate(&self, dim: usize, num_heads: usize, tokens: usize) -> Result<(), InvalidModel> {
        match self {
            AttentionSpec::Softmax => Ok(()),
            AttentionSpec::Convnn(options) => ConvNnAttention::validate(options, dim, num_heads, tokens)
                .map_err(|invalid| invalid.within("attention.convnn")),
        }
    }
}

/// The attention a transformer layer uses (`attention:`).
// One per layer, built once: the size difference of the variants costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Attention {
    Softmax(MultiheadAttention),
    ConvNn(ConvNnAttention),
}

impl Attention {
    /// `softmax` builds the encoder's own attention; ConvNN takes the encoder's width,
    /// heads, attention dropout and value transform.
    pub fn new(
        spec: &AttentionSpec,
        softmax: impl FnOnce() -> MultiheadAttention,
        (dim, num_heads): (usize, usize),
        attention_dropout: f64,
        value_transform: ValueTransformSpec,
        device: &Device,
    ) -> Self {
        match spec {
            AttentionSpec::Softmax => Attention::Softmax(softmax()),
            AttentionSpec::Convnn(options) => Attention::ConvNn(
                ConvNnAttention::new(options, dim, num_heads, device)
                    .with_dropout(attention_dropout)
                    .with_value_transform(value_transform),
            ),
        }
    }

    /// Self-attention over `[batch, tokens, dim]`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        match self {
            Attention::Softmax(attention) => attention.forward(x),
            Attention::ConvNn(attention) => attention.forward(x),
        }
    }

    /// Trainable parameters; `softmax` is the count of the encoder's own attention.
    pub fn count_params(spec: &AttentionSpec, dim: usize, num_heads: usize, softmax: usize) -> usize {
        match spec {
            AttentionSpec::Softmax => softmax,
            AttentionSpec::Convnn(options) => ConvNnAttention::count_params(options, dim, num_heads),
        }
    }
}

/// `softmax(q·kᵀ / sqrt(head_dim)) · T(v)` per head, then `out_proj`.
#[derive(Module, Debug)]
pub struct MultiheadAttention {
    /// `dim -> 3·dim`: q, k and v of every head, in that order.
    pub in_proj: Linear,
    pub out_proj: Linear,
    /// On the attention weights.
    pub dropout: Dropout,
    pub num_heads: usize,
    #[module(skip)]
    pub value_transform: ValueTransformSpec,
}

impl MultiheadAttention {
    pub fn new(
        in_proj: Linear,
        out_proj: Linear,
        num_heads: usize,
        attention_dropout: f64,
        value_transform: ValueTransformSpec,
    ) -> Self {
        let dropout = DropoutConfig::new(attention_dropout).init();
        Self { in_proj, out_proj, dropout, num_heads, value_transform }
    }

    /// Self-attention over `[batch, tokens, dim]`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let [b, s, d] = x.dims();
        let (h, dh) = (self.num_heads, d / self.num_heads);
        // [b, s, 3·d] is [b, s, 3·h, dh] (q heads, k heads, v heads): reshaping the whole
        // projection, then taking views, splits the heads without copying (a reshape of one
        // chunk, a strided view, would copy it on the flex backend).
        let qkv = self.in_proj.forward(x).reshape([b, s, 3 * h, dh]).swap_dims(1, 2);
        let mut qkv = qkv.chunk(3, 1).into_iter();
        let (q, k, v) = (qkv.next().unwrap(), qkv.next().unwrap(), qkv.next().unwrap());
        let v = self.value_transform.apply(v, 2);
        let out = scaled_dot_product(q, k, v, &self.dropout).swap_dims(1, 2).reshape([b, s, d]);
        self.out_proj.forward(out)
    }
}
