//! The SVC probe against scikit-learn's `SVC()`, side by side on the same 10,000 × 128
//! embeddings (fit on 10,000, predict 10,000 others), at two class overlaps (≈ 95 % and ≈ 78 %
//! accuracy: the harder, the more support vectors and SMO iterations), and linfa-svm on one
//! class pair to show why the solver is not linfa-svm's (see `src/probe/smo.rs`).
//!
//! Run with `cargo bench --bench probe`; needs `python3` with scikit-learn for the reference.
//! With `--json` (run the built executable directly) it prints one JSON object per overlap
//! (what `bench/compare.py` reads) and leaves out linfa-svm.

use std::process::Command;
use std::time::Instant;

use expgrid::probe::{accuracy, fit};
use linfa::prelude::*;
use linfa_svm::Svm;
use ndarray::{Array1, Array2};
use rand_distr::StandardNormal;
use rand08::rngs::StdRng;
use rand08::{Rng, SeedableRng};

const N: usize = 10_000;
const FEATURES: usize = 128;
const CLASSES: usize = 10;
const LATENT: usize = 16;

/// Encoder-like embeddings: 10 classes as overlapping Gaussian clusters in a 16-d latent space,
/// mapped to 128 features by a fixed random layer with ReLU (non-negative, sparse-ish, correlated
/// features, like a trained encoder's code layer).
struct Encoder {
    centres: Vec<f32>,
    weights: Vec<f32>,
    bias: Vec<f32>,
}

impl Encoder {
    fn new(rng: &mut StdRng) -> Self {
        let mut normals = |n: usize, scale: f32| -> Vec<f32> {
            (0..n).map(|_| scale * rng.sample::<f32, _>(StandardNormal)).collect()
        };
        Encoder {
            centres: normals(CLASSES * LATENT, 1.0),
            weights: normals(FEATURES * LATENT, 1.0 / (LATENT as f32).sqrt()),
            bias: normals(FEATURES, 0.3),
        }
    }

    /// `n` samples; `noise` is the spread of each class around its centre in the latent space.
    fn sample(&self, rng: &mut StdRng, n: usize, noise: f32) -> (Vec<f32>, Vec<usize>) {
        let labels: Vec<usize> = (0..n).map(|_| rng.gen_range(0..CLASSES)).collect();
        let mut x = Vec::with_capacity(n * FEATURES);
        for &label in &labels {
            let z: Vec<f32> = (0..LATENT)
                .map(|k| self.centres[label * LATENT + k] + noise * rng.sample::<f32, _>(StandardNormal))
                .collect();
            x.extend((0..FEATURES).map(|f| {
                let w = &self.weights[f * LATENT..(f + 1) * LATENT];
                (w.iter().zip(&z).map(|(w, z)| w * z).sum::<f32>() + self.bias[f]).max(0.0)
            }));
        }
        (x, labels)
    }
}

/// The bench file for `bench/svc_reference.py` (format in its docstring).
fn write_reference_input(
    path: &std::path::Path,
    train: &(Vec<f32>, Vec<usize>),
    test: &(Vec<f32>, Vec<usize>),
) {
    let mut bytes = Vec::new();
    for v in [train.1.len(), test.1.len(), FEATURES] {
        bytes.extend((v as u32).to_le_bytes());
    }
    for (x, y) in [train, test] {
        bytes.extend(x.iter().flat_map(|v| v.to_le_bytes()));
        bytes.extend(y.iter().flat_map(|&v| (v as u32).to_le_bytes()));
    }
    std::fs::write(path, bytes).expect("write the bench data");
}

struct Reference {
    seconds: f64,
    accuracy: f64,
    predictions: Vec<usize>,
    n_support: u64,
    version: String,
}

fn run_reference(path: &std::path::Path) -> Result<Reference, String> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/bench/svc_reference.py");
    let out = Command::new("python3").arg(script).arg(path).output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
    let pred_path = format!("{}.sklearn_pred", path.display());
    let raw = std::fs::read(&pred_path).map_err(|e| e.to_string())?;
    let number = |key: &str| json[key].as_f64().unwrap_or(f64::NAN);
    Ok(Reference {
        seconds: number("fit_seconds") + number("predict_seconds"),
        accuracy: number("accuracy"),
        predictions: raw
            .chunks_exact(4)
            .map(|b| u32::from_le_bytes(b.try_into().unwrap()) as usize)
            .collect(),
        n_support: json["n_support"].as_u64().unwrap_or(0),
        version: json["sklearn_version"].as_str().unwrap_or("?").to_owned(),
    })
}

