//! Compact Convolutional Transformer: Hassani et al. 2021, "Escaping the Big Data Paradigm
//! with Compact Transformers", SHI-Labs/Compact-Transformers as of August 2021:
//! `src/cct.py` (`CCT`, `_cct` and the presets), `src/utils/tokenizer.py` (`Tokenizer`),
//! `src/utils/transformers.py` (`TransformerClassifier`, `TransformerEncoderLayer`,
//! `Attention`, `DropPath`). Module names follow those files.
//!
//! `fc` (the reference's classifier) produces the code when `code_size` is set; without it
//! the SeqPool output (`embedding_dim` features) is the embedding. Beyond the reference:
//! `attention` (softmax or ConvNN), `value_transform` on every attention and
//! `seq_pool_value_transform` on SeqPool.

use burn::module::{Initializer, Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Dropout, DropoutConfig, LayerNorm, LayerNormConfig, Linear, PaddingConfig2d};
use burn::tensor::activation::{gelu, relu, softmax};
use burn::tensor::{Device, Tensor, TensorData};

use serde::{Deserialize, Serialize};

use super::attention::{Attention, AttentionSpec, MultiheadAttention};
use super::init;
use super::options::{EncoderOptions, InvalidModel, invalid, positive, probability};
use super::torch_keys::replace_all;
use super::value_transform::ValueTransformSpec;

/// Std of the truncated-normal Linear weights (`TransformerClassifier.init_weight`).
const LINEAR_STD: f64 = 0.02;
/// Std of the learnable positional embedding.
const POSITIONAL_STD: f64 = 0.2;
/// The tokenizer's max-pool: `MaxPool2d(kernel_size=3, stride=2, padding=1)`.
const POOL: (usize, usize, usize) = (3, 2, 1);

/// `encoder: cct`: the arguments of SHI-Labs/Compact-Transformers' `CCT` (August 2021).
/// A `preset` (`cct_7_3x1`, ...) fills in the architecture; options given beside it win.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CctOptions {
    pub preset: Option<CctPreset>,
    pub num_layers: Option<usize>,
    pub num_heads: Option<usize>,
    pub mlp_ratio: Option<f64>,
    pub embedding_dim: Option<usize>,
    /// Tokenizer convolution kernel size (3 in every preset).
    pub kernel_size: Option<usize>,
    /// Tokenizer stages (conv, ReLU, max-pool).
    pub n_conv_layers: Option<usize>,
    /// Tokenizer channels between the stages.
    pub in_planes: usize,
    pub positional_embedding: PositionalEmbedding,
    pub dropout: f64,
    pub attention_dropout: f64,
    /// Drop-path rate of the last layer; layer `i` uses `i / (num_layers - 1)` of it.
    pub stochastic_depth: f64,
    /// Softmax attention (default) or ConvNN attention.
    pub attention: AttentionSpec,
    /// Applied to the values of every attention layer.
    pub value_transform: ValueTransformSpec,
    /// Applied to SeqPool's pooled values (the right-hand operand), not to its scorer.
    pub seq_pool_value_transform: ValueTransformSpec,
}

/// The reference's defaults, also what an omitted key takes (no architecture: give a
/// `preset` or all of it).
impl Default for CctOptions {
    fn default() -> Self {
        CctOptions {
            preset: None,
            num_layers: None,
            num_heads: None,
            mlp_ratio: None,
            embedding_dim: None,
            kernel_size: None,
            n_conv_layers: None,
            in_planes: 64,
            positional_embedding: PositionalEmbedding::default(),
            dropout: 0.0,
            attention_dropout: 0.1,
            stochastic_depth: 0.1,
            attention: AttentionSpec::default(),
            value_transform: ValueTransformSpec::default(),
            seq_pool_value_transform: ValueTransformSpec::default(),
        }
    }
}

