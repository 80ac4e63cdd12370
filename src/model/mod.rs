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

pub mod conv;
mod init;
pub mod resnet;
pub mod vit;

use burn::module::{Module, ModuleVisitor, Param};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};

use crate::config::schema::{EncoderSpec, ModelSpec};
use conv::{ConvEncoder, ConvOptions};
use resnet::ResNet18;
use vit::{VisionTransformer, VitOptions};

/// One of the encoders.
#[derive(Module, Debug)]
pub enum Encoder {
    Vit(VisionTransformer),
    Resnet18(ResNet18),
    Conv(ConvEncoder),
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
    pub fn new(spec: &ModelSpec, input_shape: [usize; 3], device: &Device) -> Result<Self, String> {
        validate(spec, input_shape)?;
        let code_size = spec.code_size;
        let encoder = match Options::from(&spec.encoder) {
            Options::Vit(o) => Encoder::Vit(VisionTransformer::new(&o, input_shape[0], code_size, device)),
            Options::Resnet18 => Encoder::Resnet18(ResNet18::new(input_shape[0], code_size, device)),
            Options::Conv(o) => Encoder::Conv(ConvEncoder::new(&o, input_shape, code_size, device)),
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

/// Checks a model block against the data's `[C, H, W]`; the message names the problem.
pub fn validate(spec: &ModelSpec, [c, h, w]: [usize; 3]) -> Result<(), String> {
    let positive = |name: &str, value: usize| match value {
        0 => Err(format!("model: `{name}` must be positive")),
        _ => Ok(()),
    };
    let probability = |name: &str, p: f64| match (0.0..1.0).contains(&p) {
        true => Ok(()),
        false => Err(format!("model: `{name}` must be in [0, 1), got {p}")),
    };
    positive("classes", spec.classes)?;
    if let Some(code_size) = spec.code_size {
        positive("code_size", code_size)?;
    }
    if c == 0 || h == 0 || w == 0 {
        return Err(format!("model: empty input shape {c}x{h}x{w}"));
    }
    match Options::from(&spec.encoder) {
        Options::Vit(o) => {
            for (name, value) in [
                ("image_size", o.image_size),
                ("patch_size", o.patch_size),
                ("num_layers", o.num_layers),
                ("num_heads", o.num_heads),
                ("hidden_dim", o.hidden_dim),
                ("mlp_dim", o.mlp_dim),
            ] {
                positive(name, value)?;
            }
            probability("dropout", o.dropout)?;
            probability("attention_dropout", o.attention_dropout)?;
            if o.hidden_dim % o.num_heads != 0 {
                return Err(format!(
                    "model: vit `hidden_dim` ({}) must be divisible by `num_heads` ({})",
                    o.hidden_dim, o.num_heads
                ));
            }
            if h != o.image_size || w != o.image_size {
                return Err(format!(
                    "model: vit `image_size` is {} but the data's images are {h}x{w}",
                    o.image_size
                ));
            }
            if o.image_size % o.patch_size != 0 {
                return Err(format!(
                    "model: vit `image_size` ({}) must be divisible by `patch_size` ({})",
                    o.image_size, o.patch_size
                ));
            }
        }
        Options::Resnet18 => {}
        Options::Conv(o) => {
            if o.channels.is_empty() {
                return Err("model: conv `channels` must not be empty".into());
            }
            for (i, &channels) in o.channels.iter().enumerate() {
                positive(&format!("channels[{i}]"), channels)?;
            }
            positive("kernel_size", o.kernel_size)?;
            positive("stride", o.stride)?;
            probability("dropout", o.dropout)?;
            o.output_shape([c, h, w]).map_err(|e| format!("model: {e}"))?;
        }
    }
    Ok(())
}

/// Size of the embedding: `code_size`, or the encoder's pooled feature size.
pub fn embedding_dim(spec: &ModelSpec, input_shape: [usize; 3]) -> usize {
    spec.code_size.unwrap_or_else(|| match Options::from(&spec.encoder) {
        Options::Vit(o) => o.hidden_dim,
        Options::Resnet18 => ResNet18::FEATURES,
        Options::Conv(o) => ConvEncoder::features(&o, input_shape),
    })
}

/// Trainable parameters of the model [`Model::new`] would build, without building it.
pub fn count_params(spec: &ModelSpec, input_shape: [usize; 3]) -> Result<usize, String> {
    validate(spec, input_shape)?;
    let code_size = spec.code_size;
    let encoder = match Options::from(&spec.encoder) {
        Options::Vit(o) => VisionTransformer::count_params(&o, input_shape[0], code_size),
        Options::Resnet18 => ResNet18::count_params(input_shape[0], code_size),
        Options::Conv(o) => ConvEncoder::count_params(&o, input_shape, code_size),
    };
    let head = embedding_dim(spec, input_shape) * spec.classes + spec.classes;
    Ok(encoder + head)
}

/// The encoder options of a spec, typed per encoder.
enum Options {
    Vit(VitOptions),
    Resnet18,
    Conv(ConvOptions),
}

impl From<&EncoderSpec> for Options {
    fn from(spec: &EncoderSpec) -> Self {
        match spec {
            &EncoderSpec::Vit {
                image_size,
                patch_size,
                num_layers,
                num_heads,
                hidden_dim,
                mlp_dim,
                dropout,
                attention_dropout,
            } => Self::Vit(VitOptions {
                image_size,
                patch_size,
                num_layers,
                num_heads,
                hidden_dim,
                mlp_dim,
                dropout,
                attention_dropout,
            }),
            EncoderSpec::Resnet18 {} => Self::Resnet18,
            EncoderSpec::Conv { channels, kernel_size, stride, padding, dropout } => {
                Self::Conv(ConvOptions {
                    channels: channels.clone(),
                    kernel_size: *kernel_size,
                    stride: *stride,
                    padding: *padding,
                    dropout: *dropout,
                })
            }
        }
    }
}
