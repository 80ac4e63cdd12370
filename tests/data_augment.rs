//! TrivialAugmentWide ops against torchvision's own outputs
//! (`tests/fixtures/augment/trivial_augment.json`, made by `make_augment_fixtures.py`),
//! plus the pipeline's behaviour: seeding, per-batch vs per-sample, crop, flip, normalize.

use std::collections::BTreeMap;

use expgrid::config::schema::{AugmentMode, TransformSpec};
use expgrid::data::DataError;
use expgrid::data::augment::Pipeline;
use expgrid::data::augment::trivial_augment::{Op, apply_op};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

fn fixtures() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/augment/trivial_augment.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture file"))
        .expect("fixture JSON")
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

fn op_named(name: &str) -> Op {
    *Op::ALL
        .iter()
        .find(|op| op.name() == name)
        .unwrap_or_else(|| panic!("unknown op {name}"))
}

#[test]
fn magnitude_tables_match_torchvision() {
    let data = fixtures();
    for (bins, tables) in data["tables"].as_object().unwrap() {
        let bins: usize = bins.parse().unwrap();
        for (name, expected) in tables.as_object().unwrap() {
            let expected: Vec<f64> = expected
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect();
            let ours = op_named(name).magnitudes(bins).unwrap();
            assert_eq!(ours, expected, "{name} with {bins} bins");
        }
    }
}

/// The affine ops sample a float32 grid; torch computes it with a matrix product whose
/// rounding can differ in the last bit, which can move a pixel exactly on a rounding
/// boundary to its neighbour. Everything else must match exactly.
fn is_affine(op: Op) -> bool {
    matches!(
        op,
        Op::ShearX | Op::ShearY | Op::TranslateX | Op::TranslateY | Op::Rotate
    )
}

#[test]
fn all_14_ops_match_torchvision() {
    let data = fixtures();
    let images: Vec<(Vec<usize>, Vec<u8>)> = data["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|img| {
            let shape = img["shape"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as usize)
                .collect();
            (shape, unhex(img["pixels"].as_str().unwrap()))
        })
        .collect();
    let table = |op: Op| op.magnitudes(31);
    // op -> (cases, differing pixels, pixels, max abs difference)
    let mut stats: BTreeMap<&str, (usize, usize, usize, u8)> = BTreeMap::new();
    let mut seen = std::collections::HashSet::new();
    for case in data["cases"].as_array().unwrap() {
        let op = op_named(case["op"].as_str().unwrap());
        seen.insert(op);
        let (shape, pixels) = &images[case["image"].as_u64().unwrap() as usize];
        let shape = [shape[0], shape[1], shape[2]];
        let magnitude = match (table(op), case["bin"].as_u64()) {
            (Some(t), Some(bin)) => t[bin as usize] * case["sign"].as_f64().unwrap(),
            _ => 0.0,
        };
        assert_eq!(
            magnitude,
            case["magnitude"].as_f64().unwrap(),
            "magnitude of {case}"
        );
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
            assert_eq!(
                ours,
                expected,
                "{} magnitude {magnitude} on image {}",
                op.name(),
                case["image"]
            );
        }
    }
    assert_eq!(seen.len(), 14, "every op has fixtures");
    for (name, (cases, differing, total, max)) in &stats {
        println!(
            "{name:>12}: {cases:3} cases, {differing:5} of {total:6} pixels differ, max abs diff {max}"
        );
    }
    for (name, (_, differing, total, _)) in &stats {
        assert!(
            *differing * 100 < *total,
            "{name}: {differing} of {total} pixels differ (bound: under 1%)"
        );
    }
}