/// The named CCT variants `cct_<layers>_<kernel>x<conv layers>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CctPreset {
    #[serde(rename = "cct_2_3x2")]
    Cct2_3x2,
    #[serde(rename = "cct_4_3x2")]
    Cct4_3x2,
    #[serde(rename = "cct_6_3x1")]
    Cct6_3x1,
    #[serde(rename = "cct_6_3x2")]
    Cct6_3x2,
    #[serde(rename = "cct_7_3x1")]
    Cct7_3x1,
    #[serde(rename = "cct_7_3x2")]
    Cct7_3x2,
    #[serde(rename = "cct_7_7x2")]
    Cct7_7x2,
    #[serde(rename = "cct_14_7x2")]
    Cct14_7x2,
}

/// CCT's `positional_embedding`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PositionalEmbedding {
    /// Trainable, truncated normal with std 0.2.
    #[default]
    Learnable,
    /// Fixed sinusoidal (not trained).
    Sine,
    None,
}

/// The architecture after the preset and the options beside it are combined.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CctArchitecture {
    pub num_layers: usize,
    pub num_heads: usize,
    pub mlp_ratio: f64,
    pub embedding_dim: usize,
    pub kernel_size: usize,
    pub n_conv_layers: usize,
}

impl CctPreset {
    /// `_cct`'s families (`cct_2`: 2 layers, 2 heads, mlp ratio 1, 128 wide; `cct_4`: 4, 2,
    /// 1, 128; `cct_6`: 6, 4, 2, 256; `cct_7`: 7, 4, 2, 256; `cct_14`: 14, 6, 3, 384), then
    /// `_<kernel>x<conv layers>`.
    pub fn architecture(self) -> CctArchitecture {
        let (num_layers, kernel_size, n_conv_layers) = match self {
            CctPreset::Cct2_3x2 => (2, 3, 2),
            CctPreset::Cct4_3x2 => (4, 3, 2),
            CctPreset::Cct6_3x1 => (6, 3, 1),
            CctPreset::Cct6_3x2 => (6, 3, 2),
            CctPreset::Cct7_3x1 => (7, 3, 1),
            CctPreset::Cct7_3x2 => (7, 3, 2),
            CctPreset::Cct7_7x2 => (7, 7, 2),
            CctPreset::Cct14_7x2 => (14, 7, 2),
        };
        let (num_heads, mlp_ratio, embedding_dim) = match num_layers {
            2 | 4 => (2, 1.0, 128),
            6 | 7 => (4, 2.0, 256),
            _ => (6, 3.0, 384),
        };
        CctArchitecture { num_layers, num_heads, mlp_ratio, embedding_dim, kernel_size, n_conv_layers }
    }
}

impl CctOptions {
    /// The preset overridden by every option given; `Err` names the first missing option.
    pub fn architecture(&self) -> Result<CctArchitecture, InvalidModel> {
        let preset = self.preset.map(CctPreset::architecture);
        let missing = |key: &str| InvalidModel {
            key: key.to_string(),
            message: format!("cct needs `{key}` (or a `preset` that sets it)"),
            hint: "name a preset, e.g. `preset: cct_7_3x1`, or give num_layers, num_heads, mlp_ratio, embedding_dim, kernel_size and n_conv_layers",
        };
        let pick = |given: Option<usize>, from_preset: fn(&CctArchitecture) -> usize, key| {
            given.or(preset.as_ref().map(from_preset)).ok_or_else(|| missing(key))
        };
        Ok(CctArchitecture {
            num_layers: pick(self.num_layers, |a| a.num_layers, "num_layers")?,
            num_heads: pick(self.num_heads, |a| a.num_heads, "num_heads")?,
            mlp_ratio: self.mlp_ratio.or(preset.map(|a| a.mlp_ratio)).ok_or_else(|| missing("mlp_ratio"))?,
            embedding_dim: pick(self.embedding_dim, |a| a.embedding_dim, "embedding_dim")?,
            kernel_size: pick(self.kernel_size, |a| a.kernel_size, "kernel_size")?,
            n_conv_layers: pick(self.n_conv_layers, |a| a.n_conv_layers, "n_conv_layers")?,
        })
    }
}

