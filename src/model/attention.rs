//! Multi-head scaled dot-product self-attention with a fused q|k|v input projection,
//! shared by ViT (torch's `nn.MultiheadAttention`) and CCT (Compact-Transformers'
//! `Attention`); the encoders differ only in how they initialise it.

use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Linear};
use burn::tensor::Tensor;
use burn::tensor::activation::softmax;

use crate::config::schema::ValueTransformSpec;

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
        let split_heads = |t: Tensor<3>| t.reshape([b, s, h, dh]).swap_dims(1, 2);
        let mut qkv = self.in_proj.forward(x).chunk(3, 2).into_iter().map(split_heads);
        let (q, k, v) = (qkv.next().unwrap(), qkv.next().unwrap(), qkv.next().unwrap());
        let v = self.value_transform.apply(v, 2);
        let scores = q.matmul(k.swap_dims(2, 3)).div_scalar((dh as f64).sqrt());
        let weights = self.dropout.forward(softmax(scores, 3));
        let out = weights.matmul(v).swap_dims(1, 2).reshape([b, s, d]);
        self.out_proj.forward(out)
    }
}
