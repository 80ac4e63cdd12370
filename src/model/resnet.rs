//! torchvision's `resnet18` (`torchvision/models/resnet.py`), unmodified: same module
//! names, forward pass and initialisation, for any input channel count and size.

use burn::module::{Flag, Initializer, Module, Param, RunningState};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::module::{batch_norm, batch_norm_train};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::options::{EncoderOptions, InvalidModel};
use super::torch_keys::replace_all;

/// Channels of the four stages.
const STAGES: [usize; 4] = [64, 128, 256, 512];
/// BasicBlocks per stage in resnet18.
const BLOCKS: usize = 2;

/// `encoder: resnet18`: torchvision's `resnet18` takes no options.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resnet18Options {}

impl EncoderOptions for Resnet18Options {
    fn validate(&self, _input_shape: [usize; 3]) -> Result<(), InvalidModel> {
        Ok(())
    }

    fn embedding_dim(&self, _input_shape: [usize; 3]) -> usize {
        ResNet18::FEATURES
    }

    fn count_params(&self, [channels, ..]: [usize; 3], code_size: Option<usize>) -> usize {
        let stem = channels * 64 * 7 * 7 + 2 * 64;
        let blocks: usize = block_shapes().map(|(i, o, s)| BasicBlock::count_params(i, o, s)).sum();
        stem + blocks + code_size.map_or(0, |c| ResNet18::FEATURES * c + c)
    }
}

/// torchvision's state-dict key -> our module path: the shortcut's
/// `Sequential(conv, bn)` entries `downsample.0`/`downsample.1` are `downsample.conv`/`.bn`.
pub fn torchvision_key(key: &str) -> String {
    replace_all(key, &[(".downsample.0.", ".downsample.conv."), (".downsample.1.", ".downsample.bn.")])
}

/// `resnet18(num_classes=code_size)`; without a code size there is no `fc` and the output
/// is the pooled 512 features.
#[derive(Module, Debug)]
pub struct ResNet18 {
    pub conv1: Conv2d,
    pub bn1: BatchNorm2d,
    pub maxpool: MaxPool2d,
    pub layer1: Vec<BasicBlock>,
    pub layer2: Vec<BasicBlock>,
    pub layer3: Vec<BasicBlock>,
    pub layer4: Vec<BasicBlock>,
    pub fc: Option<Linear>,
}

/// conv3x3-BN-ReLU-conv3x3-BN, plus the (downsampled) input, ReLU.
#[derive(Module, Debug)]
pub struct BasicBlock {
    pub conv1: Conv2d,
    pub bn1: BatchNorm2d,
    pub conv2: Conv2d,
    pub bn2: BatchNorm2d,
    pub downsample: Option<Downsample>,
}

/// 1x1 conv + BN on the shortcut when the shape changes (torch's `downsample.0`/`.1`).
#[derive(Module, Debug)]
pub struct Downsample {
    pub conv: Conv2d,
    pub bn: BatchNorm2d,
}

/// `nn.BatchNorm2d` with PyTorch's semantics and parameter names (`weight`, `bias`,
/// `running_mean`, `running_var`). burn's `BatchNorm` updates the running variance with
/// the biased batch variance; PyTorch uses the unbiased one, which matters for small
/// feature maps (layer4 on 28x28 inputs is 1x1, so n = batch size).
#[derive(Module, Debug)]
pub struct BatchNorm2d {
    pub weight: Param<Tensor<1>>,
    pub bias: Param<Tensor<1>>,
    pub running_mean: RunningState<Tensor<1>>,
    pub running_var: RunningState<Tensor<1>>,
    /// Whether training behaviour is enabled (burn's `train()`/`valid()` switch it).
    pub training: Param<Flag>,
}

impl BatchNorm2d {
    const MOMENTUM: f64 = 0.1;
    const EPS: f64 = 1e-5;

    fn new(channels: usize, device: &Device) -> Self {
        Self {
            weight: Initializer::Ones.init([channels], device),
            bias: Initializer::Zeros.init([channels], device),
            running_mean: RunningState::new(Tensor::zeros([channels], device)),
            running_var: RunningState::new(Tensor::ones([channels], device)),
            training: Param::from_bool(true),
        }
    }