impl EncoderOptions for CctOptions {
    fn validate(&self, input_shape: [usize; 3]) -> Result<(), InvalidModel> {
        let a = self.architecture()?;
        for (key, value) in [
            ("num_layers", a.num_layers),
            ("num_heads", a.num_heads),
            ("embedding_dim", a.embedding_dim),
            ("kernel_size", a.kernel_size),
            ("n_conv_layers", a.n_conv_layers),
            ("in_planes", self.in_planes),
        ] {
            positive(key, value)?;
        }
        if a.dim_feedforward() == 0 {
            return invalid(
                "mlp_ratio",
                format!("mlp_ratio {} gives an MLP of width 0", a.mlp_ratio),
                "the MLP is int(embedding_dim * mlp_ratio) wide: use a ratio such as 1 or 2",
            );
        }
        probability("dropout", self.dropout)?;
        probability("attention_dropout", self.attention_dropout)?;
        probability("stochastic_depth", self.stochastic_depth)?;
        self.value_transform.validate("value_transform")?;
        self.seq_pool_value_transform.validate("seq_pool_value_transform")?;
        if a.embedding_dim % a.num_heads != 0 {
            return invalid(
                "num_heads",
                format!("embedding_dim {} is not divisible by num_heads {}", a.embedding_dim, a.num_heads),
                "pick num_heads that divides embedding_dim",
            );
        }
        self.attention.validate(a.embedding_dim, a.num_heads, Cct::sequence_length(&a, input_shape))
    }

    fn embedding_dim(&self, _input_shape: [usize; 3]) -> usize {
        self.architecture().map_or(0, |a| a.embedding_dim)
    }

    /// The sine embedding is not trained.
    fn count_params(&self, input_shape: [usize; 3], code_size: Option<usize>) -> usize {
        let a = self.architecture().expect("cct options were validated");
        let (d, k) = (a.embedding_dim, a.kernel_size);
        let linear = |i: usize, o: usize| i * o + o;
        let tokenizer: usize =
            a.filters(input_shape[0], self.in_planes).windows(2).map(|f| f[0] * f[1] * k * k).sum();
        let positional = match self.positional_embedding {
            PositionalEmbedding::Learnable => Cct::sequence_length(&a, input_shape) * d,
            PositionalEmbedding::Sine | PositionalEmbedding::None => 0,
        };
        let layer_norm = 2 * d;
        let attention = Attention::count_params(&self.attention, d, a.num_heads, 3 * d * d + linear(d, d));
        let block =
            2 * layer_norm + attention + linear(d, a.dim_feedforward()) + linear(a.dim_feedforward(), d);
        let fc = code_size.map_or(0, |c| linear(d, c));
        tokenizer + positional + a.num_layers * block + layer_norm + linear(d, 1) + fc
    }
}

impl CctArchitecture {
    /// `_cct`'s defaults: stride `max(1, k // 2 - 1)`, padding `max(1, k // 2)`.
    fn stride_padding(&self) -> (usize, usize) {
        let k = self.kernel_size;
        ((k / 2).saturating_sub(1).max(1), (k / 2).max(1))
    }

    /// `int(embedding_dim * mlp_ratio)`.
    pub fn dim_feedforward(&self) -> usize {
        (self.embedding_dim as f64 * self.mlp_ratio) as usize
    }

    /// Side length of the token grid for `side`-pixel images. With the derived padding
    /// (`2·padding ≥ kernel - 1`) and the pool's padding 1, no stage ever shrinks a side to 0.
    pub fn token_grid(&self, side: usize) -> usize {
        let (stride, padding) = self.stride_padding();
        let out = |size: usize, k: usize, s: usize, p: usize| (size + 2 * p - k) / s + 1;
        (0..self.n_conv_layers)
            .fold(side, |size, _| out(out(size, self.kernel_size, stride, padding), POOL.0, POOL.1, POOL.2))
    }

