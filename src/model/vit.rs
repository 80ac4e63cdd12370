//! torchvision's `VisionTransformer` (`torchvision/models/vision_transformer.py`), same
//! module names, forward pass and initialisation. Two differences: the patch projection
//! takes the data's channel count (torchvision hard-codes 3), and `validate` requires
//! `patch_size` to divide `image_size` (torchvision silently drops the remainder).
//! The attention takes the `attention` (softmax or ConvNN) and `value_transform` options.

use burn::module::{Initializer, Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Dropout, DropoutConfig, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::activation::gelu;
use burn::tensor::{Device, Tensor};

use super::attention::{Attention, MultiheadAttention};
use super::init;

/// torchvision's LayerNorm epsilon in the ViT (`partial(nn.LayerNorm, eps=1e-6)`).
const LN_EPS: f64 = 1e-6;

pub use crate::config::schema::VitOptions;

impl VitOptions {
    /// Tokens: the patches and the class token.
    pub fn seq_length(&self) -> usize {
        (self.image_size / self.patch_size).pow(2) + 1
    }
}

/// `VisionTransformer(..., num_classes=code_size)`; without a code size there is no
/// `heads` and the output is the final class token (`hidden_dim` features).
#[derive(Module, Debug)]
pub struct VisionTransformer {
    pub conv_proj: Conv2d,
    pub class_token: Param<Tensor<3>>,
    pub encoder: Encoder,
    pub heads: Option<Heads>,
}

/// The transformer stack: position embedding, dropout, blocks, final LayerNorm.
#[derive(Module, Debug)]
pub struct Encoder {
    pub pos_embedding: Param<Tensor<3>>,
    pub dropout: Dropout,
    pub layers: Vec<EncoderBlock>,
    pub ln: LayerNorm,
}

/// Pre-LayerNorm transformer block.
#[derive(Module, Debug)]
pub struct EncoderBlock {
    pub ln_1: LayerNorm,
    pub self_attention: Attention,
    pub dropout: Dropout,
    pub ln_2: LayerNorm,
    pub mlp: MlpBlock,
}

/// torchvision's `MLPBlock`: Linear, GELU, Dropout, Linear, Dropout (torch's `mlp.0`/`mlp.3`
/// are `mlp.linear_1`/`mlp.linear_2`, their names in older torchvision).
#[derive(Module, Debug)]
pub struct MlpBlock {
    pub linear_1: Linear,
    pub linear_2: Linear,
    pub dropout: Dropout,
}

/// `heads = Sequential(head=Linear(hidden_dim, num_classes))`.
#[derive(Module, Debug)]
pub struct Heads {
    pub head: Linear,
}

impl VisionTransformer {
    /// Builds the ViT for `channels`-channel images with torchvision's initialisation
    /// (the patch projection's weight replaced by a truncated normal, bias zero).
    pub fn new(options: &VitOptions, channels: usize, code_size: Option<usize>, device: &Device) -> Self {
        let &VitOptions { patch_size: p, hidden_dim: d, .. } = options;
        let fan_in = channels * p * p;
        let mut conv_proj = Conv2dConfig::new([channels, d], [p, p])
            .with_stride([p, p])
            .with_initializer(Initializer::Zeros)
            .init(device);
        conv_proj.weight = init::trunc_normal([d, channels, p, p], (1.0 / fan_in as f64).sqrt(), device);
        let heads = code_size.map(|code_size| Heads {
            head: LinearConfig::new(d, code_size).with_initializer(Initializer::Zeros).init(device),
        });
        Self {
            conv_proj,
            class_token: Initializer::Zeros.init([1, 1, d], device),
            encoder: Encoder::new(options, device),
            heads,
        }
    }

    /// `[batch, C, image_size, image_size]` -> `[batch, code_size or hidden_dim]`.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let x = self.conv_proj.forward(images); // [n, d, h/p, w/p]
        let [n, d, ph, pw] = x.dims();
        let x = x.reshape([n, d, ph * pw]).swap_dims(1, 2);
        let class_token = self.class_token.val().expand([n, 1, d]);
        let x = self.encoder.forward(Tensor::cat(vec![class_token, x], 1));
        let x = x.narrow(1, 0, 1).squeeze_dim::<2>(1);
        match &self.heads {
            Some(heads) => heads.head.forward(x),
            None => x,
        }
    }

    /// Trainable parameters, closed form (must equal `num_params` of the built module).
    pub fn count_params(options: &VitOptions, channels: usize, code_size: Option<usize>) -> usize {
        let &VitOptions { patch_size: p, num_layers, hidden_dim: d, mlp_dim: m, .. } = options;
        let linear = |i: usize, o: usize| i * o + o;
        let layer_norm = 2 * d;
        let attention = Attention::count_params(
            &options.attention,
            d,
            options.num_heads,
            linear(d, 3 * d) + linear(d, d),
        );
        let block = 2 * layer_norm + attention + linear(d, m) + linear(m, d);
        let conv_proj = channels * p * p * d + d;
        let class_token = d;
        let pos_embedding = options.seq_length() * d;
        let head = code_size.map_or(0, |c| linear(d, c));
        conv_proj + class_token + pos_embedding + num_layers * block + layer_norm + head
    }
}

