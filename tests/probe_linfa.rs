//! The probe's binary solver against linfa-svm 0.8.1 on the same problem (RBF with the same
//! gamma, C = 1, tolerance 1e-3): two implementations of the same dual, so their classifiers
//! agree up to the tolerance.

use expgrid::probe::{accuracy, fit};
use linfa::prelude::*;
use linfa_svm::Svm;
use ndarray::Array2;
use rand_distr::StandardNormal;
use rand08::rngs::StdRng;
use rand08::{Rng, SeedableRng};

#[test]
fn binary_probe_agrees_with_linfa_svm() {
    const FEATURES: usize = 5;
    let mut rng = StdRng::seed_from_u64(5);
    let sample = |rng: &mut StdRng, n: usize| -> (Vec<f32>, Vec<usize>) {
        let y: Vec<usize> = (0..n).map(|_| rng.gen_range(0..2)).collect();
        let x = y.iter().flat_map(|&l| (0..FEATURES).map(move |f| (l, f))).map(|(l, f)| {
            let centre = if l == 0 { 0.0 } else { 0.8 * (f % 2) as f32 + 0.3 };
            centre + rng.sample::<f32, _>(StandardNormal)
        });
        (x.collect(), y)
    };
    let (train_x, train_y) = sample(&mut rng, 200);
    let (test_x, test_y) = sample(&mut rng, 300);

    let model = fit(&train_x, FEATURES, &train_y, 2).unwrap();
    let ours = model.predict(&test_x).unwrap();

    let records = |x: &[f32]| {
        Array2::from_shape_vec((x.len() / FEATURES, FEATURES), x.iter().map(|&v| f64::from(v)).collect())
            .unwrap()
    };
    // linfa's `true` (decision value ≥ 0) is libsvm's first class, label 0 here.
    let train = Dataset::new(records(&train_x), train_y.iter().map(|&l| l == 0).collect());
    let linfa_model = Svm::<f64, bool>::params()
        .gaussian_kernel(1.0 / model.gamma())
        .pos_neg_weights(1.0, 1.0)
        .eps(1e-3)
        .fit(&train)
        .unwrap();
    let theirs: Vec<usize> =
        linfa_model.predict(&records(&test_x)).iter().map(|&t| if t { 0 } else { 1 }).collect();

    let agreement = accuracy(&ours, &theirs).unwrap();
    let (our_acc, their_acc) = (accuracy(&ours, &test_y).unwrap(), accuracy(&theirs, &test_y).unwrap());
    println!(
        "agreement with linfa-svm {:.2}%, accuracy {our_acc:.4} vs {their_acc:.4}, support vectors {} vs {}",
        100.0 * agreement,
        model.n_support().iter().sum::<usize>(),
        linfa_model.nsupport()
    );
    assert!(agreement >= 0.99, "agreement {agreement}");
    assert!(our_acc > 0.6, "accuracy {our_acc}");
}