    /// Tokenizer channels: data channels, `in_planes` between stages, `embedding_dim`.
    fn filters(&self, channels: usize, in_planes: usize) -> Vec<usize> {
        let mut filters = vec![channels];
        filters.extend(std::iter::repeat_n(in_planes, self.n_conv_layers - 1));
        filters.push(self.embedding_dim);
        filters
    }
}

/// Compact-Transformers' state-dict key -> our module path: a tokenizer stage
/// `conv_layers.N` is `Sequential(Conv2d, ReLU, MaxPool2d)`, whose conv `conv_layers.N.0`
/// is our `conv_layers.N`; timm's `qkv`/`proj` are `in_proj`/`out_proj`.
pub fn compact_transformers_key(key: &str) -> String {
    let mut segments: Vec<&str> = key.split('.').collect();
    if let Some(at) = segments.iter().position(|&s| s == "conv_layers")
        && segments.get(at + 2) == Some(&"0")
    {
        segments.remove(at + 2);
    }
    replace_all(&segments.join("."), &[(".qkv.", ".in_proj."), (".proj.", ".out_proj.")])
}

/// The model built from [`CctOptions`].
#[derive(Module, Debug)]
pub struct Cct {
    pub tokenizer: Tokenizer,
    pub classifier: TransformerClassifier,
}

/// Conv (no bias) → ReLU → max-pool stages, then the spatial positions as tokens.
#[derive(Module, Debug)]
pub struct Tokenizer {
    pub conv_layers: Vec<Conv2d>,
    pub pool: MaxPool2d,
}

/// Positional embedding, encoder layers, LayerNorm, SeqPool and `fc`.
#[derive(Module, Debug)]
pub struct TransformerClassifier {
    /// Only for `positional_embedding: learnable`.
    pub positional_emb: Option<Param<Tensor<3>>>,
    #[module(skip)]
    pub positional_embedding: PositionalEmbedding,
    pub dropout: Dropout,
    pub blocks: Vec<TransformerEncoderLayer>,
    pub norm: LayerNorm,
    /// SeqPool's scorer, `Linear(embedding_dim, 1)`.
    pub attention_pool: Linear,
    #[module(skip)]
    pub seq_pool_value_transform: ValueTransformSpec,
    pub fc: Option<Linear>,
}

/// Post-attention-norm block (not textbook pre-norm):
/// `x = norm1(x + drop_path(attn(pre_norm(x))))`, then `x + drop_path(mlp(x))`.
#[derive(Module, Debug)]
pub struct TransformerEncoderLayer {
    pub pre_norm: LayerNorm,
    pub self_attn: Attention,
    /// `Attention.proj_drop`.
    pub proj_drop: Dropout,
    pub linear1: Linear,
    pub dropout1: Dropout,
    pub norm1: LayerNorm,
    pub linear2: Linear,
    pub dropout2: Dropout,
    pub drop_path: DropPath,
}

/// Stochastic depth: the whole residual branch of a sample is dropped with probability
/// `p` and the kept ones are scaled by `1 / (1 - p)`. That is dropout applied to one
/// number per sample, so it is burn's [`Dropout`] on a `[batch, 1, 1]` tensor of ones
/// (which also gives it the same train/eval switch).
#[derive(Module, Debug)]
pub struct DropPath {
    pub mask: Dropout,
}

impl Cct {
    /// Builds the CCT for `input_shape` (`[C, H, W]`) with the reference's initialisation;
    /// `architecture` is `options.architecture()`.
    pub fn new(
        options: &CctOptions,
        architecture: &CctArchitecture,
        input_shape: [usize; 3],
        code_size: Option<usize>,
        device: &Device,
    ) -> Self {
        Self {
            tokenizer: Tokenizer::new(options, architecture, input_shape[0], device),
            classifier: TransformerClassifier::new(options, architecture, input_shape, code_size, device),
        }
    }

