//! The typed experiment schema: every key a run understands, and the whole vocabulary
//! (data sets, transforms, encoders, losses, optimizers, schedulers) in one place.
//!
//! A resolved run (after `$extends`, matrix expansion and `${...}` substitution) is
//! deserialized into [`RunConfig`]. Every struct denies unknown keys, so a typo is an error.
//! Names that a later feature implements are registered here already; the code that runs
//! them says "not implemented yet" rather than the parser rejecting them.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

/// One fully resolved run, as written to the run folder's `config.yaml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// Run folder name below the runs directory; may contain `/`.
    pub experiment_name: String,
    /// Random seed of the run (weights, data order, augmentation).
    #[serde(default)]
    pub seed: u64,
    pub train_set: DatasetSpec,
    pub validation_set: DatasetSpec,
    pub batch_size: usize,
    pub learnrate: f64,
    pub optimizer: OptimizerSpec,
    /// Overrides the optimizer's default weight decay (AdamW 0.01, Adam and SGD 0).
    #[serde(default)]
    pub weight_decay: Option<f64>,
    #[serde(default)]
    pub scheduler: SchedulerSpec,
    pub loss_function: LossSpec,
    /// Training budget in samples (not batches).
    pub max_inputs: u64,
    /// Validate every this many training inputs (default: once per epoch) and at the end.
    #[serde(default)]
    pub validate_every: Option<u64>,
    /// Save a checkpoint every this many inputs (it is also saved at every validation).
    #[serde(default)]
    pub checkpoint_every: Option<u64>,
    #[serde(default)]
    pub train_input_transforms: Vec<TransformSpec>,
    pub model: ModelSpec,
    #[serde(default)]
    pub probe: ProbeSpec,
    #[serde(default)]
    pub report: ReportSpec,
    /// `expgrid slurm`'s defaults for this run (see `super::slurm`).
    #[serde(default)]
    pub slurm: super::slurm::SlurmSpec,
}

/// `train_set:` / `validation_set:`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetSpec {
    pub dataset: DatasetName,
    pub split: Split,
    /// `[channels, height, width]` of the images the model sees.
    pub shape: [usize; 3],
    /// Class-balanced subset of this many samples, fixed by the seed.
    #[serde(default)]
    pub limit: Option<usize>,
}

/// The data sets expgrid can load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DatasetName {
    /// Fashion-MNIST: 60,000 + 10,000 grey 28x28 images, 10 classes.
    Fmnist,
    /// MNIST digits: 60,000 + 10,000 grey 28x28 images, 10 classes.
    Mnist,
    /// CIFAR-10: 50,000 + 10,000 colour 32x32 images, 10 classes.
    Cifar10,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    Train,
    Test,
}

/// One entry of `train_input_transforms:`: a bare name, or `{name: {options}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum TransformSpec {
    /// torchvision `TrivialAugmentWide` on uint8 images.
    TrivialAugmentWide {
        #[serde(default)]
        mode: AugmentMode,
        #[serde(default = "default_magnitude_bins")]
        num_magnitude_bins: usize,
    },
    /// torchvision `AutoAugment(AutoAugmentPolicy.CIFAR10)` on uint8 images.
    #[serde(rename = "autoaugment_cifar10")]
    AutoaugmentCifar10 {
        #[serde(default)]
        mode: AugmentMode,
    },
    /// Random crop back to the image size after zero padding.
    RandomCrop {
        #[serde(default)]
        padding: usize,
    },
    /// Horizontal flip with probability `p`.
    HorizontalFlip {
        #[serde(default = "default_half")]
        p: f64,
    },
    /// `(x - mean) / std` per channel.
    Normalize { mean: Vec<f64>, std: Vec<f64> },
}

/// Whether an augmentation draws its random op per image or once per batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AugmentMode {
    /// Each image draws its own op and magnitude (torchvision's meaning).
    #[default]
    PerSample,
    /// One op and magnitude for the whole batch (what nn-experiments did in effect).
    PerBatch,
}

/// The `model:` block: `encoder: NAME`, that encoder's options, `code_size`, `classes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelSpec {
    pub encoder: EncoderSpec,
    /// Size of the embedding ("code") layer; without it the encoder's pooled features are
    /// the embedding.
    pub code_size: Option<usize>,
    pub classes: usize,
}

/// The encoders, with their options (option names follow the reference implementation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum EncoderSpec {
    /// torchvision `VisionTransformer`.
    Vit(VitOptions),
    /// torchvision `resnet18`, unmodified.
    Resnet18 {},
    /// nn-experiments' `EncoderConv2d`: conv + ReLU stages, flatten, linear.
    Conv(ConvOptions),
    /// Compact Convolutional Transformer (Hassani et al. 2021).
    Cct(CctOptions),
}

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

