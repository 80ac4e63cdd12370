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
pub mod resnet;
pub mod value_transform;
pub mod vit;

use burn::module::{Module, ModuleVisitor, Param};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};

use crate::config::schema::{AttentionSpec, EncoderSpec, ModelSpec, ValueTransformSpec};
use cct::{Cct, CctArchitecture, CctOptions};
use conv::ConvEncoder;
use convnn::ConvNnAttention;
use resnet::ResNet18;
use vit::VisionTransformer;

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
            EncoderSpec::Resnet18 {} => Encoder::Resnet18(ResNet18::new(input_shape[0], code_size, device)),
            EncoderSpec::Conv(o) => Encoder::Conv(ConvEncoder::new(o, input_shape, code_size, device)),
            EncoderSpec::Cct(o) => {
                Encoder::Cct(Cct::new(o, &cct_architecture(o)?, input_shape, code_size, device))
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

/// A model block that cannot be built: which option (`num_heads`, `channels[1]`, ...), what
/// is wrong, and how to fix it.
#[derive(Debug, Clone, PartialEq)]
pub struct InvalidModel {
    pub key: String,
    pub message: String,
    pub hint: &'static str,
}

impl std::fmt::Display for InvalidModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "model.{}: {} ({})", self.key, self.message, self.hint)
    }
}

/// Checks a model block against the data's `[C, H, W]`.
pub fn validate(spec: &ModelSpec, [c, h, w]: [usize; 3]) -> Result<(), InvalidModel> {
    if spec.classes < 2 {
        return invalid("classes", "a classifier needs at least 2 classes".into(), "e.g. `classes: 10`");
    }
    if let Some(code_size) = spec.code_size {
        positive("code_size", code_size)?;
    }
    match &spec.encoder {
        EncoderSpec::Vit(o) => {
            for (key, value) in [
                ("image_size", o.image_size),
                ("patch_size", o.patch_size),
                ("num_layers", o.num_layers),
                ("num_heads", o.num_heads),
                ("hidden_dim", o.hidden_dim),
                ("mlp_dim", o.mlp_dim),
            ] {
                positive(key, value)?;
            }
            probability("dropout", o.dropout)?;
            probability("attention_dropout", o.attention_dropout)?;
            validate_value_transform("value_transform", &o.value_transform)?;
            if o.hidden_dim % o.num_heads != 0 {
                return invalid(
                    "num_heads",
                    format!("hidden_dim {} is not divisible by num_heads {}", o.hidden_dim, o.num_heads),
                    "each head gets hidden_dim / num_heads channels: pick num_heads that divides hidden_dim (or filter such combinations out with `$filter`)",
                );
            }
            if h != o.image_size || w != o.image_size {
                return invalid(
                    "image_size",
                    format!("image_size {} does not match the data shape [{c}, {h}, {w}]", o.image_size),
                    "set image_size to the height and width of `shape`",
                );
            }
            if o.image_size % o.patch_size != 0 {
                return invalid(
                    "patch_size",
                    format!("image_size {} is not divisible by patch_size {}", o.image_size, o.patch_size),
                    "pick a patch size that divides the image size (e.g. 7 or 4 for 28)",
                );
            }
            validate_attention(&o.attention, o.hidden_dim, o.num_heads, o.seq_length())?;
        }
        EncoderSpec::Resnet18 {} => {}
        EncoderSpec::Cct(o) => validate_cct(o, [c, h, w])?,
        EncoderSpec::Conv(o) => {
            if o.channels.is_empty() {
                return invalid(
                    "channels",
                    "`channels` must not be empty".into(),
                    "e.g. `channels: [32, 32, 32]`",
                );
            }
            for (i, &channels) in o.channels.iter().enumerate() {
                positive(&format!("channels[{i}]"), channels)?;
            }
            positive("kernel_size", o.kernel_size)?;
            positive("stride", o.stride)?;
            probability("dropout", o.dropout)?;
            if let Err(message) = o.output_shape([c, h, w]) {
                return invalid(
                    "channels",
                    message,
                    "use fewer layers, a smaller kernel_size or stride, or padding",
                );
            }
        }
    }
    Ok(())
}

fn invalid(key: &str, message: String, hint: &'static str) -> Result<(), InvalidModel> {
    Err(InvalidModel { key: key.to_string(), message, hint })
}

fn positive(key: &str, value: usize) -> Result<(), InvalidModel> {
    match value {
        0 => invalid(key, format!("`{key}` must be at least 1"), "use a positive size"),
        _ => Ok(()),
    }
}

