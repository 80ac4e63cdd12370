//! Forward and training-step times of the encoders on the default backend.
//!
//! `cargo bench --bench models` (or `--features tch` for libtorch). Per model: batch 64 of
//! 3x28x28, 10 classes; forward = eval-mode forward on the plain device; train step =
//! forward + MSE against one-hot + backward + AdamW step on the autodiff device. Median of
//! a few iterations after a warm-up; peak resident memory (VmHWM, reset through
//! `/proc/self/clear_refs` before each model).
//!
//! Arguments (run the built executable directly): workload names (`vit-p7`, `vit-p4`,
//! `conv`, `resnet18`; default all), `--iterations N` (default 5), `--json` (one JSON object
//! per workload, what `bench/compare.py` reads), `--glibc-malloc` (glibc's allocator defaults;
//! without it the bench applies [`expgrid::malloc::tune_for_training`], as `expgrid` does).

use std::time::Duration;

use burn::module::Module;
use burn::optim::{AdamWConfig, GradientsParams};
use burn::tensor::{Device, Distribution, Int, Tensor};
use expgrid::backend;
use expgrid::config::schema::{ConvOptions, EncoderSpec, LossSpec, ModelSpec, VitOptions};
use expgrid::model::Model;
use expgrid::train::loss;
use timing::median;

mod timing;

const BATCH: usize = 64;
const CLASSES: usize = 10;
const SHAPE: [usize; 3] = [3, 28, 28];
const WARMUP: usize = 2;

/// The VitOptions of the benchmarked ViTs (the only place the bench builds them).
fn vit(patch_size: usize) -> EncoderSpec {
    EncoderSpec::Vit(VitOptions {
        image_size: 28,
        patch_size,
        num_layers: 4,
        num_heads: 8,
        hidden_dim: 256,
        mlp_dim: 512,
        dropout: 0.0,
        attention_dropout: 0.0,
        attention: Default::default(),
        value_transform: Default::default(),
    })
}

/// The workloads, by the names `bench/compare.py` and `bench/torch_reference.py` use.
fn workloads() -> Vec<(&'static str, EncoderSpec)> {
    let conv =
        ConvOptions { channels: vec![32, 32, 32], kernel_size: 3, stride: 1, padding: 0, dropout: 0.0 };
    vec![
        ("vit-p7", vit(7)),
        ("vit-p4", vit(4)),
        ("conv", EncoderSpec::Conv(conv)),
        ("resnet18", EncoderSpec::Resnet18(Default::default())),
    ]
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// What one workload measured.
struct Measured {
    params: usize,
    forward: Duration,
    train: Duration,
    peak_rss_mib: f64,
}

fn bench(encoder: EncoderSpec, device: &Device, iterations: usize) -> Measured {
    let spec = ModelSpec { encoder, code_size: Some(128), classes: CLASSES };
    let _ = std::fs::write("/proc/self/clear_refs", "5"); // resets VmHWM
    let train_device = device.clone().autodiff();
    backend::seed(device, 0);
    let mut model = Some(Model::new(&spec, SHAPE, &train_device).unwrap());
    let [c, h, w] = SHAPE;
    let images = Tensor::<4>::random([BATCH, c, h, w], Distribution::Default, &train_device);
    let labels = Tensor::<1, Int>::arange(0..BATCH as i64, &train_device).remainder_scalar(CLASSES as i64);
    let targets = labels.one_hot::<2>(CLASSES).float();
    let mut optim = AdamWConfig::new().with_epsilon(1e-8).with_weight_decay(0.01).init();

    let (params, forward) = {
        let valid = model.as_ref().unwrap().valid();
        (
            valid.num_params(),
            median(WARMUP, iterations, || valid.forward(images.clone().inner()).logits.into_data()),
        )
    };
    // As in the training loop: the step takes the model by value (so the optimizer may
    // update its tensors in place), and the loss is read back.
    let train = median(WARMUP, iterations, || {
        let current = model.take().unwrap();
        let logits = current.forward(images.clone()).logits;
        let loss = loss::loss(&LossSpec::L2, logits, targets.clone());
        let grads = GradientsParams::from_grads(loss.backward(), &current);
        model = Some(optim.step(1e-3, current, grads));
        loss.into_scalar::<f64>();
    });
    Measured { params, forward, train, peak_rss_mib: peak_rss_mib() }
}

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    let (mut json, mut iterations, mut only, mut tune_malloc) = (false, 5, Vec::new(), true);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--json" => json = true,
            "--glibc-malloc" => tune_malloc = false,
            "--iterations" => iterations = args.next().and_then(|n| n.parse().ok()).expect("--iterations N"),
            _ => only.push(arg),
        }
    }
    if tune_malloc {
        expgrid::malloc::tune_for_training();
    }
    let name = std::env::var("EXPGRID_DEVICE").unwrap_or_else(|_| backend::DEFAULT_DEVICE.into());
    let device = backend::device(&name).unwrap();
    let backend = backend::backend_name(&name).unwrap();
    if !json {
        println!(
            "backend {backend}, batch {BATCH}, input {SHAPE:?}, {CLASSES} classes, median of {iterations} after {WARMUP} warm-up"
        );
    }
    for (workload, encoder) in workloads() {
        if !only.is_empty() && !only.iter().any(|o| o == workload) {
            continue;
        }
        let m = bench(encoder, &device, iterations);
        let (forward_ms, train_ms) = (m.forward.as_secs_f64() * 1e3, m.train.as_secs_f64() * 1e3);
        if json {
            let line = serde_json::json!({
                "workload": workload, "backend": backend, "params": m.params,
                "forward_ms": forward_ms, "train_ms": train_ms, "peak_rss_mib": m.peak_rss_mib,
            });
            println!("{line}");
        } else {
            println!(
                "{workload:<10} {:>10} params  forward {forward_ms:>8.1} ms  train step {train_ms:>8.1} ms  peak RSS {:>7.0} MiB",
                m.params, m.peak_rss_mib
            );
        }
    }
}
