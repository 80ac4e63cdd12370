//! What torchvision's automatic augmentations (`transforms/autoaugment.py`) share: the ops
//! (`_apply_op`), their magnitude tables (`_augmentation_space`) and the random sign.
//! `trivial_augment` and `autoaugment` draw from them.

use rand::RngExt;

use super::ops::{self, Shape};

/// The ops of `_apply_op`, in the order of TrivialAugmentWide's `_augmentation_space`, then
/// `Invert` (AutoAugment only).
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
    Invert,
}

impl Op {
    /// Every op, in the order above (TrivialAugmentWide's are the first 14).
    pub const ALL: [Op; 15] = [
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
        Op::Invert,
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
            Op::Invert => "Invert",
        }
    }

    /// The op called `name` by torchvision.
    pub fn named(name: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|op| op.name() == name)
    }

    /// Whether a magnitude gets a random sign (the same ops in every policy).
    pub fn signed(self) -> bool {
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

    /// Draws whether the magnitude is negated: a fair coin for the signed ops; the other
    /// ops draw nothing.
    pub fn draw_negation(self, rng: &mut impl rand::Rng) -> bool {
        self.signed() && rng.random_bool(0.5)
    }
}

/// The maxima of a policy's magnitude tables (its `_augmentation_space`). Each table runs
/// from 0 to its maximum in `bins` steps, except posterize (from 8 bits down to
/// `8 - posterize_bits`) and solarize (from 255 down to 0).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Space {
    pub shear: f32,
    /// TranslateX's and TranslateY's maximum, in pixels.
    pub translate: [f32; 2],
    /// In degrees.
    pub rotate: f32,
    /// Brightness, color, contrast and sharpness.
    pub enhance: f32,
    pub posterize_bits: u32,
}

impl Space {
    /// TrivialAugmentWide's.
    pub const WIDE: Space =
        Space { shear: 0.99, translate: [32.0, 32.0], rotate: 135.0, enhance: 0.99, posterize_bits: 6 };

    /// AutoAugment's (and RandAugment's) for images of `height` x `width`: translations go up
    /// to 150/331 of the width (x) and height (y).
    pub fn autoaugment(height: usize, width: usize) -> Space {
        let fraction = |size: usize| (150.0 / 331.0 * size as f64) as f32;
        Space {
            shear: 0.3,
            translate: [fraction(width), fraction(height)],
            rotate: 30.0,
            enhance: 0.9,
            posterize_bits: 4,
        }
    }

    /// The magnitude of each of `bins` bins of `op` (as torchvision's float32 tables,
    /// widened to f64), or `None` for the ops without a magnitude. `bins` must be at least 2.
    pub fn magnitudes(&self, op: Op, bins: usize) -> Option<Vec<f64>> {
        match op {
            Op::ShearX | Op::ShearY => Some(linspace_f32(0.0, self.shear, bins)),
            Op::TranslateX => Some(linspace_f32(0.0, self.translate[0], bins)),
            Op::TranslateY => Some(linspace_f32(0.0, self.translate[1], bins)),
            Op::Rotate => Some(linspace_f32(0.0, self.rotate, bins)),
            Op::Brightness | Op::Color | Op::Contrast | Op::Sharpness => {
                Some(linspace_f32(0.0, self.enhance, bins))
            }
            // 8 - (arange(bins) / ((bins - 1) / posterize_bits)).round().int()
            Op::Posterize => {
                let divisor = ((bins as f64 - 1.0) / self.posterize_bits as f64) as f32;
                Some((0..bins).map(|i| 8.0 - (i as f32 / divisor).round_ties_even() as f64).collect())
            }
            Op::Solarize => Some(linspace_f32(255.0, 0.0, bins)),
            Op::Identity | Op::AutoContrast | Op::Equalize | Op::Invert => None,
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
        Op::Invert => ops::invert(img),
    }
}

/// An op with its signed magnitude, ready to apply.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Choice {
    pub op: Op,
    pub magnitude: f64,
}

impl Choice {
    /// `op` at `magnitude`, negated when `negate` is set and the op is signed (as
    /// torchvision ignores the sign of the other ops).
    pub fn new(op: Op, magnitude: f64, negate: bool) -> Choice {
        Choice { op, magnitude: if negate && op.signed() { -magnitude } else { magnitude } }
    }

    /// Applies the op to `img`.
    pub fn apply(&self, img: &mut [u8], shape: Shape) {
        apply_op(img, shape, self.op, self.magnitude);
    }
}
