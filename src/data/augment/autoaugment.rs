//! torchvision's `AutoAugment(AutoAugmentPolicy.CIFAR10)`: one uniformly drawn sub-policy
//! of 25, whose two ops each apply with their own probability, at a fixed magnitude bin
//! (of 10) with a random sign for the signed ops.

use rand::RngExt;

use super::policy::{Choice, Op, Space};

/// One op of a sub-policy as torchvision lists it: the op, the probability that it
/// applies and its magnitude bin (`None` for the ops without a magnitude).
pub type PolicyOp = (Op, f64, Option<usize>);

/// torchvision's `AutoAugmentPolicy.CIFAR10`, in its order (the drawn index indexes this).
pub const CIFAR10: [[PolicyOp; 2]; 25] = [
    [(Op::Invert, 0.1, None), (Op::Contrast, 0.2, Some(6))],
    [(Op::Rotate, 0.7, Some(2)), (Op::TranslateX, 0.3, Some(9))],
    [(Op::Sharpness, 0.8, Some(1)), (Op::Sharpness, 0.9, Some(3))],
    [(Op::ShearY, 0.5, Some(8)), (Op::TranslateY, 0.7, Some(9))],
    [(Op::AutoContrast, 0.5, None), (Op::Equalize, 0.9, None)],
    [(Op::ShearY, 0.2, Some(7)), (Op::Posterize, 0.3, Some(7))],
    [(Op::Color, 0.4, Some(3)), (Op::Brightness, 0.6, Some(7))],
    [(Op::Sharpness, 0.3, Some(9)), (Op::Brightness, 0.7, Some(9))],
    [(Op::Equalize, 0.6, None), (Op::Equalize, 0.5, None)],
    [(Op::Contrast, 0.6, Some(7)), (Op::Sharpness, 0.6, Some(5))],
    [(Op::Color, 0.7, Some(7)), (Op::TranslateX, 0.5, Some(8))],
    [(Op::Equalize, 0.3, None), (Op::AutoContrast, 0.4, None)],
    [(Op::TranslateY, 0.4, Some(3)), (Op::Sharpness, 0.2, Some(6))],
    [(Op::Brightness, 0.9, Some(6)), (Op::Color, 0.2, Some(8))],
    [(Op::Solarize, 0.5, Some(2)), (Op::Invert, 0.0, None)],
    [(Op::Equalize, 0.2, None), (Op::AutoContrast, 0.6, None)],
    [(Op::Equalize, 0.2, None), (Op::Equalize, 0.6, None)],
    [(Op::Color, 0.9, Some(9)), (Op::Equalize, 0.6, None)],
    [(Op::AutoContrast, 0.8, None), (Op::Solarize, 0.2, Some(8))],
    [(Op::Brightness, 0.1, Some(3)), (Op::Color, 0.7, Some(0))],
    [(Op::Solarize, 0.4, Some(5)), (Op::AutoContrast, 0.9, None)],
    [(Op::TranslateY, 0.9, Some(9)), (Op::TranslateY, 0.7, Some(9))],
    [(Op::AutoContrast, 0.9, None), (Op::Solarize, 0.8, Some(3))],
    [(Op::Equalize, 0.8, None), (Op::Invert, 0.1, None)],
    [(Op::TranslateY, 0.7, Some(9)), (Op::AutoContrast, 0.9, None)],
];

/// A sub-policy op with its magnitude looked up.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Resolved {
    op: Op,
    probability: f64,
    magnitude: f64,
}

/// A drawn sub-policy and what it applies.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SubPolicyChoice {
    /// Index into `CIFAR10`.
    pub index: usize,
    /// The sub-policy's two ops in order; `None` where the op's probability skipped it.
    pub ops: [Option<Choice>; 2],
}

/// `AutoAugment(AutoAugmentPolicy.CIFAR10)` for images of one size (the translations
/// depend on it), with the magnitudes looked up.
#[derive(Debug, Clone, PartialEq)]
pub struct AutoAugment {
    sub_policies: Vec<[Resolved; 2]>,
}

impl AutoAugment {
    /// Bins of the magnitude tables (`_augmentation_space(10, (height, width))`).
    pub const BINS: usize = 10;

    /// The CIFAR10 policy for images of `height` x `width`.
    pub fn cifar10(height: usize, width: usize) -> AutoAugment {
        let space = Space::autoaugment(height, width);
        let resolve = |(op, probability, bin): PolicyOp| {
            let table = space.magnitudes(op, Self::BINS);
            let magnitude = bin.zip(table).map_or(0.0, |(bin, table)| table[bin]);
            Resolved { op, probability, magnitude }
        };
        AutoAugment { sub_policies: CIFAR10.iter().map(|pair| pair.map(resolve)).collect() }
    }

    /// Draws a sub-policy uniformly, then whether each of its ops applies (with the op's
    /// probability), then the sign of each applied signed op.
    pub fn choose(&self, rng: &mut impl rand::Rng) -> SubPolicyChoice {
        let index = rng.random_range(0..self.sub_policies.len());
        let pair = &self.sub_policies[index];
        let applied = pair.map(|op| rng.random_bool(op.probability));
        let negate = [0, 1].map(|i| applied[i] && pair[i].op.draw_negation(rng));
        SubPolicyChoice { index, ops: Self::choices(pair, applied, negate) }
    }

    /// What sub-policy `index` applies when its ops apply as `applied` says, with the
    /// signed ones negated where `negate` says (the other ops ignore it); `None` for an
    /// index beyond the 25 sub-policies.
    pub fn sub_policy(&self, index: usize, applied: [bool; 2], negate: [bool; 2]) -> Option<SubPolicyChoice> {
        let pair = self.sub_policies.get(index)?;
        Some(SubPolicyChoice { index, ops: Self::choices(pair, applied, negate) })
    }

    fn choices(pair: &[Resolved; 2], applied: [bool; 2], negate: [bool; 2]) -> [Option<Choice>; 2] {
        [0, 1].map(|i| applied[i].then(|| Choice::new(pair[i].op, pair[i].magnitude, negate[i])))
    }
}
