//! nn-experiments' `EncoderConv2d`: Conv2d + ReLU (+ Dropout) per entry of `channels`,
//! flatten, `Linear(flat, code_size)`. PyTorch's default Conv2d/Linear initialisation
//! (`U(-1/sqrt(fan_in), 1/sqrt(fan_in))` for weights and biases), which is burn's default.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

use serde::{Deserialize, Serialize};

use super::options::{EncoderOptions, InvalidModel, invalid, positive, probability};

/// `encoder: conv`: nn-experiments' `EncoderConv2d` arguments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConvOptions {
    pub channels: Vec<usize>,
    pub kernel_size: usize,
    pub stride: usize,
    pub padding: usize,
    pub dropout: f64,
}

/// nn-experiments' defaults, also what an omitted key takes.
impl Default for ConvOptions {
    fn default() -> Self {
        ConvOptions { channels: vec![32, 32, 32], kernel_size: 3, stride: 1, padding: 0, dropout: 0.0 }
    }
}

impl ConvOptions {
    /// Output `[C, H, W]` of the conv stack for an input shape, or an error if a feature
    /// map would become empty.
    pub fn output_shape(&self, [c, h, w]: [usize; 3]) -> Result<[usize; 3], InvalidModel> {
        let (k, s, p) = (self.kernel_size, self.stride, self.padding);
        let side = |x: usize| (x + 2 * p).checked_sub(k).map(|x| x / s + 1);
        let mut shape = [c, h, w];
        for (i, &channels) in self.channels.iter().enumerate() {
            match (side(shape[1]), side(shape[2])) {
                (Some(h), Some(w)) => shape = [channels, h, w],
                _ => {
                    return Err(InvalidModel {
                        key: "channels".to_string(),
                        message: format!(
                            "conv layer {i} (kernel {k}, padding {p}) does not fit its {}x{} input",
                            shape[1], shape[2]
                        ),
                        hint: "use fewer layers, a smaller kernel_size or stride, or padding",
                    });
                }
            }
        }
        Ok(shape)
    }
}

impl EncoderOptions for ConvOptions {
    fn validate(&self, input_shape: [usize; 3]) -> Result<(), InvalidModel> {
        if self.channels.is_empty() {
            return invalid(
                "channels",
                "`channels` must not be empty".into(),
                "e.g. `channels: [32, 32, 32]`",
            );
        }
        for (i, &channels) in self.channels.iter().enumerate() {
            positive(&format!("channels[{i}]"), channels)?;
        }
        positive("kernel_size", self.kernel_size)?;
        positive("stride", self.stride)?;
        probability("dropout", self.dropout)?;
        self.output_shape(input_shape).map(|_| ())
    }

    /// The flattened conv output (`linear.in_features`).
    fn embedding_dim(&self, input_shape: [usize; 3]) -> usize {
        let shape = self.output_shape(input_shape).expect("conv options were validated");
        shape.iter().product()
    }

    fn count_params(&self, input_shape: [usize; 3], code_size: Option<usize>) -> usize {
        let k2 = self.kernel_size.pow(2);
        let c_in = std::iter::once(input_shape[0]).chain(self.channels.iter().copied());
        let convs: usize = c_in.zip(&self.channels).map(|(i, &o)| i * o * k2 + o).sum();
        let flat = self.embedding_dim(input_shape);
        convs + code_size.map_or(0, |c| flat * c + c)
    }
}

/// The conv stack (`layers`, nn-experiments' `convolution.layers`) and the code layer.
#[derive(Module, Debug)]
pub struct ConvEncoder {
    pub layers: Vec<Conv2d>,
    pub dropout: Dropout,
    pub linear: Option<Linear>,
}

impl ConvEncoder {
    /// Builds the encoder for `input_shape` (must satisfy [`ConvOptions::output_shape`]).
    pub fn new(
        options: &ConvOptions,
        input_shape: [usize; 3],
        code_size: Option<usize>,
        device: &Device,
    ) -> Self {
        let (k, s, p) = (options.kernel_size, options.stride, options.padding);
        let c_in = std::iter::once(input_shape[0]).chain(options.channels.iter().copied());
        let layers = c_in
            .zip(&options.channels)
            .map(|(c_in, &c_out)| {
                Conv2dConfig::new([c_in, c_out], [k, k])
                    .with_stride([s, s])
                    .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
                    .init(device)
            })
            .collect();
        let flat = options.embedding_dim(input_shape);
        Self {
            layers,
            dropout: DropoutConfig::new(options.dropout).init(),
            linear: code_size.map(|c| LinearConfig::new(flat, c).init(device)),
        }
    }

    /// `[batch, C, H, W]` -> `[batch, code_size or flat]`.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let x = self.layers.iter().fold(images, |x, conv| self.dropout.forward(relu(conv.forward(x))));
        let x = x.flatten::<2>(1, 3);
        match &self.linear {
            Some(linear) => linear.forward(x),
            None => x,
        }
    }
}
