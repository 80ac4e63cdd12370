//! TrivialAugmentWide ops against torchvision's own outputs
//! (`tests/fixtures/augment/trivial_augment.json`, made by `make_augment_fixtures.py`),
//! plus the pipeline's behaviour: seeding, per-batch vs per-sample, crop, flip, normalize.

use std::collections::BTreeMap;

use expgrid::config::schema::{AugmentMode, TransformSpec};
use expgrid::data::augment::policy::{Op, Space, apply_op};
use expgrid::data::augment::trivial_augment::OPS;
use expgrid::data::augment::{Pipeline, ops};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

fn fixtures() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/augment/trivial_augment.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture file")).expect("fixture JSON")
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex")).collect()
}

fn op_named(name: &str) -> Op {
    Op::named(name).unwrap_or_else(|| panic!("unknown op {name}"))
}

#[test]
fn magnitude_tables_match_torchvision() {
    let data = fixtures();
    for (bins, tables) in data["tables"].as_object().unwrap() {
        let bins: usize = bins.parse().unwrap();
        for (name, expected) in tables.as_object().unwrap() {
            let expected: Vec<f64> =
                expected.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
            let ours = Space::WIDE.magnitudes(op_named(name), bins).unwrap();
            assert_eq!(ours, expected, "{name} with {bins} bins");
        }
    }
}

/// The affine ops sample a float32 grid; torch computes it with a matrix product whose
/// rounding can differ in the last bit, which can move a pixel exactly on a rounding
/// boundary to its neighbour. Everything else must match exactly.
fn is_affine(op: Op) -> bool {
    matches!(op, Op::ShearX | Op::ShearY | Op::TranslateX | Op::TranslateY | Op::Rotate)
}

#[test]
fn all_14_ops_match_torchvision() {
    let data = fixtures();
    let images: Vec<(Vec<usize>, Vec<u8>)> = data["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|img| {
            let shape =
                img["shape"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect();
            (shape, unhex(img["pixels"].as_str().unwrap()))
        })
        .collect();
    let table = |op: Op| Space::WIDE.magnitudes(op, 31);
    // op -> (cases, differing pixels, pixels, max abs difference)
    let mut stats: BTreeMap<&str, (usize, usize, usize, u8)> = BTreeMap::new();
    // The ops in the order the fixture (torchvision's `_augmentation_space`) lists them.
    let mut seen = Vec::new();
    for case in data["cases"].as_array().unwrap() {
        let op = op_named(case["op"].as_str().unwrap());
        if !seen.contains(&op) {
            seen.push(op);
        }
        let (shape, pixels) = &images[case["image"].as_u64().unwrap() as usize];
        let shape = [shape[0], shape[1], shape[2]];
        let magnitude = match (table(op), case["bin"].as_u64()) {
            (Some(t), Some(bin)) => t[bin as usize] * case["sign"].as_f64().unwrap(),
            _ => 0.0,
        };
        assert_eq!(magnitude, case["magnitude"].as_f64().unwrap(), "magnitude of {case}");
        let mut ours = pixels.clone();
        apply_op(&mut ours, shape, op, magnitude);
        let expected = unhex(case["output"].as_str().unwrap());
        let entry = stats.entry(op.name()).or_default();
        entry.0 += 1;
        entry.2 += ours.len();
        for (a, b) in ours.iter().zip(&expected) {
            if a != b {
                entry.1 += 1;
                entry.3 = entry.3.max(a.abs_diff(*b));
            }
        }
        if !is_affine(op) {
            assert_eq!(ours, expected, "{} magnitude {magnitude} on image {}", op.name(), case["image"]);
        }
    }
    assert_eq!(seen, OPS, "every op has fixtures, in the order TrivialAugmentWide draws them");
    for (name, (cases, differing, total, max)) in &stats {
        println!("{name:>12}: {cases:3} cases, {differing:5} of {total:6} pixels differ, max abs diff {max}");
    }
    for (name, (_, differing, total, _)) in &stats {
        assert!(*differing * 100 < *total, "{name}: {differing} of {total} pixels differ (bound: under 1%)");
    }
}

fn trivial(mode: AugmentMode) -> TransformSpec {
    TransformSpec::TrivialAugmentWide { mode, num_magnitude_bins: 31 }
}

/// A 3x28x28 image with some structure, and `count` copies of it.
fn copies(count: usize) -> Vec<u8> {
    let one: Vec<u8> = (0..3 * 28 * 28).map(|i| ((i * 37) % 251) as u8 ^ ((i / 28) as u8)).collect();
    one.repeat(count)
}

fn distinct_images(images: &[u8], size: usize) -> usize {
    let mut set: Vec<&[u8]> = images.chunks_exact(size).collect();
    set.sort();
    set.dedup();
    set.len()
}

#[test]
fn same_seed_gives_the_same_augmented_batch() {
    let specs = [
        trivial(AugmentMode::PerSample),
        TransformSpec::RandomCrop { padding: 4 },
        TransformSpec::HorizontalFlip { p: 0.5 },
    ];
    let pipeline = Pipeline::new(&specs, [3, 28, 28]).unwrap();
    let run = |seed| {
        let mut images = copies(16);
        pipeline.augment(&mut images, &mut ChaCha8Rng::seed_from_u64(seed));
        images
    };
    assert_eq!(run(7), run(7));
    assert_ne!(run(7), run(8));
}

