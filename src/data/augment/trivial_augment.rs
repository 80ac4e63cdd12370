//! torchvision's `TrivialAugmentWide`: one uniformly drawn op from 14, applied at a
//! uniformly drawn magnitude bin with a random sign for the signed ops.

use rand::RngExt;

use super::policy::{Choice, Op, Space};

/// TrivialAugmentWide's 14 ops, in the order of its `_augmentation_space` (the op index
/// drawn indexes this): every op but the last, `Invert`.
pub const OPS: &[Op] = Op::ALL.split_at(14).0;

/// `TrivialAugmentWide(num_magnitude_bins)` with precomputed magnitude tables.
#[derive(Debug, Clone, PartialEq)]
pub struct TrivialAugmentWide {
    /// One per op of `OPS`.
    tables: Vec<Option<Vec<f64>>>,
}

impl TrivialAugmentWide {
    /// Needs at least 2 bins (torchvision's tables divide by `bins - 1`).
    pub fn new(bins: usize) -> Option<TrivialAugmentWide> {
        (bins >= 2).then(|| TrivialAugmentWide {
            tables: OPS.iter().map(|&op| Space::WIDE.magnitudes(op, bins)).collect(),
        })
    }

    /// Draws like torchvision: op index, then (if the op has magnitudes) a bin, then (if
    /// signed) the sign.
    pub fn choose(&self, rng: &mut impl rand::Rng) -> Choice {
        let index = rng.random_range(0..OPS.len());
        let op = OPS[index];
        let magnitude = match &self.tables[index] {
            Some(table) => table[rng.random_range(0..table.len())],
            None => 0.0,
        };
        Choice::new(op, magnitude, op.draw_negation(rng))
    }
}