    /// `[batch, C, H, W]` -> `[batch, code_size or embedding_dim]`.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.classifier.forward(self.tokenizer.forward(images))
    }

    /// Tokens the tokenizer makes of `[C, H, W]` images.
    pub fn sequence_length(architecture: &CctArchitecture, [_, h, w]: [usize; 3]) -> usize {
        architecture.token_grid(h) * architecture.token_grid(w)
    }
}

impl Tokenizer {
    /// Convolutions initialised with `kaiming_normal_` (fan in, gain √2).
    fn new(options: &CctOptions, architecture: &CctArchitecture, channels: usize, device: &Device) -> Self {
        let (stride, padding) = architecture.stride_padding();
        let k = architecture.kernel_size;
        let conv_layers = architecture
            .filters(channels, options.in_planes)
            .windows(2)
            .map(|f| {
                Conv2dConfig::new([f[0], f[1]], [k, k])
                    .with_stride([stride, stride])
                    .with_padding(PaddingConfig2d::Explicit(padding, padding, padding, padding))
                    .with_bias(false)
                    .with_initializer(Initializer::KaimingNormal { gain: 2f64.sqrt(), fan_out_only: false })
                    .init(device)
            })
            .collect();
        let (kernel, stride, padding) = POOL;
        let pool = MaxPool2dConfig::new([kernel, kernel])
            .with_strides([stride, stride])
            .with_padding(PaddingConfig2d::Explicit(padding, padding, padding, padding))
            .init();
        Self { conv_layers, pool }
    }

    /// `[batch, C, H, W]` -> `[batch, tokens, embedding_dim]`.
    fn forward(&self, images: Tensor<4>) -> Tensor<3> {
        let x = self.conv_layers.iter().fold(images, |x, conv| self.pool.forward(relu(conv.forward(x))));
        let [n, d, h, w] = x.dims();
        x.reshape([n, d, h * w]).swap_dims(1, 2)
    }
}

impl TransformerClassifier {
    fn new(
        options: &CctOptions,
        architecture: &CctArchitecture,
        input_shape: [usize; 3],
        code_size: Option<usize>,
        device: &Device,
    ) -> Self {
        let d = architecture.embedding_dim;
        let tokens = Cct::sequence_length(architecture, input_shape);
        let positional_emb = (options.positional_embedding == PositionalEmbedding::Learnable)
            .then(|| init::trunc_normal([1, tokens, d], POSITIONAL_STD, device));
        let layers = architecture.num_layers;
        // torch.linspace(0, stochastic_depth, num_layers)
        let drop_path_rate = |i: usize| {
            if layers > 1 { options.stochastic_depth * i as f64 / (layers - 1) as f64 } else { 0.0 }
        };
        Self {
            positional_emb,
            positional_embedding: options.positional_embedding,
            dropout: DropoutConfig::new(options.dropout).init(),
            blocks: (0..layers)
                .map(|i| TransformerEncoderLayer::new(options, architecture, drop_path_rate(i), device))
                .collect(),
            norm: LayerNormConfig::new(d).init(device),
            attention_pool: init::linear_trunc_normal(d, 1, LINEAR_STD, true, device),
            seq_pool_value_transform: options.seq_pool_value_transform,
            fc: code_size.map(|c| init::linear_trunc_normal(d, c, LINEAR_STD, true, device)),
        }
    }