/// `value_transform:` — replaces attention's values `V` (`[tokens, channels]` per head) by
/// a mix with `T(V)`: `mix` gives `(1-alpha)·V + alpha·s·T(V)`, `add` gives
/// `V + alpha·s·T(V)`, where `s = sign · scale`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValueTransformSpec {
    #[serde(default)]
    pub kind: ValueTransformKind,
    #[serde(default = "default_alpha")]
    pub alpha: f64,
    /// +1 or -1.
    #[serde(default = "default_sign")]
    pub sign: f64,
    #[serde(default)]
    pub mode: MixMode,
    #[serde(default)]
    pub scale: ValueScale,
}

impl Default for ValueTransformSpec {
    fn default() -> Self {
        ValueTransformSpec {
            kind: ValueTransformKind::None,
            alpha: default_alpha(),
            sign: default_sign(),
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

/// `encoder: conv`: nn-experiments' `EncoderConv2d` arguments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConvOptions {
    #[serde(default = "default_conv_channels")]
    pub channels: Vec<usize>,
    #[serde(default = "default_kernel_size")]
    pub kernel_size: usize,
    #[serde(default = "default_one")]
    pub stride: usize,
    #[serde(default)]
    pub padding: usize,
    #[serde(default)]
    pub dropout: f64,
}

/// `loss_function:`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum LossSpec {
    /// Mean squared error over all batch x classes elements against one-hot targets.
    L2,
    /// Mean absolute error against one-hot targets.
    L1,
    /// Cross-entropy on logits.
    Ce,
    /// Cross-entropy with label smoothing.
    LabelSmoothingCe {
        #[serde(default = "default_smoothing")]
        smoothing: f64,
    },
}

/// `optimizer:` (PyTorch's names and defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum OptimizerSpec {
    AdamW {
        #[serde(default = "default_betas")]
        betas: [f64; 2],
        #[serde(default = "default_eps")]
        eps: f64,
    },
    Adam {
        #[serde(default = "default_betas")]
        betas: [f64; 2],
        #[serde(default = "default_eps")]
        eps: f64,
    },
    #[serde(rename = "SGD")]
    Sgd {
        #[serde(default)]
        momentum: f64,
        #[serde(default)]
        nesterov: bool,
    },
}

impl OptimizerSpec {
    /// PyTorch's default weight decay for this optimizer.
    pub fn default_weight_decay(&self) -> f64 {
        match self {
            OptimizerSpec::AdamW { .. } => 0.01,
            OptimizerSpec::Adam { .. } | OptimizerSpec::Sgd { .. } => 0.0,
        }
    }
}

/// `scheduler:`; stepped after every batch.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum SchedulerSpec {
    /// Cosine from `learnrate` to 0 over `max_inputs / batch_size` steps.
    CosineAnnealingLR,
    /// Linear warm-up over `warmup_inputs`, then cosine to 0.
    CosineAnnealingWarmupLR { warmup_inputs: u64 },
    /// The learning rate never changes.
    #[default]
    #[serde(rename = "constant")]
    Constant,
}

/// `probe:` — the SVC probe on the embedding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeSpec {
    /// Training-set embeddings (class-balanced) for the held-out probe.
    #[serde(default = "default_probe_samples")]
    pub samples: usize,
    #[serde(default)]
    pub every: ProbeEvery,
}

impl Default for ProbeSpec {
    fn default() -> Self {
        ProbeSpec { samples: default_probe_samples(), every: ProbeEvery::default() }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeEvery {
    #[default]
    Final,
    EachValidation,
}

/// `report:` — how `expgrid report` groups runs and which trend plots it draws.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportSpec {
    /// Matrix keys whose runs are repeats of each other (default: `seed`).
    #[serde(default = "default_group_over")]
    pub group_over: Vec<String>,
    /// Trend plots drawn beside the learning curves (what `expgrid plot --x` draws).
    #[serde(default)]
    pub trends: Vec<TrendSpec>,
    /// Matrix values that pick the baseline row(s), e.g. `{alpha: 0.0}`: every other row is
    /// compared with the baseline that has the same values of the other keys.
    #[serde(default)]
    pub baseline: Option<IndexMap<String, serde_json::Value>>,
}

impl Default for ReportSpec {
    fn default() -> Self {
        ReportSpec { group_over: default_group_over(), trends: Vec::new(), baseline: None }
    }
}

/// One trend plot: the metric `y` against the matrix key `x`, a line per `series` value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrendSpec {
    pub x: String,
    #[serde(default = "default_trend_metric")]
    pub y: String,
    #[serde(default)]
    pub series: Option<String>,
}