    /// Batch statistics (and a running-statistics update) when training on an autodiff
    /// device, running statistics otherwise — the rule burn's own `BatchNorm` follows.
    pub fn forward(&self, input: Tensor<4>) -> Tensor<4> {
        let device = input.device();
        if !(device.is_autodiff() && self.training.is_enabled()) {
            return batch_norm(
                input,
                self.weight.val(),
                self.bias.val(),
                self.running_mean.value().to_device(&device),
                self.running_var.value().to_device(&device),
                Self::EPS,
            );
        }
        let [b, _, h, w] = input.dims();
        let n = (b * h * w) as f64;
        let result = batch_norm_train(input, self.weight.val(), self.bias.val(), Self::EPS);
        let unbiased_var = result.variance.mul_scalar(n / (n - 1.0).max(1.0));
        let update = |state: &RunningState<Tensor<1>>, batch: Tensor<1>| {
            let running = state.value_sync().to_device(&device);
            let running = running.mul_scalar(1.0 - Self::MOMENTUM) + batch.mul_scalar(Self::MOMENTUM);
            state.update(running.detach());
        };
        update(&self.running_mean, result.mean.detach());
        update(&self.running_var, unbiased_var.detach());
        result.output
    }
}

/// torchvision's conv init: `kaiming_normal_(mode="fan_out", nonlinearity="relu")`, no bias.
fn conv(c_in: usize, c_out: usize, kernel: usize, stride: usize, device: &Device) -> Conv2d {
    let pad = kernel / 2;
    Conv2dConfig::new([c_in, c_out], [kernel, kernel])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
        .with_bias(false)
        .with_initializer(Initializer::KaimingNormal { gain: 2f64.sqrt(), fan_out_only: true })
        .init(device)
}

impl BasicBlock {
    fn new(c_in: usize, c_out: usize, stride: usize, device: &Device) -> Self {
        let downsample = (stride != 1 || c_in != c_out).then(|| Downsample {
            conv: conv(c_in, c_out, 1, stride, device),
            bn: BatchNorm2d::new(c_out, device),
        });
        Self {
            conv1: conv(c_in, c_out, 3, stride, device),
            bn1: BatchNorm2d::new(c_out, device),
            conv2: conv(c_out, c_out, 3, 1, device),
            bn2: BatchNorm2d::new(c_out, device),
            downsample,
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let identity = match &self.downsample {
            Some(ds) => ds.bn.forward(ds.conv.forward(x.clone())),
            None => x.clone(),
        };
        let out = relu(self.bn1.forward(self.conv1.forward(x)));
        let out = self.bn2.forward(self.conv2.forward(out));
        relu(out + identity)
    }

    fn count_params(c_in: usize, c_out: usize, stride: usize) -> usize {
        let conv_bn = |i: usize, k: usize| i * c_out * k * k + 2 * c_out;
        let downsample = if stride != 1 || c_in != c_out { conv_bn(c_in, 1) } else { 0 };
        conv_bn(c_in, 3) + conv_bn(c_out, 3) + downsample
    }
}

/// `(in_channels, out_channels, stride)` of every BasicBlock, stage by stage.
fn block_shapes() -> impl Iterator<Item = (usize, usize, usize)> {
    STAGES.into_iter().enumerate().flat_map(|(i, c_out)| {
        let c_in = if i == 0 { 64 } else { STAGES[i - 1] };
        let stride = if i == 0 { 1 } else { 2 };
        (0..BLOCKS).map(move |j| if j == 0 { (c_in, c_out, stride) } else { (c_out, c_out, 1) })
    })
}

impl ResNet18 {
    /// Pooled feature size (`fc.in_features`).
    pub const FEATURES: usize = 512;

    /// Builds resnet18 for `channels`-channel images with torchvision's initialisation.
    pub fn new(channels: usize, code_size: Option<usize>, device: &Device) -> Self {
        let mut blocks = block_shapes().map(|(i, o, s)| BasicBlock::new(i, o, s, device));
        let mut stage = || blocks.by_ref().take(BLOCKS).collect::<Vec<_>>();
        Self {
            conv1: conv(channels, 64, 7, 2, device),
            bn1: BatchNorm2d::new(64, device),
            maxpool: MaxPool2dConfig::new([3, 3])
                .with_strides([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(),
            layer1: stage(),
            layer2: stage(),
            layer3: stage(),
            layer4: stage(),
            fc: code_size.map(|c| LinearConfig::new(Self::FEATURES, c).init(device)),
        }
    }

    /// `[batch, C, H, W]` -> `[batch, code_size or 512]`.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let x = relu(self.bn1.forward(self.conv1.forward(images)));
        let x = self.maxpool.forward(x);
        let x = [&self.layer1, &self.layer2, &self.layer3, &self.layer4]
            .into_iter()
            .flatten()
            .fold(x, |x, block| block.forward(x));
        let x = x.mean_dims(&[2, 3]).flatten::<2>(1, 3); // adaptive avg pool to 1x1, flatten
        match &self.fc {
            Some(fc) => fc.forward(x),
            None => x,
        }
    }
}
