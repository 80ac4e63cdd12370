//! `autoaugment_cifar10` against torchvision's `AutoAugment(AutoAugmentPolicy.CIFAR10)`
//! (`tests/fixtures/augment/autoaugment_cifar10.json.gz`, made by
//! `make_autoaugment_fixtures.py`), plus its draws: distribution, seeding, per-batch mode.

use std::collections::BTreeSet;
use std::io::Read;

use expgrid::config::schema::{AugmentMode, TransformSpec};
use expgrid::data::augment::Pipeline;
use expgrid::data::augment::autoaugment::{AutoAugment, CIFAR10, SubPolicyChoice};
use expgrid::data::augment::policy::{Op, Space};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

fn fixtures() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/augment/autoaugment_cifar10.json.gz");
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).expect("fixture file"))
        .read_to_string(&mut text)
        .expect("gzipped fixture");
    serde_json::from_str(&text).expect("fixture JSON")
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex")).collect()
}

fn op_named(name: &str) -> Op {
    Op::named(name).unwrap_or_else(|| panic!("unknown op {name}"))
}

fn numbers(value: &Value) -> Vec<f64> {
    value.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect()
}

#[test]
fn policy_is_torchvisions() {
    let data = fixtures();
    let theirs = data["policies"].as_array().unwrap();
    assert_eq!(theirs.len(), CIFAR10.len());
    for (index, (ours, theirs)) in CIFAR10.iter().zip(theirs).enumerate() {
        for ((op, probability, bin), their) in ours.iter().zip(theirs.as_array().unwrap()) {
            assert_eq!(*op, op_named(their[0].as_str().unwrap()), "sub-policy {index}");
            assert_eq!(*probability, their[1].as_f64().unwrap(), "sub-policy {index}");
            assert_eq!(bin.map(|b| b as u64), their[2].as_u64(), "sub-policy {index}");
        }
    }
}

#[test]
fn magnitude_tables_match_torchvision() {
    let data = fixtures();
    for entry in data["tables"].as_array().unwrap() {
        let size = numbers(&entry["size"]);
        let space = Space::autoaugment(size[0] as usize, size[1] as usize);
        for (name, expected) in entry["magnitudes"].as_object().unwrap() {
            let ours = space.magnitudes(op_named(name), AutoAugment::BINS).unwrap();
            assert_eq!(ours, numbers(expected), "{name} for {size:?}");
        }
    }
}

#[test]
fn every_sub_policy_matches_torchvision_bit_for_bit() {
    let data = fixtures();
    let images: Vec<([usize; 3], Vec<u8>)> = data["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|img| {
            let shape = numbers(&img["shape"]);
            (
                [shape[0] as usize, shape[1] as usize, shape[2] as usize],
                unhex(img["pixels"].as_str().unwrap()),
            )
        })
        .collect();
    let (mut cases, mut differing, mut pixels) = (0, 0, 0);
    // (image, sub-policy) pairs run with both ops applied.
    let mut both_applied = BTreeSet::new();
    for case in data["cases"].as_array().unwrap() {
        let image = case["image"].as_u64().unwrap() as usize;
        let (shape, input) = &images[image];
        let index = case["sub_policy"].as_u64().unwrap() as usize;
        let applied: Vec<bool> =
            case["applied"].as_array().unwrap().iter().map(|a| a.as_bool().unwrap()).collect();
        let negate: Vec<bool> = numbers(&case["signs"]).iter().map(|&s| s < 0.0).collect();
        let choice = AutoAugment::cifar10(shape[1], shape[2])
            .sub_policy(index, [applied[0], applied[1]], [negate[0], negate[1]])
            .expect("sub-policy index in range");
        let mut ours = input.clone();
        choice.ops.iter().flatten().for_each(|op| op.apply(&mut ours, *shape));
        let expected = unhex(case["output"].as_str().unwrap());
        assert_eq!(ours.len(), expected.len());
        let wrong = ours.iter().zip(&expected).filter(|(a, b)| a != b).count();
        if wrong > 0 {
            println!("image {image}, sub-policy {index}, {:?}: {wrong} pixels differ", choice.ops);
        }
        (cases, differing, pixels) = (cases + 1, differing + wrong, pixels + ours.len());
        if applied == [true, true] {
            both_applied.insert((image, index));
        }
    }
    println!("{cases} cases, {differing} of {pixels} pixels differ");
    assert_eq!(both_applied.len(), images.len() * CIFAR10.len(), "every sub-policy on every image");
    assert!(images.iter().any(|(shape, _)| *shape == [1, 28, 28]), "a 1-channel 28x28 image");
    assert_eq!(differing, 0, "pixels that differ from torchvision");
}

/// Draws `count` choices from one seed.
fn draws(augment: &AutoAugment, seed: u64, count: usize) -> Vec<SubPolicyChoice> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..count).map(|_| augment.choose(&mut rng)).collect()
}