fn probability(key: &str, p: f64) -> Result<(), InvalidModel> {
    match (0.0..1.0).contains(&p) {
        true => Ok(()),
        false => {
            invalid(key, format!("`{key}` must be in [0, 1), got {p}"), "a dropout probability, e.g. 0.1")
        }
    }
}

/// The preset combined with the options; names the missing option.
fn cct_architecture(options: &CctOptions) -> Result<CctArchitecture, InvalidModel> {
    options.architecture().map_err(|key| InvalidModel {
        key: key.to_string(),
        message: format!("cct needs `{key}` (or a `preset` that sets it)"),
        hint: "name a preset, e.g. `preset: cct_7_3x1`, or give num_layers, num_heads, mlp_ratio, embedding_dim, kernel_size and n_conv_layers",
    })
}

fn validate_cct(o: &CctOptions, input_shape: [usize; 3]) -> Result<(), InvalidModel> {
    let a = cct_architecture(o)?;
    for (key, value) in [
        ("num_layers", a.num_layers),
        ("num_heads", a.num_heads),
        ("embedding_dim", a.embedding_dim),
        ("kernel_size", a.kernel_size),
        ("n_conv_layers", a.n_conv_layers),
        ("in_planes", o.in_planes),
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
    probability("dropout", o.dropout)?;
    probability("attention_dropout", o.attention_dropout)?;
    probability("stochastic_depth", o.stochastic_depth)?;
    validate_value_transform("value_transform", &o.value_transform)?;
    validate_value_transform("seq_pool_value_transform", &o.seq_pool_value_transform)?;
    if a.embedding_dim % a.num_heads != 0 {
        return invalid(
            "num_heads",
            format!("embedding_dim {} is not divisible by num_heads {}", a.embedding_dim, a.num_heads),
            "pick num_heads that divides embedding_dim",
        );
    }
    validate_attention(&o.attention, a.embedding_dim, a.num_heads, Cct::sequence_length(&a, input_shape))
}

/// ConvNN's options against the encoder's width, heads and token count.
fn validate_attention(
    spec: &AttentionSpec,
    dim: usize,
    num_heads: usize,
    tokens: usize,
) -> Result<(), InvalidModel> {
    match spec {
        AttentionSpec::Softmax => Ok(()),
        AttentionSpec::Convnn(options) => ConvNnAttention::validate(options, dim, num_heads, tokens)
            .or_else(|(key, message, hint)| invalid(&format!("attention.convnn.{key}"), message, hint)),
    }
}

fn validate_value_transform(key: &str, spec: &ValueTransformSpec) -> Result<(), InvalidModel> {
    if spec.sign != 1.0 && spec.sign != -1.0 {
        return invalid(
            &format!("{key}.sign"),
            format!("`sign` must be 1 or -1, got {}", spec.sign),
            "write `sign: 1` or `sign: -1`",
        );
    }
    if !spec.alpha.is_finite() {
        return invalid(
            &format!("{key}.alpha"),
            format!("`alpha` must be a finite number, got {}", spec.alpha),
            "e.g. `alpha: 0.5`",
        );
    }
    Ok(())
}

/// Size of the embedding: `code_size`, or the encoder's pooled feature size.
pub fn embedding_dim(spec: &ModelSpec, input_shape: [usize; 3]) -> usize {
    spec.code_size.unwrap_or_else(|| match &spec.encoder {
        EncoderSpec::Vit(o) => o.hidden_dim,
        EncoderSpec::Resnet18 {} => ResNet18::FEATURES,
        EncoderSpec::Conv(o) => ConvEncoder::features(o, input_shape),
        EncoderSpec::Cct(o) => o.architecture().map_or(0, |a| a.embedding_dim),
    })
}

/// Trainable parameters of the model [`Model::new`] would build, without building it.
pub fn count_params(spec: &ModelSpec, input_shape: [usize; 3]) -> Result<usize, InvalidModel> {
    validate(spec, input_shape)?;
    let code_size = spec.code_size;
    let encoder = match &spec.encoder {
        EncoderSpec::Vit(o) => VisionTransformer::count_params(o, input_shape[0], code_size),
        EncoderSpec::Resnet18 {} => ResNet18::count_params(input_shape[0], code_size),
        EncoderSpec::Conv(o) => ConvEncoder::count_params(o, input_shape, code_size),
        EncoderSpec::Cct(o) => Cct::count_params(o, &cct_architecture(o)?, input_shape, code_size),
    };
    let head = embedding_dim(spec, input_shape) * spec.classes + spec.classes;
    Ok(encoder + head)
}
