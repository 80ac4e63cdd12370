//! The models: `encoder -> embedding ("code") -> Linear(embedding, classes)`, as in
//! nn-experiments (`self.linear(self.encoder(x))`).
//!
//! With `code_size`, the encoder's own output layer (ViT `heads.head`, resnet `fc`, conv
//! `linear`) produces the embedding; without it the encoder has no output layer and its
//! pooled features are the embedding.
//!
//! burn 0.22 has no backend type parameter: a model lives on a [`Device`]. Build it on
//! `device.autodiff()` to train it; [`Module::valid`] gives the evaluation copy on the
//! plain device. Dropout and BatchNorm use their training behaviour only on an autodiff
//! device with training enabled (`valid()` disables it), so there is no separate flag.
//! Initialisation draws from the backend's generator: seed it first with
//! [`crate::backend::seed`].

pub mod attention;
pub mod cct;
pub mod conv;
pub mod convnn;
mod init;
pub mod options;
pub mod resnet;
mod scaled_dot_product;
mod torch_keys;
pub mod value_transform;
pub mod vit;

use burn::module::{Module, ModuleVisitor, Param};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use cct::{Cct, CctOptions};
use conv::{ConvEncoder, ConvOptions};
pub use options::{EncoderOptions, InvalidModel};
use options::{invalid, positive};
use resnet::{ResNet18, Resnet18Options};
use vit::{VisionTransformer, VitOptions};

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
/// Adding an encoder: its options type beside its model, a variant here and in
/// [`Encoder`], and a line in [`EncoderSpec::options`] and [`Model::new`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum EncoderSpec {
    /// torchvision `VisionTransformer`.
    Vit(VitOptions),
    /// torchvision `resnet18`, unmodified.
    Resnet18(Resnet18Options),
    /// nn-experiments' `EncoderConv2d`: conv + ReLU stages, flatten, linear.
    Conv(ConvOptions),
    /// Compact Convolutional Transformer (Hassani et al. 2021).
    Cct(CctOptions),
}

impl EncoderSpec {
    /// The chosen encoder's options.
    pub fn options(&self) -> &dyn EncoderOptions {
        match self {
            EncoderSpec::Vit(o) => o,
            EncoderSpec::Resnet18(o) => o,
            EncoderSpec::Conv(o) => o,
            EncoderSpec::Cct(o) => o,
        }
    }
}

/// One of the encoders.
#[derive(Module, Debug)]
pub enum Encoder {
    Vit(VisionTransformer),
    Resnet18(ResNet18),
    Conv(ConvEncoder),
    Cct(Cct),
}

/// Encoder, then the classification head `linear`.
#[derive(Module, Debug)]
pub struct Model {
    pub encoder: Encoder,
    pub linear: Linear,
}

/// What a forward pass returns.
#[derive(Debug, Clone)]
pub struct ModelOutput {
    /// `[batch, embedding_dim]`, what the probe sees.
    pub embedding: Tensor<2>,
    /// `[batch, classes]`.
    pub logits: Tensor<2>,
}

impl Model {
    /// Builds the model for images of `input_shape` (`[C, H, W]`) on `device`, with the
    /// reference implementations' initialisation. Fails with [`validate`]'s message.
    pub fn new(spec: &ModelSpec, input_shape: [usize; 3], device: &Device) -> Result<Self, InvalidModel> {
        validate(spec, input_shape)?;
        let code_size = spec.code_size;
        let encoder = match &spec.encoder {
            EncoderSpec::Vit(o) => Encoder::Vit(VisionTransformer::new(o, input_shape[0], code_size, device)),
            EncoderSpec::Resnet18(_) => Encoder::Resnet18(ResNet18::new(input_shape[0], code_size, device)),
            EncoderSpec::Conv(o) => Encoder::Conv(ConvEncoder::new(o, input_shape, code_size, device)),
            EncoderSpec::Cct(o) => {
                Encoder::Cct(Cct::new(o, &o.architecture()?, input_shape, code_size, device))
            }
        };
        let linear = LinearConfig::new(embedding_dim(spec, input_shape), spec.classes).init(device);
        Ok(Self { encoder, linear })
    }

    /// Trainable parameters. Unlike burn's `Module::num_params`, which this shadows, it
    /// leaves out BatchNorm's running statistics (buffers in PyTorch's terms).
    pub fn num_params(&self) -> usize {
        let mut counter = TrainableParams::default();
        self.visit(&mut counter);
        counter.count
    }

    /// `[batch, C, H, W]` images -> embedding and logits.
    pub fn forward(&self, images: Tensor<4>) -> ModelOutput {
        let embedding = self.encoder.forward(images);
        let logits = self.linear.forward(embedding.clone());
        ModelOutput { embedding, logits }
    }
}

impl Encoder {
    /// `[batch, C, H, W]` -> `[batch, embedding_dim]`.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        match self {
            Self::Vit(m) => m.forward(images),
            Self::Resnet18(m) => m.forward(images),
            Self::Conv(m) => m.forward(images),
            Self::Cct(m) => m.forward(images),
        }
    }
}

/// Counts float parameters outside `running_*` fields.
#[derive(Default)]
struct TrainableParams {
    path: Vec<String>,
    count: usize,
}

impl ModuleVisitor for TrainableParams {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_owned());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if !self.path.last().is_some_and(|name| name.starts_with("running_")) {
            self.count += param.lazy_shape().num_elements();
        }
    }
}

/// Checks a model block against the data's `[C, H, W]`.
pub fn validate(spec: &ModelSpec, input_shape: [usize; 3]) -> Result<(), InvalidModel> {
    if spec.classes < 2 {
        return invalid("classes", "a classifier needs at least 2 classes".into(), "e.g. `classes: 10`");
    }
    if let Some(code_size) = spec.code_size {
        positive("code_size", code_size)?;
    }
    spec.encoder.options().validate(input_shape)
}

/// Size of the embedding: `code_size`, or the encoder's pooled feature size.
pub fn embedding_dim(spec: &ModelSpec, input_shape: [usize; 3]) -> usize {
    spec.code_size.unwrap_or_else(|| spec.encoder.options().embedding_dim(input_shape))
}

/// Trainable parameters of the model [`Model::new`] would build, without building it.
pub fn count_params(spec: &ModelSpec, input_shape: [usize; 3]) -> Result<usize, InvalidModel> {
    validate(spec, input_shape)?;
    let encoder = spec.encoder.options().count_params(input_shape, spec.code_size);
    let head = embedding_dim(spec, input_shape) * spec.classes + spec.classes;
    Ok(encoder + head)
}
