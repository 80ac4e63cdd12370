//! `train_input_transforms:` as a pipeline: u8 ops in list order, then scaling to [0, 1],
//! then the optional `normalize`.

pub mod autoaugment;
pub mod ops;
pub mod policy;
pub mod trivial_augment;

use rand::RngExt;

use super::error::DataError;
use crate::config::schema::{AugmentMode, TransformSpec};
use autoaugment::AutoAugment;
use policy::Choice;
use trivial_augment::TrivialAugmentWide;

/// One u8 step of the pipeline.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Policy { policy: Policy, mode: AugmentMode },
    RandomCrop { padding: usize },
    HorizontalFlip { p: f64 },
}

/// A random augmentation policy: draws ops, which the step then applies.
#[derive(Debug, Clone, PartialEq)]
enum Policy {
    TrivialAugmentWide(TrivialAugmentWide),
    AutoAugment(AutoAugment),
}

/// The ops one draw of a policy applies, in order (`None`: nothing).
type Drawn = [Option<Choice>; 2];

impl Policy {
    fn draw(&self, rng: &mut impl rand::Rng) -> Drawn {
        match self {
            Policy::TrivialAugmentWide(augment) => [Some(augment.choose(rng)), None],
            Policy::AutoAugment(augment) => augment.choose(rng).ops,
        }
    }

    /// The policy's transform name, for errors.
    fn name(&self) -> &'static str {
        match self {
            Policy::TrivialAugmentWide(_) => "trivial_augment_wide",
            Policy::AutoAugment(_) => "autoaugment_cifar10",
        }
    }
}

/// Per-channel `(x - mean) / std` on the [0, 1] floats.
#[derive(Debug, Clone, PartialEq)]
struct Normalize {
    mean: Vec<f32>,
    std: Vec<f32>,
}

/// The transforms of a run, checked against the image shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    shape: [usize; 3],
    steps: Vec<Step>,
    normalize: Option<Normalize>,
}

impl Pipeline {
    /// Builds the pipeline of `specs` for images of `shape` (C x H x W). `normalize` must
    /// come last (every other transform works on u8 images) and have one mean and one std
    /// per channel.
    pub fn new(specs: &[TransformSpec], shape: [usize; 3]) -> Result<Pipeline, DataError> {
        let mut pipeline = Pipeline { shape, steps: Vec::new(), normalize: None };
        for (position, spec) in specs.iter().enumerate() {
            if pipeline.normalize.is_some() {
                return Err(DataError::Transform(format!(
                    "entry {} comes after `normalize`, but `normalize` works on floats and must be the last transform",
                    position + 1
                )));
            }
            match spec {
                TransformSpec::TrivialAugmentWide { mode, num_magnitude_bins } => {
                    let augment = TrivialAugmentWide::new(*num_magnitude_bins).ok_or_else(|| {
                        DataError::Transform(format!(
                            "trivial_augment_wide: num_magnitude_bins is {num_magnitude_bins}, it must be at least 2"
                        ))
                    })?;
                    pipeline.push_policy(Policy::TrivialAugmentWide(augment), *mode)?;
                }
                TransformSpec::AutoaugmentCifar10 { mode } => {
                    let augment = AutoAugment::cifar10(shape[1], shape[2]);
                    pipeline.push_policy(Policy::AutoAugment(augment), *mode)?;
                }
                TransformSpec::RandomCrop { padding } => {
                    pipeline.steps.push(Step::RandomCrop { padding: *padding })
                }
                TransformSpec::HorizontalFlip { p } => {
                    if !(0.0..=1.0).contains(p) {
                        return Err(DataError::Transform(format!(
                            "horizontal_flip: p is {p}, it must be in [0, 1]"
                        )));
                    }
                    pipeline.steps.push(Step::HorizontalFlip { p: *p });
                }
                TransformSpec::Normalize { mean, std } => {
                    pipeline.normalize = Some(Normalize::new(mean, std, shape[0])?)
                }
            }
        }
        Ok(pipeline)
    }