#[test]
fn per_batch_applies_one_op_to_the_whole_batch() {
    let pipeline = Pipeline::new(&[trivial(AugmentMode::PerBatch)], [3, 28, 28]).unwrap();
    let original = copies(1);
    let mut changed_batches = 0;
    for seed in 0..20 {
        let mut images = copies(8);
        pipeline.augment(&mut images, &mut ChaCha8Rng::seed_from_u64(seed));
        assert_eq!(distinct_images(&images, original.len()), 1, "seed {seed}: identical inputs, one op");
        changed_batches += usize::from(images[..original.len()] != original[..]);
    }
    assert!(changed_batches > 10, "the batches were augmented ({changed_batches} of 20 changed)");
}

#[test]
fn per_sample_draws_an_op_per_image() {
    let pipeline = Pipeline::new(&[trivial(AugmentMode::PerSample)], [3, 28, 28]).unwrap();
    let mut images = copies(32);
    pipeline.augment(&mut images, &mut ChaCha8Rng::seed_from_u64(3));
    assert!(distinct_images(&images, 3 * 28 * 28) > 16, "identical inputs got different ops");
}

/// torchvision's output for a channel spanning 7 grey levels, where one float32 division
/// `255 / 7` (instead of torch's reciprocal, then multiply) would give 254 for the maximum.
#[test]
fn autocontrast_scales_like_torch() {
    let mut img: Vec<u8> = (10..18).collect();
    ops::autocontrast(&mut img, [1, 1, 8]);
    assert_eq!(img, vec![0, 36, 72, 109, 145, 182, 218, 255]);
}

#[test]
fn horizontal_flip_and_random_crop() {
    let shape = [1, 2, 3];
    let image = vec![1, 2, 3, 4, 5, 6];
    let flip = |p| {
        let mut img = image.clone();
        Pipeline::new(&[TransformSpec::HorizontalFlip { p }], shape)
            .unwrap()
            .augment(&mut img, &mut ChaCha8Rng::seed_from_u64(0));
        img
    };
    assert_eq!(flip(1.0), vec![3, 2, 1, 6, 5, 4]);
    assert_eq!(flip(0.0), image);

    let mut img = image.clone();
    ops::padded_crop(&mut img, shape, 1, 0, 0);
    assert_eq!(img, vec![0, 0, 0, 0, 1, 2], "top-left window of the zero-padded image");
    let mut img = image.clone();
    ops::padded_crop(&mut img, shape, 1, 1, 2);
    assert_eq!(img, vec![2, 3, 0, 5, 6, 0]);
    let mut img = image.clone();
    ops::padded_crop(&mut img, shape, 1, 1, 1);
    assert_eq!(img, image, "the centre window is the image");
    let crop = Pipeline::new(&[TransformSpec::RandomCrop { padding: 0 }], shape).unwrap();
    let mut img = image.clone();
    crop.augment(&mut img, &mut ChaCha8Rng::seed_from_u64(5));
    assert_eq!(img, image, "padding 0 crops the image itself");
}

#[test]
fn scaling_and_normalize() {
    let shape = [2, 1, 2];
    let pixels = [0u8, 255, 51, 102];
    let mut plain = Vec::new();
    Pipeline::new(&[], shape).unwrap().to_float(&pixels, &mut plain);
    assert_eq!(plain, vec![0.0, 1.0, 0.2, 0.4]);
    let normalize = TransformSpec::Normalize { mean: vec![0.5, 0.2], std: vec![0.5, 0.1] };
    let pipeline = Pipeline::new(&[TransformSpec::HorizontalFlip { p: 0.5 }, normalize], shape).unwrap();
    let mut out = Vec::new();
    pipeline.to_float(&pixels, &mut out);
    let expected = [-1.0, 1.0, 0.0, 2.0];
    assert!(out.iter().zip(expected).all(|(a, b)| (a - b).abs() < 1e-5), "{out:?}");
    let mut validation = Vec::new();
    pipeline.for_validation().to_float(&pixels, &mut validation);
    assert_eq!(validation, out, "validation keeps normalize");
}

fn transform_error(specs: &[TransformSpec], shape: [usize; 3]) -> String {
    match Pipeline::new(specs, shape) {
        Err(error) => error.to_string(),
        Ok(_) => panic!("{specs:?} should be rejected"),
    }
}

#[test]
fn transform_errors_are_clear() {
    let message =
        transform_error(&[TransformSpec::Normalize { mean: vec![0.5], std: vec![0.5] }], [3, 28, 28]);
    assert!(message.contains("mean has 1") && message.contains("3 channels"), "{message}");
    let normalize = TransformSpec::Normalize { mean: vec![0.5], std: vec![0.5] };
    let message = transform_error(&[normalize, TransformSpec::HorizontalFlip { p: 0.5 }], [1, 28, 28]);
    assert!(message.contains("must be the last"), "{message}");
    let few_bins = TransformSpec::TrivialAugmentWide { mode: AugmentMode::PerSample, num_magnitude_bins: 1 };
    assert!(transform_error(&[few_bins], [1, 28, 28]).contains("at least 2"));
    assert!(transform_error(&[TransformSpec::HorizontalFlip { p: 1.5 }], [1, 28, 28]).contains("[0, 1]"));
    let zero_std = TransformSpec::Normalize { mean: vec![0.5], std: vec![0.0] };
    assert!(transform_error(&[zero_std], [1, 28, 28]).contains("positive"));
}
