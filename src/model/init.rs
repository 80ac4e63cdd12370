//! Initialisers torchvision uses that burn's [`Initializer`] cannot express directly:
//!
//! - a truncated normal (`torch.nn.init.trunc_normal_`, ViT's patch projection);
//! - Linear layers whose weight and bias use different initialisers (ViT's MLP and
//!   attention): burn's `LinearConfig` applies one initializer to both.

use burn::module::{Initializer, Param};
use burn::nn::Linear;
use burn::tensor::{Device, Distribution, Shape, Tensor};

/// A `Linear(d_input, d_output)` with its own initialiser for the weight and for the bias.
/// Fans are PyTorch's: `fan_in = d_input`, `fan_out = d_output`.
pub fn linear(
    d_input: usize,
    d_output: usize,
    weight: Initializer,
    bias: Initializer,
    device: &Device,
) -> Linear {
    Linear {
        weight: weight.init_with([d_input, d_output], Some(d_input), Some(d_output), device),
        bias: Some(bias.init_with([d_output], Some(d_input), Some(d_output), device)),
    }
}

/// `torch.nn.init.trunc_normal_(w, mean=0, std=std, a=-2, b=2)`: normal draws outside the
/// absolute bounds [-2, 2] are redrawn until none is left.
pub fn trunc_normal<const D: usize>(shape: impl Into<Shape>, std: f64, device: &Device) -> Param<Tensor<D>> {
    const BOUND: f64 = 2.0;
    let shape = shape.into();
    let draw = || Tensor::<D>::random(shape.clone(), Distribution::Normal(0.0, std), device);
    let mut tensor = draw();
    loop {
        let outside = tensor.clone().abs().greater_elem(BOUND);
        if !outside.clone().any().into_scalar::<bool>() {
            return Param::from_tensor(tensor);
        }
        tensor = tensor.mask_where(outside, draw());
    }
}

/// Compact-Transformers' Linear init: `trunc_normal_(weight, std=std)`, bias 0 (if any).
pub fn linear_trunc_normal(d_input: usize, d_output: usize, std: f64, bias: bool, device: &Device) -> Linear {
    Linear {
        weight: trunc_normal([d_input, d_output], std, device),
        bias: bias.then(|| Initializer::Zeros.init([d_output], device)),
    }
}
