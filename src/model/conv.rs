//! nn-experiments' `EncoderConv2d`: Conv2d + ReLU (+ Dropout) per entry of `channels`,
//! flatten, `Linear(flat, code_size)`. PyTorch's default Conv2d/Linear initialisation
//! (`U(-1/sqrt(fan_in), 1/sqrt(fan_in))` for weights and biases), which is burn's default.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

pub use crate::config::schema::ConvOptions;

impl ConvOptions {
    /// Output `[C, H, W]` of the conv stack for an input shape, or an error if a feature
    /// map would become empty.
    pub fn output_shape(&self, [c, h, w]: [usize; 3]) -> Result<[usize; 3], String> {
        let (k, s, p) = (self.kernel_size, self.stride, self.padding);
        let side = |x: usize| (x + 2 * p).checked_sub(k).map(|x| x / s + 1);
        let mut shape = [c, h, w];
        for (i, &channels) in self.channels.iter().enumerate() {
            match (side(shape[1]), side(shape[2])) {
                (Some(h), Some(w)) => shape = [channels, h, w],
                _ => {
                    return Err(format!(
                        "conv layer {i} (kernel {k}, padding {p}) does not fit its {}x{} input",
                        shape[1], shape[2]
                    ));
                }
            }
        }
        Ok(shape)
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
        let flat = Self::features(options, input_shape);
        Self {
            layers,
            dropout: DropoutConfig::new(options.dropout).init(),
            linear: code_size.map(|c| LinearConfig::new(flat, c).init(device)),
        }
    }

    /// Flattened conv output size (`linear.in_features`).
    pub fn features(options: &ConvOptions, input_shape: [usize; 3]) -> usize {
        let shape = options.output_shape(input_shape).expect("conv options were validated");
        shape.iter().product()
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

    /// Trainable parameters, closed form (must equal `num_params` of the built module).
    pub fn count_params(options: &ConvOptions, input_shape: [usize; 3], code_size: Option<usize>) -> usize {
        let k2 = options.kernel_size.pow(2);
        let c_in = std::iter::once(input_shape[0]).chain(options.channels.iter().copied());
        let convs: usize = c_in.zip(&options.channels).map(|(i, &o)| i * o * k2 + o).sum();
        let flat = Self::features(options, input_shape);
        convs + code_size.map_or(0, |c| flat * c + c)
    }
}