#[test]
fn draws_follow_the_policy() {
    let augment = AutoAugment::cifar10(32, 32);
    let count = 100_000;
    let choices = draws(&augment, 11, count);
    let expected_per_policy = count as f64 / 25.0;
    for (index, sub_policy) in CIFAR10.iter().enumerate() {
        let drawn: Vec<&SubPolicyChoice> = choices.iter().filter(|c| c.index == index).collect();
        // 4000 expected, standard deviation about 62.
        let share = drawn.len() as f64;
        assert!((share - expected_per_policy).abs() < 300.0, "sub-policy {index} drawn {share} times");
        for (slot, &(op, probability, _)) in sub_policy.iter().enumerate() {
            let applied: Vec<_> = drawn.iter().filter_map(|c| c.ops[slot]).collect();
            let rate = applied.len() as f64 / share;
            // Standard deviation at most 0.008.
            assert!(
                (rate - probability).abs() < 0.04,
                "sub-policy {index} op {slot}: applied {rate}, p {probability}"
            );
            assert!(applied.iter().all(|c| c.op == op));
            let negative = applied.iter().filter(|c| c.magnitude.is_sign_negative()).count();
            if op.signed() && !applied.is_empty() {
                let rate = negative as f64 / applied.len() as f64;
                assert!((rate - 0.5).abs() < 0.07, "sub-policy {index} op {slot}: negative {rate}");
            } else {
                assert_eq!(negative, 0, "sub-policy {index} op {slot} is never negated");
            }
            let magnitudes: BTreeSet<u64> = applied.iter().map(|c| c.magnitude.abs().to_bits()).collect();
            assert!(magnitudes.len() <= 1, "one magnitude per sub-policy op");
        }
    }
}

#[test]
fn draws_are_determined_by_the_seed() {
    let augment = AutoAugment::cifar10(32, 32);
    assert_eq!(draws(&augment, 5, 200), draws(&augment, 5, 200));
    assert_ne!(draws(&augment, 5, 200), draws(&augment, 6, 200));
    assert_eq!(augment.sub_policy(25, [true, true], [false, false]), None, "only 25 sub-policies");
}

fn autoaugment(mode: AugmentMode) -> TransformSpec {
    TransformSpec::AutoaugmentCifar10 { mode }
}

/// `count` copies of a 3x32x32 image with some structure.
fn copies(count: usize) -> Vec<u8> {
    let one: Vec<u8> = (0..3 * 32 * 32).map(|i| ((i * 37) % 251) as u8 ^ ((i / 32) as u8)).collect();
    one.repeat(count)
}

fn distinct_images(images: &[u8], size: usize) -> usize {
    images.chunks_exact(size).collect::<BTreeSet<_>>().len()
}

#[test]
fn the_pipeline_applies_what_was_drawn() {
    let pipeline = Pipeline::new(&[autoaugment(AugmentMode::PerSample)], [3, 32, 32]).unwrap();
    let augment = AutoAugment::cifar10(32, 32);
    let mut both = 0;
    for seed in 0..40 {
        let mut augmented = copies(1);
        pipeline.augment(&mut augmented, &mut ChaCha8Rng::seed_from_u64(seed));
        let choice = augment.choose(&mut ChaCha8Rng::seed_from_u64(seed));
        let mut expected = copies(1);
        choice.ops.iter().flatten().for_each(|op| op.apply(&mut expected, [3, 32, 32]));
        assert_eq!(augmented, expected, "seed {seed}: {choice:?}");
        both += usize::from(choice.ops.iter().all(Option::is_some));
    }
    assert!(both > 5, "some draws applied both ops ({both} of 40)");
}

#[test]
fn per_sample_and_per_batch() {
    let size = 3 * 32 * 32;
    let per_sample = Pipeline::new(&[autoaugment(AugmentMode::PerSample)], [3, 32, 32]).unwrap();
    let mut images = copies(32);
    per_sample.augment(&mut images, &mut ChaCha8Rng::seed_from_u64(3));
    assert!(distinct_images(&images, size) > 8, "identical inputs got different sub-policies");

    let per_batch = Pipeline::new(&[autoaugment(AugmentMode::PerBatch)], [3, 32, 32]).unwrap();
    let mut changed_batches = 0;
    for seed in 0..20 {
        let mut images = copies(8);
        per_batch.augment(&mut images, &mut ChaCha8Rng::seed_from_u64(seed));
        assert_eq!(distinct_images(&images, size), 1, "seed {seed}: identical inputs, one draw");
        changed_batches += usize::from(images[..size] != copies(1)[..]);
    }
    assert!(changed_batches > 10, "the batches were augmented ({changed_batches} of 20 changed)");
}

#[test]
fn works_on_one_channel_images_only_with_one_or_three_channels() {
    let pipeline = Pipeline::new(&[autoaugment(AugmentMode::PerSample)], [1, 28, 28]).unwrap();
    let mut images: Vec<u8> = (0..4 * 28 * 28).map(|i| (i % 256) as u8).collect();
    let original = images.clone();
    pipeline.augment(&mut images, &mut ChaCha8Rng::seed_from_u64(1));
    assert_ne!(images, original);
    match Pipeline::new(&[autoaugment(AugmentMode::PerSample)], [2, 32, 32]) {
        Err(error) => {
            assert!(error.to_string().contains("autoaugment_cifar10 works on 1- or 3-channel"), "{error}")
        }
        Ok(_) => panic!("2 channels should be rejected"),
    }
}
