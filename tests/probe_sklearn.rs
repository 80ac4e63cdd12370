//! Agreement with scikit-learn's `SVC()` on the fixtures written by
//! `tests/fixtures/probe/make_probe_fixtures.py`.

use expgrid::probe::{accuracy, fit};
use serde::Deserialize;

#[derive(Deserialize)]
struct Fixture {
    n_features: usize,
    n_classes: usize,
    train_x: Vec<f64>,
    train_y: Vec<usize>,
    test_x: Vec<f64>,
    test_y: Vec<usize>,
    gamma: f64,
    n_support: Vec<usize>,
    train_pred: Vec<usize>,
    test_pred: Vec<usize>,
    test_accuracy: f64,
}

fn load(name: &str) -> Fixture {
    let path = format!("{}/tests/fixtures/probe/{name}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn to_f32(values: &[f64]) -> Vec<f32> {
    values.iter().map(|&v| v as f32).collect()
}

fn agreement(ours: &[usize], theirs: &[usize]) -> f64 {
    accuracy(ours, theirs).unwrap()
}

fn check(name: &str) {
    let f = load(name);
    let model = fit(&to_f32(&f.train_x), f.n_features, &f.train_y, f.n_classes).unwrap();
    let rel = (model.gamma() - f.gamma).abs() / f.gamma;
    assert!(rel < 1e-6, "{name}: gamma {} vs sklearn {}", model.gamma(), f.gamma);

    let test_pred = model.predict(&to_f32(&f.test_x)).unwrap();
    let train_pred = model.predict(&to_f32(&f.train_x)).unwrap();
    let test_agreement = agreement(&test_pred, &f.test_pred);
    let train_agreement = agreement(&train_pred, &f.train_pred);
    let acc = accuracy(&test_pred, &f.test_y).unwrap();
    println!(
        "{name}: agreement with sklearn test {:.2}% train {:.2}%, accuracy {:.4} vs sklearn {:.4}, \
         n_support {:?} vs {:?}",
        100.0 * test_agreement,
        100.0 * train_agreement,
        acc,
        f.test_accuracy,
        model.n_support(),
        f.n_support
    );
    assert!(test_agreement >= 0.99, "{name}: test agreement {test_agreement}");
    assert!(train_agreement >= 0.99, "{name}: train agreement {train_agreement}");
    assert!((acc - f.test_accuracy).abs() <= 0.005, "{name}: accuracy {acc} vs {}", f.test_accuracy);
    for (ours, theirs) in model.n_support().iter().zip(&f.n_support) {
        assert!(
            ours.abs_diff(*theirs) <= 2,
            "{name}: n_support {:?} vs {:?}",
            model.n_support(),
            f.n_support
        );
    }
}

#[test]
fn agrees_with_sklearn_on_ten_overlapping_classes() {
    check("blobs_600x16_10c");
}

#[test]
fn agrees_with_sklearn_on_four_overlapping_classes() {
    check("blobs_300x8_4c");
}

#[test]
fn agrees_with_sklearn_on_projected_digit_pixels() {
    check("digits_600x16_10c");
}
