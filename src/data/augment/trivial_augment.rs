//! torchvision's `TrivialAugmentWide`: one uniformly drawn op from 14, applied at a
//! uniformly drawn magnitude bin with a random sign for the signed ops.

use rand::RngExt;

use super::ops::{self, Shape};

/// The 14 ops, in the order of torchvision's `_augmentation_space`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Identity,
    ShearX,
    ShearY,
    TranslateX,
    TranslateY,
    Rotate,
    Brightness,
    Color,
    Contrast,
    Sharpness,
    Posterize,
    Solarize,
    AutoContrast,
    Equalize,
}

impl Op {
    /// All ops, in torchvision's order (the op index drawn indexes this).
    pub const ALL: [Op; 14] = [
        Op::Identity,
        Op::ShearX,
        Op::ShearY,
        Op::TranslateX,
        Op::TranslateY,
        Op::Rotate,
        Op::Brightness,
        Op::Color,
        Op::Contrast,
        Op::Sharpness,
        Op::Posterize,
        Op::Solarize,
        Op::AutoContrast,
        Op::Equalize,
    ];

    /// torchvision's name of the op.
    pub fn name(self) -> &'static str {
        match self {
            Op::Identity => "Identity",
            Op::ShearX => "ShearX",
            Op::ShearY => "ShearY",
            Op::TranslateX => "TranslateX",
            Op::TranslateY => "TranslateY",
            Op::Rotate => "Rotate",
            Op::Brightness => "Brightness",
            Op::Color => "Color",
            Op::Contrast => "Contrast",
            Op::Sharpness => "Sharpness",
            Op::Posterize => "Posterize",
            Op::Solarize => "Solarize",
            Op::AutoContrast => "AutoContrast",
            Op::Equalize => "Equalize",
        }
    }

    /// Whether a magnitude gets a random sign.
    fn signed(self) -> bool {
        matches!(
            self,
            Op::ShearX
                | Op::ShearY
                | Op::TranslateX
                | Op::TranslateY
                | Op::Rotate
                | Op::Brightness
                | Op::Color
                | Op::Contrast
                | Op::Sharpness
        )
    }

    /// The op's magnitude of each bin (as torchvision's float32 tables, widened to f64),
    /// or `None` for the ops without a magnitude.
    pub fn magnitudes(self, bins: usize) -> Option<Vec<f64>> {
        match self {
            Op::ShearX | Op::ShearY | Op::Brightness | Op::Color | Op::Contrast | Op::Sharpness => {
                Some(linspace_f32(0.0, 0.99, bins))
            }
            Op::TranslateX | Op::TranslateY => Some(linspace_f32(0.0, 32.0, bins)),
            Op::Rotate => Some(linspace_f32(0.0, 135.0, bins)),
            // 8 - (arange(bins) / ((bins - 1) / 6)).round().int()
            Op::Posterize => {
                let divisor = ((bins as f64 - 1.0) / 6.0) as f32;
                Some((0..bins).map(|i| 8.0 - (i as f32 / divisor).round_ties_even() as f64).collect())
            }
            Op::Solarize => Some(linspace_f32(255.0, 0.0, bins)),
            Op::Identity | Op::AutoContrast | Op::Equalize => None,
        }
    }
}

/// `torch.linspace(start, end, steps)` in float32: torch's CPU kernel fills the first half
/// as `start + step * i` and the second half as `end - step * (steps - 1 - i)`, and its
/// build fuses each into one multiply-add (checked against torch 2.9: a separate multiply
/// and add is one ulp off in some bins).
fn linspace_f32(start: f32, end: f32, steps: usize) -> Vec<f64> {
    let step = (end - start) / (steps - 1) as f32;
    let halfway = steps / 2;
    (0..steps)
        .map(|i| {
            if i < halfway {
                step.mul_add(i as f32, start)
            } else {
                (-step).mul_add((steps - 1 - i) as f32, end)
            }
        })
        .map(f64::from)
        .collect()
}

/// `_apply_op(img, op, magnitude)` with nearest interpolation and fill 0.
pub fn apply_op(img: &mut [u8], shape: Shape, op: Op, magnitude: f64) {
    let [_, height, width] = shape;
    let degrees = |x: f64| x * (180.0 / std::f64::consts::PI);
    // F.affine with center=[0, 0] (the top-left corner), in coordinates centred on the image.
    let corner = [-0.5 * width as f64, -0.5 * height as f64];
    match op {
        Op::Identity => {}
        Op::ShearX => {
            let matrix =
                ops::inverse_affine_matrix(corner, 0.0, [0.0, 0.0], [degrees(magnitude.atan()), 0.0]);
            ops::affine_nearest(img, shape, matrix);
        }
        Op::ShearY => {
            let matrix =
                ops::inverse_affine_matrix(corner, 0.0, [0.0, 0.0], [0.0, degrees(magnitude.atan())]);
            ops::affine_nearest(img, shape, matrix);
        }
        // translate=[int(magnitude), 0]: Python's int() truncates toward zero.
        Op::TranslateX => {
            let matrix = ops::inverse_affine_matrix([0.0, 0.0], 0.0, [magnitude.trunc(), 0.0], [0.0, 0.0]);
            ops::affine_nearest(img, shape, matrix);
        }
        Op::TranslateY => {
            let matrix = ops::inverse_affine_matrix([0.0, 0.0], 0.0, [0.0, magnitude.trunc()], [0.0, 0.0]);
            ops::affine_nearest(img, shape, matrix);
        }
        // F.rotate passes -angle to the matrix (its angle runs counter-clockwise).
        Op::Rotate => {
            let matrix = ops::inverse_affine_matrix([0.0, 0.0], -magnitude, [0.0, 0.0], [0.0, 0.0]);
            ops::affine_nearest(img, shape, matrix);
        }
        Op::Brightness => ops::brightness(img, 1.0 + magnitude),
        Op::Color => ops::saturation(img, shape, 1.0 + magnitude),
        Op::Contrast => ops::contrast(img, shape, 1.0 + magnitude),
        Op::Sharpness => ops::sharpness(img, shape, 1.0 + magnitude),
        Op::Posterize => ops::posterize(img, magnitude as u32),
        Op::Solarize => ops::solarize(img, magnitude),
        Op::AutoContrast => ops::autocontrast(img, shape),
        Op::Equalize => ops::equalize(img, shape),
    }
}

/// A drawn op and its signed magnitude.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Choice {
    pub op: Op,
    pub magnitude: f64,
}

/// `TrivialAugmentWide(num_magnitude_bins)` with precomputed magnitude tables.
#[derive(Debug, Clone, PartialEq)]
pub struct TrivialAugmentWide {
    tables: Vec<Option<Vec<f64>>>,
}

impl TrivialAugmentWide {
    /// Needs at least 2 bins (torchvision's tables divide by `bins - 1`).
    pub fn new(bins: usize) -> Option<TrivialAugmentWide> {
        (bins >= 2)
            .then(|| TrivialAugmentWide { tables: Op::ALL.iter().map(|op| op.magnitudes(bins)).collect() })
    }

    /// Draws like torchvision: op index, then (if the op has magnitudes) a bin, then (if
    /// signed) the sign.
    pub fn choose(&self, rng: &mut impl rand::Rng) -> Choice {
        let index = rng.random_range(0..Op::ALL.len());
        let op = Op::ALL[index];
        let magnitude = match &self.tables[index] {
            Some(table) => table[rng.random_range(0..table.len())],
            None => 0.0,
        };
        let negate = op.signed() && rng.random_bool(0.5);
        Choice { op, magnitude: if negate { -magnitude } else { magnitude } }
    }
}