fn default_magnitude_bins() -> usize {
    31
}
fn default_half() -> f64 {
    0.5
}
fn default_conv_channels() -> Vec<usize> {
    vec![32, 32, 32]
}
fn default_kernel_size() -> usize {
    3
}
fn default_one() -> usize {
    1
}
fn default_smoothing() -> f64 {
    0.1
}
fn default_betas() -> [f64; 2] {
    [0.9, 0.999]
}
fn default_eps() -> f64 {
    1e-8
}
fn default_alpha() -> f64 {
    1.0
}
fn default_sign() -> f64 {
    1.0
}
fn default_probe_samples() -> usize {
    10_000
}
fn default_trend_metric() -> String {
    "accuracy_argmax".to_string()
}
fn default_group_over() -> Vec<String> {
    vec!["seed".to_string()]
}

// ConvNN attention ---------------------------------------------------------------------

/// `attention: convnn`: Kang & Farias 2025, "Attention Via Convolutional Nearest Neighbors"
/// (mingikang31/Convolutional-Nearest-Neighbor-Attention, `layers.py`:
/// `MultiHeadConvNNAttention`, `MultiHeadBranchingConv`, `MultiHeadBranchingAttention`).
/// The defaults are the reference's (`vision_main.py`, the layers' keyword defaults, and
/// `magnitude_type: matmul` of its logged runs).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConvNnOptions {
    /// Neighbours per token (`K`), also the Conv1d's kernel size and stride.
    #[serde(default = "default_convnn_k")]
    pub k: usize,
    /// How a token's key is compared with the queries (`magnitude_type`).
    #[serde(default)]
    pub similarity: ConvNnSimilarity,
    /// Which tokens are neighbour candidates (`sampling_type`, `num_samples`, `sample_padding`).
    #[serde(default)]
    pub sampling: ConvNnSampling,
    /// Softmax over each token's K similarities before they weight the gathered values
    /// (`softmax_topk_val`); without it the raw similarities (or 1/distance) weight them.
    #[serde(default = "default_softmax_topk")]
    pub softmax_topk: bool,
    /// The Conv1d over the gathered neighbours (`convolution_type`).
    #[serde(default)]
    pub conv: ConvNnConv,
    /// Channels split between ConvNN attention and a second branch (`branch_ratio`).
    #[serde(default)]
    pub branch: ConvNnBranch,
}

impl Default for ConvNnOptions {
    fn default() -> Self {
        ConvNnOptions {
            k: default_convnn_k(),
            similarity: ConvNnSimilarity::default(),
            sampling: ConvNnSampling::default(),
            softmax_topk: default_softmax_topk(),
            conv: ConvNnConv::default(),
            branch: ConvNnBranch::default(),
        }
    }
}

/// ConvNN's token similarity between key `k_i` and query `q_j` (per head).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConvNnSimilarity {
    /// `k_i · q_j / sqrt(head_dim)`, the K largest (what the reference's runs use).
    #[default]
    Matmul,
    /// Cosine of `k_i` and `q_j`, the K largest.
    Cosine,
    /// Euclidean distance `|k_i - q_j|`, the K smallest.
    Euclidean,
}

/// ConvNN's neighbour candidates. With `random` or `spatial` only the sampled tokens get a
/// query; every token's first neighbour is itself (weight 1 before the softmax) and the
/// other K-1 come from the samples.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ConvNnSampling {
    /// Every token is a candidate.
    #[default]
    All,
    /// `samples` tokens drawn without replacement at every forward pass (training and
    /// evaluation, as in the reference), the same for the whole batch.
    Random { samples: usize },
    /// `samples` evenly spaced tokens from `padding` to `tokens - padding - 1`.
    Spatial {
        samples: usize,
        #[serde(default)]
        padding: usize,
    },
}

/// The Conv1d (kernel K, stride K, no bias) over the K gathered values of every token.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConvNnConv {
    /// Full `head_dim -> head_dim` convolution.
    Standard,
    /// One filter per channel, initialised to ones.
    #[default]
    Depthwise,
    /// Depthwise (default initialisation), then a pointwise `head_dim -> head_dim` Conv1d.
    DepthwiseSeparable,
}

/// The branching variants: the first `floor(ratio · dim)` channels go through ConvNN
/// attention, the rest through the other branch (both with all the heads); the two
/// outputs are concatenated and mixed by a Linear (`pointwise_linear`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ConvNnBranch {
    /// ConvNN attention over all channels.
    #[default]
    None,
    /// `MultiHeadBranchingConv`: the other branch is a per-head Conv1d ("same" padding)
    /// between two Linear layers.
    Conv1d {
        #[serde(default = "default_half")]
        ratio: f64,
        #[serde(default = "default_convnn_kernel_size")]
        kernel_size: usize,
    },
    /// `MultiHeadBranchingAttention`: the other branch is softmax attention.
    Attention {
        #[serde(default = "default_half")]
        ratio: f64,
    },
}

fn default_convnn_k() -> usize {
    9
}
fn default_softmax_topk() -> bool {
    true
}
fn default_convnn_kernel_size() -> usize {
    9
}