    fn forward(&self, tokens: Tensor<3>) -> Tensor<2> {
        let x = match (&self.positional_emb, self.positional_embedding) {
            (Some(embedding), _) => tokens + embedding.val(),
            (None, PositionalEmbedding::Sine) => {
                let [_, n, d] = tokens.dims();
                let embedding = sinusoidal_embedding(n, d, &tokens.device());
                tokens + embedding
            }
            (None, _) => tokens,
        };
        let x = self.blocks.iter().fold(self.dropout.forward(x), |x, block| block.forward(x));
        let x = self.norm.forward(x);
        // SeqPool: softmax(attention_pool(x), over tokens)ᵀ · x
        let weights = softmax(self.attention_pool.forward(x.clone()), 1).swap_dims(1, 2);
        let pooled = weights.matmul(self.seq_pool_value_transform.apply(x, 1)).squeeze_dim::<2>(1);
        match &self.fc {
            Some(fc) => fc.forward(pooled),
            None => pooled,
        }
    }
}

/// `TransformerClassifier.sinusoidal_embedding`: `p / 10000^(2·(i//2)/dim)`, sine on even
/// channels, cosine on odd ones; `[1, tokens, dim]`.
fn sinusoidal_embedding(tokens: usize, dim: usize, device: &Device) -> Tensor<3> {
    let values: Vec<f32> = (0..tokens)
        .flat_map(|p| {
            (0..dim).map(move |i| {
                // Computed in f64 and stored as f32 (`torch.FloatTensor`), then sin/cos in f32.
                let angle = (p as f64 / 10000f64.powf((2 * (i / 2)) as f64 / dim as f64)) as f32;
                if i % 2 == 0 { angle.sin() } else { angle.cos() }
            })
        })
        .collect();
    Tensor::from_data(TensorData::new(values, [1, tokens, dim]), device)
}

impl TransformerEncoderLayer {
    fn new(
        options: &CctOptions,
        architecture: &CctArchitecture,
        drop_path_rate: f64,
        device: &Device,
    ) -> Self {
        let (d, f) = (architecture.embedding_dim, architecture.dim_feedforward());
        let linear = |i, o, bias| init::linear_trunc_normal(i, o, LINEAR_STD, bias, device);
        let heads = architecture.num_heads;
        let softmax_attention = || {
            let (qkv, proj) = (linear(d, 3 * d, false), linear(d, d, true));
            MultiheadAttention::new(qkv, proj, heads, options.attention_dropout, options.value_transform)
        };
        let self_attn = Attention::new(
            &options.attention,
            softmax_attention,
            (d, heads),
            options.attention_dropout,
            options.value_transform,
            device,
        );
        let dropout = || DropoutConfig::new(options.dropout).init();
        Self {
            pre_norm: LayerNormConfig::new(d).init(device),
            self_attn,
            proj_drop: dropout(),
            linear1: linear(d, f, true),
            dropout1: dropout(),
            norm1: LayerNormConfig::new(d).init(device),
            linear2: linear(f, d, true),
            dropout2: dropout(),
            drop_path: DropPath { mask: DropoutConfig::new(drop_path_rate).init() },
        }
    }

    fn forward(&self, src: Tensor<3>) -> Tensor<3> {
        let attended = self.proj_drop.forward(self.self_attn.forward(self.pre_norm.forward(src.clone())));
        let src = self.norm1.forward(src + self.drop_path.forward(attended));
        let src2 = self.linear2.forward(self.dropout1.forward(gelu(self.linear1.forward(src.clone()))));
        src + self.drop_path.forward(self.dropout2.forward(src2))
    }
}

impl DropPath {
    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        if !self.is_active(&x.device()) {
            return x;
        }
        let batch = x.dims()[0];
        let keep = self.mask.forward(Tensor::ones([batch, 1, 1], &x.device()));
        x * keep
    }

    /// Whether the mask can drop anything: `Dropout::forward`'s own conditions (training,
    /// on an autodiff device, `p > 0`). Otherwise the mask would be all ones, and
    /// multiplying the whole branch by it is wasted work.
    fn is_active(&self, device: &Device) -> bool {
        self.mask.prob > 0.0 && self.mask.training.is_enabled() && device.is_autodiff()
    }
}
