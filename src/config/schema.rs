//! The typed experiment schema: every key a run understands, and the whole vocabulary
//! (data sets, transforms, encoders, losses, optimizers, schedulers) in one place.
//!
//! A resolved run (after `$extends`, matrix expansion and `${...}` substitution) is
//! deserialized into [`RunConfig`]. Every struct denies unknown keys, so a typo is an error.
//! The model's options are declared beside the models that use them (`crate::model`) and
//! re-exported here, so this stays the one index of the vocabulary.
//!
//! Defaults: a struct takes `#[serde(default)]` and a `Default` impl with the values; an
//! enum variant's fields (which have no container default) name a function below.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

pub use crate::model::attention::AttentionSpec;
pub use crate::model::cct::{CctOptions, CctPreset, PositionalEmbedding};
pub use crate::model::conv::ConvOptions;
pub use crate::model::convnn::{ConvNnBranch, ConvNnConv, ConvNnOptions, ConvNnSampling, ConvNnSimilarity};
pub use crate::model::resnet::Resnet18Options;
pub use crate::model::value_transform::{MixMode, ValueScale, ValueTransformKind, ValueTransformSpec};
pub use crate::model::vit::VitOptions;
pub use crate::model::{EncoderSpec, ModelSpec};

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
#[serde(default, deny_unknown_fields)]
pub struct ProbeSpec {
    /// Training-set embeddings (class-balanced) for the held-out probe.
    pub samples: usize,
    pub every: ProbeEvery,
}

/// Also what an omitted key takes.
impl Default for ProbeSpec {
    fn default() -> Self {
        ProbeSpec { samples: 10_000, every: ProbeEvery::default() }
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
#[serde(default, deny_unknown_fields)]
pub struct ReportSpec {
    /// Matrix keys whose runs are repeats of each other (default: `seed`).
    pub group_over: Vec<String>,
    /// Trend plots drawn beside the learning curves (what `expgrid plot --x` draws).
    pub trends: Vec<TrendSpec>,
    /// Matrix values that pick the baseline row(s), e.g. `{alpha: 0.0}`: every other row is
    /// compared with the baseline that has the same values of the other keys.
    pub baseline: Option<IndexMap<String, serde_json::Value>>,
}

/// Also what an omitted key takes.
impl Default for ReportSpec {
    fn default() -> Self {
        ReportSpec { group_over: vec!["seed".to_string()], trends: Vec::new(), baseline: None }
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

// Defaults of enum variants' fields.

fn default_magnitude_bins() -> usize {
    31
}
fn default_half() -> f64 {
    0.5
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
fn default_trend_metric() -> String {
    "accuracy_argmax".to_string()
}
