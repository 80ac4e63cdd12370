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

use serde::{Deserialize, Serialize};

use super::attention::{Attention, AttentionSpec, MultiheadAttention};
use super::init;
use super::options::{EncoderOptions, InvalidModel, invalid, positive, probability};
use super::torch_keys::replace_all;
use super::value_transform::ValueTransformSpec;

/// torchvision's LayerNorm epsilon in the ViT (`partial(nn.LayerNorm, eps=1e-6)`).
const LN_EPS: f64 = 1e-6;

/// `encoder: vit`: torchvision `VisionTransformer`'s arguments.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VitOptions {
    pub image_size: usize,
    pub patch_size: usize,
    pub num_layers: usize,
    pub num_heads: usize,
    pub hidden_dim: usize,
    pub mlp_dim: usize,
    #[serde(default)]
    pub dropout: f64,
    #[serde(default)]
    pub attention_dropout: f64,
    /// Softmax attention (default) or ConvNN attention.
    #[serde(default)]
    pub attention: AttentionSpec,
    /// Mixes attention's values with a transform of them (default: none).
    #[serde(default)]
    pub value_transform: ValueTransformSpec,
}

impl VitOptions {
    /// Tokens: the patches and the class token.
    pub fn seq_length(&self) -> usize {
        (self.image_size / self.patch_size).pow(2) + 1
    }
}

impl EncoderOptions for VitOptions {
    fn validate(&self, [c, h, w]: [usize; 3]) -> Result<(), InvalidModel> {
        for (key, value) in [
            ("image_size", self.image_size),
            ("patch_size", self.patch_size),
            ("num_layers", self.num_layers),
            ("num_heads", self.num_heads),
            ("hidden_dim", self.hidden_dim),
            ("mlp_dim", self.mlp_dim),
        ] {
            positive(key, value)?;
        }
        probability("dropout", self.dropout)?;
        probability("attention_dropout", self.attention_dropout)?;
        self.value_transform.validate("value_transform")?;
        if !self.hidden_dim.is_multiple_of(self.num_heads) {
            return invalid(
                "num_heads",
                format!("hidden_dim {} is not divisible by num_heads {}", self.hidden_dim, self.num_heads),
                "each head gets hidden_dim / num_heads channels: pick num_heads that divides hidden_dim (or filter such combinations out with `$filter`)",
            );
        }
        if h != self.image_size || w != self.image_size {
            return invalid(
                "image_size",
                format!("image_size {} does not match the data shape [{c}, {h}, {w}]", self.image_size),
                "set image_size to the height and width of `shape`",
            );
        }
        if !self.image_size.is_multiple_of(self.patch_size) {
            return invalid(
                "patch_size",
                format!("image_size {} is not divisible by patch_size {}", self.image_size, self.patch_size),
                "pick a patch size that divides the image size (e.g. 7 or 4 for 28)",
            );
        }
        self.attention.validate(self.hidden_dim, self.num_heads, self.seq_length())
    }

    fn embedding_dim(&self, _input_shape: [usize; 3]) -> usize {
        self.hidden_dim
    }

    fn count_params(&self, [channels, ..]: [usize; 3], code_size: Option<usize>) -> usize {
        let &VitOptions { patch_size: p, num_layers, hidden_dim: d, mlp_dim: m, .. } = self;
        let linear = |i: usize, o: usize| i * o + o;
        let layer_norm = 2 * d;
        let attention =
            Attention::count_params(&self.attention, d, self.num_heads, linear(d, 3 * d) + linear(d, d));
        let block = 2 * layer_norm + attention + linear(d, m) + linear(m, d);
        let conv_proj = channels * p * p * d + d;
        let class_token = d;
        let pos_embedding = self.seq_length() * d;
        let head = code_size.map_or(0, |c| linear(d, c));
        conv_proj + class_token + pos_embedding + num_layers * block + layer_norm + head
    }
}

/// torchvision's state-dict key -> our module path: blocks are `encoder.layers.N`
/// (torchvision: `encoder_layer_N`), the fused projection is `in_proj.weight`
/// (`in_proj_weight`), and the MLP's Linears are `linear_1`/`linear_2` (`mlp.0`/`mlp.3`).
pub fn torchvision_key(key: &str) -> String {
    replace_all(
        key,
        &[
            (".encoder_layer_", "."),
            (".in_proj_", ".in_proj."),
            (".mlp.0.", ".mlp.linear_1."),
            (".mlp.3.", ".mlp.linear_2."),
        ],
    )
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