impl Encoder {
    fn new(options: &VitOptions, device: &Device) -> Self {
        let d = options.hidden_dim;
        let pos_embedding =
            Initializer::Normal { mean: 0.0, std: 0.02 }.init([1, options.seq_length(), d], device);
        Self {
            pos_embedding,
            dropout: DropoutConfig::new(options.dropout).init(),
            layers: (0..options.num_layers).map(|_| EncoderBlock::new(options, device)).collect(),
            ln: LayerNormConfig::new(d).with_epsilon(LN_EPS).init(device),
        }
    }

    fn forward(&self, input: Tensor<3>) -> Tensor<3> {
        let x = input + self.pos_embedding.val();
        let x = self.layers.iter().fold(self.dropout.forward(x), |x, layer| layer.forward(x));
        self.ln.forward(x)
    }
}

impl EncoderBlock {
    fn new(options: &VitOptions, device: &Device) -> Self {
        let d = options.hidden_dim;
        Self {
            ln_1: LayerNormConfig::new(d).with_epsilon(LN_EPS).init(device),
            self_attention: Attention::new(
                &options.attention,
                || torch_multihead_attention(options, device),
                (d, options.num_heads),
                options.attention_dropout,
                options.value_transform,
                device,
            ),
            dropout: DropoutConfig::new(options.dropout).init(),
            ln_2: LayerNormConfig::new(d).with_epsilon(LN_EPS).init(device),
            mlp: MlpBlock::new(options, device),
        }
    }

    fn forward(&self, input: Tensor<3>) -> Tensor<3> {
        let x = self.self_attention.forward(self.ln_1.forward(input.clone()));
        let x = self.dropout.forward(x) + input;
        let y = self.mlp.forward(self.ln_2.forward(x.clone()));
        x + y
    }
}

/// torch's `nn.MultiheadAttention._reset_parameters`: xavier_uniform in_proj weight, zero
/// biases, default Linear init for the out_proj weight.
fn torch_multihead_attention(options: &VitOptions, device: &Device) -> MultiheadAttention {
    let d = options.hidden_dim;
    let in_proj =
        init::linear(d, 3 * d, Initializer::XavierUniform { gain: 1.0 }, Initializer::Zeros, device);
    let mut out_proj = LinearConfig::new(d, d).init(device);
    out_proj.bias = Some(Initializer::Zeros.init([d], device));
    MultiheadAttention::new(
        in_proj,
        out_proj,
        options.num_heads,
        options.attention_dropout,
        options.value_transform,
    )
}

impl MlpBlock {
    /// torchvision: xavier_uniform weights, normal(std=1e-6) biases.
    fn new(options: &VitOptions, device: &Device) -> Self {
        let (d, m) = (options.hidden_dim, options.mlp_dim);
        let linear = |i, o| {
            init::linear(
                i,
                o,
                Initializer::XavierUniform { gain: 1.0 },
                Initializer::Normal { mean: 0.0, std: 1e-6 },
                device,
            )
        };
        Self {
            linear_1: linear(d, m),
            linear_2: linear(m, d),
            dropout: DropoutConfig::new(options.dropout).init(),
        }
    }

    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let x = self.dropout.forward(gelu(self.linear_1.forward(x)));
        self.dropout.forward(self.linear_2.forward(x))
    }
}
