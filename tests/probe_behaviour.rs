//! The probe's behaviour on clear-cut data and its errors.

use expgrid::probe::{ProbeError, SvcProbe, accuracy, fit, probe};
use rand_distr::StandardNormal;
use rand08::rngs::StdRng;
use rand08::{Rng, SeedableRng};

/// `n` samples of `n_classes` Gaussian blobs whose centres are `separation` apart per axis.
fn blobs(
    rng: &mut StdRng,
    n: usize,
    n_features: usize,
    n_classes: usize,
    separation: f32,
) -> (Vec<f32>, Vec<usize>) {
    let centres: Vec<f32> =
        (0..n_classes * n_features).map(|_| separation * rng.sample::<f32, _>(StandardNormal)).collect();
    let labels: Vec<usize> = (0..n).map(|_| rng.gen_range(0..n_classes)).collect();
    let x = labels
        .iter()
        .flat_map(|&l| (0..n_features).map(move |f| (l, f)))
        .map(|(l, f)| centres[l * n_features + f] + rng.sample::<f32, _>(StandardNormal))
        .collect();
    (x, labels)
}

#[test]
fn well_separated_blobs_are_classified_almost_perfectly() {
    let mut rng = StdRng::seed_from_u64(7);
    let (x, y) = blobs(&mut rng, 400, 12, 5, 4.0);
    let (train_x, test_x) = x.split_at(300 * 12);
    let (train_y, test_y) = y.split_at(300);
    let before = std::time::Instant::now();
    let result = probe(train_x, train_y, test_x, test_y, 12, 5).unwrap();
    let wall = before.elapsed().as_secs_f64();
    assert!(result.accuracy > 0.9, "accuracy {}", result.accuracy);
    assert_eq!(result.train_samples, 300);
    // Both times are measured (an SMO fit and 100 predictions take time) and in seconds: together
    // they fit inside the clock read around the call.
    assert!(result.fit_seconds > 0.0 && result.predict_seconds > 0.0, "{result:?}");
    assert!(result.fit_seconds + result.predict_seconds <= wall, "{result:?} in {wall} s");
}

#[test]
fn random_labels_give_chance_accuracy_on_held_out_data() {
    let mut rng = StdRng::seed_from_u64(11);
    let x: Vec<f32> = (0..600 * 8).map(|_| rng.sample(StandardNormal)).collect();
    let y: Vec<usize> = (0..600).map(|_| rng.gen_range(0..4)).collect();
    let result = probe(&x[..400 * 8], &y[..400], &x[400 * 8..], &y[400..], 8, 4).unwrap();
    assert!((result.accuracy - 0.25).abs() < 0.1, "accuracy {}", result.accuracy);
}

#[test]
fn labels_keep_their_values_when_some_classes_are_missing() {
    let mut rng = StdRng::seed_from_u64(3);
    let (x, y) = blobs(&mut rng, 120, 4, 2, 5.0);
    // Classes 0 and 1 of the blobs become labels 2 and 5 of 7.
    let y: Vec<usize> = y.iter().map(|&l| if l == 0 { 2 } else { 5 }).collect();
    let model = fit(&x, 4, &y, 7).unwrap();
    assert_eq!(model.classes(), &[2, 5]);
    // The number of classes only bounds the labels; it is not allocated per class.
    assert_eq!(fit(&x, 4, &y, usize::MAX).unwrap().classes(), &[2, 5]);
    let predicted = model.predict(&x).unwrap();
    assert!(predicted.iter().all(|&p| p == 2 || p == 5));
    assert!(accuracy(&predicted, &y).unwrap() > 0.9);
}

#[test]
fn constant_embeddings_use_gamma_one_and_predict_one_class() {
    let x = vec![0.5f32; 10 * 3];
    let y = vec![0, 1, 0, 1, 0, 1, 0, 1, 0, 1];
    let model = fit(&x, 3, &y, 2).unwrap();
    assert_eq!(model.gamma(), 1.0);
    let predicted = model.predict(&x).unwrap();
    assert!(predicted.iter().all(|&p| p == predicted[0]));
}

#[test]
fn bad_inputs_are_errors() {
    let x = [0.0f32, 1.0, 2.0, 3.0, 4.0, 5.0];
    assert_eq!(fit(&[], 2, &[], 2).unwrap_err(), ProbeError::Empty);
    assert_eq!(fit(&x, 0, &[0, 1], 2).unwrap_err(), ProbeError::NoFeatures);
    assert_eq!(
        fit(&x, 4, &[0, 1], 2).unwrap_err(),
        ProbeError::RaggedEmbeddings { values: 6, n_features: 4 }
    );
    assert_eq!(fit(&x, 2, &[0, 1], 2).unwrap_err(), ProbeError::LengthMismatch { samples: 3, labels: 2 });
    assert_eq!(
        fit(&x, 2, &[0, 1, 2], 2).unwrap_err(),
        ProbeError::LabelOutOfRange { sample: 2, label: 2, n_classes: 2 }
    );
    assert_eq!(fit(&x, 2, &[1, 1, 1], 2).unwrap_err(), ProbeError::OneClass { class: 1 });
    let mut nan = x;
    nan[3] = f32::NAN;
    let err = fit(&nan, 2, &[0, 1, 0], 2).unwrap_err();
    assert!(matches!(err, ProbeError::NotFinite { sample: 1, value } if value.is_nan()), "{err:?}");
    assert_eq!(err.to_string(), "embedding value NaN of sample 1 is not finite");

    let model = fit(&x, 2, &[0, 1, 0], 2).unwrap();
    assert_eq!(
        model.predict(&x[..5]).unwrap_err(),
        ProbeError::RaggedEmbeddings { values: 5, n_features: 2 }
    );
    assert!(matches!(model.predict(&[0.0, f32::INFINITY]), Err(ProbeError::NotFinite { sample: 0, .. })));
    assert_eq!(accuracy(&[0, 1], &[0]).unwrap_err(), ProbeError::LengthMismatch { samples: 2, labels: 1 });
    assert_eq!(accuracy(&[], &[]).unwrap_err(), ProbeError::Empty);
    assert_eq!(
        probe(&x, &[0, 1, 0], &x, &[0, 1], 2, 2).unwrap_err(),
        ProbeError::LengthMismatch { samples: 3, labels: 2 }
    );
}

#[test]
fn default_settings_are_sklearns_and_settings_are_checked() {
    assert_eq!(SvcProbe::default(), SvcProbe { c: 1.0, tol: 1e-3 });
    let x = [0.0f32, 1.0];
    let bad = SvcProbe { c: 0.0, ..SvcProbe::default() };
    assert_eq!(bad.fit(&x, 1, &[0, 1], 2).unwrap_err(), ProbeError::BadSettings { c: 0.0, tol: 1e-3 });
    let bad = SvcProbe { tol: f64::NAN, ..SvcProbe::default() };
    assert!(matches!(bad.fit(&x, 1, &[0, 1], 2), Err(ProbeError::BadSettings { .. })));
    assert_eq!(
        SvcProbe { c: 10.0, tol: 1e-4 }.fit(&x, 1, &[0, 1], 2).unwrap().predict(&x).unwrap(),
        vec![0, 1]
    );
}
