//! Scaled dot-product attention over the last two axes, the core every softmax attention
//! here shares (ViT's and CCT's [`super::attention::MultiheadAttention`], ConvNN's
//! attention branch).

use burn::nn::Dropout;
use burn::tensor::Tensor;
use burn::tensor::activation::softmax;

/// `dropout(softmax(q·kᵀ / sqrt(head_dim))) · v` over the last two axes (tokens, channels).
pub fn scaled_dot_product<const D: usize>(
    q: Tensor<D>,
    k: Tensor<D>,
    v: Tensor<D>,
    dropout: &Dropout,
) -> Tensor<D> {
    let head_dim = q.dims()[D - 1];
    let scores = q.matmul(k.swap_dims(D - 2, D - 1)).div_scalar((head_dim as f64).sqrt());
    dropout.forward(softmax(scores, D - 1)).matmul(v)
}