/// Fits linfa-svm (RBF with the same gamma, C = 1, tol 1e-3) and the probe on classes 0 and 1
/// only, one binary problem, and prints both times.
fn linfa_one_pair(train: &(Vec<f32>, Vec<usize>), gamma: f64) {
    let rows: Vec<usize> = (0..train.1.len()).filter(|&r| train.1[r] < 2).collect();
    let x: Vec<f32> =
        rows.iter().flat_map(|&r| train.0[r * FEATURES..(r + 1) * FEATURES].iter().copied()).collect();
    let y: Vec<usize> = rows.iter().map(|&r| train.1[r]).collect();

    let start = Instant::now();
    let ours = fit(&x, FEATURES, &y, 2).expect("probe fit").predict(&x).expect("probe predict");
    let ours_seconds = start.elapsed().as_secs_f64();

    let records =
        Array2::from_shape_vec((rows.len(), FEATURES), x.iter().map(|&v| f64::from(v)).collect()).unwrap();
    // linfa's `true` is the positive side of its decision value, libsvm's first class (0) here.
    let targets: Array1<bool> = y.iter().map(|&l| l == 0).collect();
    let data = Dataset::new(records, targets);
    let start = Instant::now();
    let model = Svm::<f64, bool>::params()
        .gaussian_kernel(1.0 / gamma)
        .pos_neg_weights(1.0, 1.0)
        .eps(1e-3)
        .fit(&data)
        .expect("linfa fit");
    let linfa: Vec<usize> = model.predict(data.records()).iter().map(|&t| if t { 0 } else { 1 }).collect();
    let linfa_seconds = start.elapsed().as_secs_f64();
    println!(
        "one pair ({} samples), fit+predict: probe {ours_seconds:.2} s, linfa-svm 0.8.1 {linfa_seconds:.2} s \
         ({:.1}x), agreement {:.2}%",
        rows.len(),
        linfa_seconds / ours_seconds,
        100.0 * accuracy(&ours, &linfa).unwrap()
    );
}

fn main() {
    let json = std::env::args().any(|a| a == "--json");
    let mut rng = StdRng::seed_from_u64(2026);
    let encoder = Encoder::new(&mut rng);
    for (run, (overlap, noise)) in [("low", 1.1), ("high", 1.6)].into_iter().enumerate() {
        let train = encoder.sample(&mut rng, N, noise);
        let test = encoder.sample(&mut rng, N, noise);
        let gamma = compare(&train, &test, overlap, noise, json);
        if run == 0 && !json {
            linfa_one_pair(&train, gamma);
        }
    }
}

/// Times the probe and sklearn on the same data and prints both (as text, or one JSON
/// object); returns the probe's gamma.
fn compare(
    train: &(Vec<f32>, Vec<usize>),
    test: &(Vec<f32>, Vec<usize>),
    overlap: &str,
    noise: f32,
    json: bool,
) -> f64 {
    let start = Instant::now();
    let model = fit(&train.0, FEATURES, &train.1, CLASSES).expect("probe fit");
    let fit_seconds = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let predictions = model.predict(&test.0).expect("probe predict");
    let predict_seconds = start.elapsed().as_secs_f64();
    let ours = fit_seconds + predict_seconds;
    let our_accuracy = accuracy(&predictions, &test.1).unwrap();
    let n_support: usize = model.n_support().iter().sum();

    let path = std::env::temp_dir().join(format!("expgrid-probe-bench-{}.bin", std::process::id()));
    write_reference_input(&path, train, test);
    let reference = run_reference(&path);
    let _ = std::fs::remove_file(format!("{}.sklearn_pred", path.display()));
    let _ = std::fs::remove_file(&path);
    let agreement = |r: &Reference| accuracy(&predictions, &r.predictions).unwrap_or(f64::NAN);

    if json {
        let r = reference.as_ref().ok();
        let line = serde_json::json!({
            "workload": format!("svc-probe-{overlap}"), "seconds": ours, "accuracy": our_accuracy,
            "reference_seconds": r.map(|r| r.seconds), "reference_accuracy": r.map(|r| r.accuracy),
            "agreement": r.map(agreement),
        });
        println!("{line}");
        return model.gamma();
    }
    println!(
        "\nSVC probe: {N} × {FEATURES} embeddings, {CLASSES} classes, latent noise {noise}, fit on {N}, predict {N}"
    );
    println!(
        "probe:   {ours:6.2} s (fit {fit_seconds:.2} s, predict {predict_seconds:.2} s), accuracy {our_accuracy:.4}, \
         {n_support} support vectors"
    );
    match reference {
        Ok(r) => {
            println!(
                "sklearn: {:6.2} s (SVC(), scikit-learn {}), accuracy {:.4}, {} support vectors",
                r.seconds, r.version, r.accuracy, r.n_support
            );
            println!(
                "ratio probe/sklearn: {:.2}, prediction agreement {:.2}%",
                ours / r.seconds,
                100.0 * agreement(&r)
            );
        }
        Err(e) => {
            println!("sklearn: reference missing (python3 bench/svc_reference.py failed: {})", e.trim())
        }
    }
    model.gamma()
}
