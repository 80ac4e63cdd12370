//! `cargo bench --bench data`: loading time of the real Fashion-MNIST training set and
//! images per second of augmentation on one core. Prints numbers; no harness needed.
//! Needs the shared data folder (`../shared/data` next to the repo, or `EXPGRID_DATA`),
//! or `EXPGRID_DATA` pointing at a folder with `fashion-mnist/`.
//!
//! With `--json` (run the built executable directly) it prints only what `bench/compare.py`
//! reads: the time per image of a training batch of 64 with `trivial_augment_wide`
//! (`per_sample`) on one core, as the training stream's background thread builds it.

#[path = "../tests/shared_data/mod.rs"]
mod shared_data;

use std::path::PathBuf;
use std::time::Instant;

use expgrid::config::schema::{AugmentMode, DatasetName, DatasetSpec, Split, TransformSpec};
use expgrid::data::batches::make_batch;
use expgrid::data::{DataSource, Dataset, Pipeline, StreamPosition, idx, verify};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("EXPGRID_DATA") {
        return PathBuf::from(dir);
    }
    shared_data::data_dir()
}

/// Runs `work` (which handles `per_call` images) for about `seconds`; returns images/s.
fn rate(seconds: f64, per_call: usize, mut work: impl FnMut(u64)) -> f64 {
    let started = Instant::now();
    let mut calls = 0;
    while started.elapsed().as_secs_f64() < seconds {
        work(calls);
        calls += 1;
    }
    (calls as usize * per_call) as f64 / started.elapsed().as_secs_f64()
}

/// Images per second of [`make_batch`] (gather, augment, scale, one-hot) with `specs` on one core.
fn batch_rate(train: &Dataset, specs: &[TransformSpec], batch: usize) -> f64 {
    let pipeline = Pipeline::new(specs, train.shape()).unwrap();
    let indices: Vec<usize> = (0..batch).collect();
    rate(2.0, batch, |call| {
        let mut rng = ChaCha8Rng::seed_from_u64(call);
        let position = StreamPosition::default();
        std::hint::black_box(make_batch(train, &pipeline, &indices, Some(&mut rng), position, position));
    })
}

fn main() {
    let dir = data_dir();
    let source = DataSource::offline(vec![dir.clone()]);
    let spec = |shape| DatasetSpec { dataset: DatasetName::Fmnist, split: Split::Train, shape, limit: None };
    let trivial_augment = |mode| TransformSpec::TrivialAugmentWide { mode, num_magnitude_bins: 31 };
    if std::env::args().any(|a| a == "--json") {
        let train = Dataset::load(&spec([3, 28, 28]), 0, &source).expect("Fashion-MNIST train");
        let per_second = batch_rate(&train, &[trivial_augment(AugmentMode::PerSample)], 64);
        println!("{}", serde_json::json!({"workload": "augment", "per_image_us": 1e6 / per_second}));
        return;
    }

    // Loading, with its parts.
    let images_gz = dir.join("fashion-mnist/train-images-idx3-ubyte.gz");
    for attempt in ["first", "second"] {
        let started = Instant::now();
        let train = Dataset::load(&spec([1, 28, 28]), 0, &source).expect("Fashion-MNIST train");
        println!(
            "load fmnist train ({attempt} time): {:.3} s for {} images",
            started.elapsed().as_secs_f64(),
            train.len()
        );
    }
    let started = Instant::now();
    let content = idx::read_maybe_gz(&images_gz, "").expect("read");
    let gunzip = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let hash = verify::sha256_hex(&content);
    println!(
        "  of which: read + gunzip 47 MB {gunzip:.3} s, sha256 {:.3} s ({})",
        started.elapsed().as_secs_f64(),
        &hash[..8]
    );

    // Augmentation on one core (this thread), 3x28x28 as `shape: [3, 28, 28]` gives.
    let train = Dataset::load(&spec([3, 28, 28]), 0, &source).expect("Fashion-MNIST train");
    let batch = 128;
    let pixels: Vec<u8> = (0..batch).flat_map(|i| train.image(i).to_vec()).collect();
    for mode in [AugmentMode::PerSample, AugmentMode::PerBatch] {
        let pipeline = Pipeline::new(&[trivial_augment(mode)], [3, 28, 28]).unwrap();
        let per_second = rate(2.0, batch, |call| {
            let mut images = pixels.clone();
            pipeline.augment(&mut images, &mut ChaCha8Rng::seed_from_u64(call));
        });
        println!("trivial_augment_wide {mode:?} on 3x28x28, one core: {per_second:.0} images/s");
    }
    let specs = [
        trivial_augment(AugmentMode::PerSample),
        TransformSpec::RandomCrop { padding: 2 },
        TransformSpec::HorizontalFlip { p: 0.5 },
        TransformSpec::Normalize { mean: vec![0.5; 3], std: vec![0.25; 3] },
    ];
    let per_second = batch_rate(&train, &specs, batch);
    println!(
        "whole batch (trivial augment + crop + flip + scale + normalize + one-hot), one core: {per_second:.0} images/s"
    );
}