    /// Adds a policy step; the policies' ops work on 1- or 3-channel images only.
    fn push_policy(&mut self, policy: Policy, mode: AugmentMode) -> Result<(), DataError> {
        let channels = self.shape[0];
        if channels != 1 && channels != 3 {
            return Err(DataError::Transform(format!(
                "{} works on 1- or 3-channel images, these have {channels}",
                policy.name()
            )));
        }
        self.steps.push(Step::Policy { policy, mode });
        Ok(())
    }

    /// The part of the pipeline that also applies to validation data: only `normalize`,
    /// so the model sees inputs on the same scale.
    pub fn for_validation(&self) -> Pipeline {
        Pipeline { shape: self.shape, steps: Vec::new(), normalize: self.normalize.clone() }
    }

    /// Image shape the pipeline was built for.
    pub fn shape(&self) -> [usize; 3] {
        self.shape
    }

    /// Augments a batch of u8 images in place (`images` holds them one after the other).
    /// All randomness comes from `rng`: per-batch choices first, then each image in order.
    pub fn augment(&self, images: &mut [u8], rng: &mut impl rand::Rng) {
        let size: usize = self.shape.iter().product();
        let batch_choices: Vec<Option<Drawn>> = self
            .steps
            .iter()
            .map(|step| match step {
                Step::Policy { policy, mode: AugmentMode::PerBatch } => Some(policy.draw(rng)),
                _ => None,
            })
            .collect();
        for image in images.chunks_exact_mut(size) {
            for (step, batch_choice) in self.steps.iter().zip(&batch_choices) {
                self.apply_step(step, *batch_choice, image, rng);
            }
        }
    }

    fn apply_step(
        &self,
        step: &Step,
        batch_choice: Option<Drawn>,
        image: &mut [u8],
        rng: &mut impl rand::Rng,
    ) {
        match step {
            Step::Policy { policy, .. } => {
                let drawn = batch_choice.unwrap_or_else(|| policy.draw(rng));
                drawn.iter().flatten().for_each(|choice| choice.apply(image, self.shape));
            }
            Step::RandomCrop { padding } => {
                let top = rng.random_range(0..=2 * padding);
                let left = rng.random_range(0..=2 * padding);
                ops::padded_crop(image, self.shape, *padding, top, left);
            }
            Step::HorizontalFlip { p } => {
                if rng.random_bool(*p) {
                    ops::horizontal_flip(image, self.shape);
                }
            }
        }
    }

    /// Scales u8 pixels to [0, 1] floats (`x / 255`) and applies `normalize`, if any.
    pub fn to_float(&self, images: &[u8], out: &mut Vec<f32>) {
        let plane = self.shape[1] * self.shape[2];
        out.reserve(images.len());
        for (index, channel) in images.chunks_exact(plane).enumerate() {
            let scaled = channel.iter().map(|&p| p as f32 / 255.0);
            match &self.normalize {
                Some(n) => {
                    let c = index % self.shape[0];
                    let (mean, std) = (n.mean[c], n.std[c]);
                    out.extend(scaled.map(|x| (x - mean) / std));
                }
                None => out.extend(scaled),
            }
        }
    }
}

impl Normalize {
    fn new(mean: &[f64], std: &[f64], channels: usize) -> Result<Normalize, DataError> {
        if mean.len() != channels || std.len() != channels {
            return Err(DataError::Transform(format!(
                "normalize: mean has {} and std {} values, the images have {channels} channels (give one per channel)",
                mean.len(),
                std.len()
            )));
        }
        if let Some(bad) = std.iter().find(|s| s.is_nan() || **s <= 0.0 || s.is_infinite()) {
            return Err(DataError::Transform(format!("normalize: std {bad} must be a positive number")));
        }
        Ok(Normalize {
            mean: mean.iter().map(|&m| m as f32).collect(),
            std: std.iter().map(|&s| s as f32).collect(),
        })
    }
}
