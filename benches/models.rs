//! Forward and training-step times of the encoders on the default backend.
//!
//! `cargo bench --bench models` (or `--features tch` for libtorch). Per model: batch 64 of
//! 3x28x28, 10 classes; forward = eval-mode forward on the plain device; train step =
//! forward + MSE against one-hot + backward + AdamW step on the autodiff device. Median of
//! a few iterations after a warm-up; peak resident memory (VmHWM, reset through
//! `/proc/self/clear_refs` before each model).

use std::time::{Duration, Instant};

use burn::module::Module;
use burn::optim::{AdamWConfig, GradientsParams};
use burn::tensor::{Device, Distribution, Int, Tensor};
use expgrid::backend;
use expgrid::config::schema::{ConvOptions, EncoderSpec, ModelSpec, VitOptions};
use expgrid::model::Model;

const BATCH: usize = 64;
const CLASSES: usize = 10;
const SHAPE: [usize; 3] = [3, 28, 28];
const WARMUP: usize = 2;
const ITERATIONS: usize = 5;

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

fn median(mut f: impl FnMut()) -> Duration {
    (0..WARMUP).for_each(|_| f());
    let mut times: Vec<Duration> = (0..ITERATIONS)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[ITERATIONS / 2]
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn bench(name: &str, encoder: EncoderSpec, device: &Device) {
    let spec = ModelSpec { encoder, code_size: Some(128), classes: CLASSES };
    let _ = std::fs::write("/proc/self/clear_refs", "5"); // resets VmHWM
    let train_device = device.clone().autodiff();
    backend::seed(device, 0);
    let mut model = Model::new(&spec, SHAPE, &train_device).unwrap();
    let [c, h, w] = SHAPE;
    let images = Tensor::<4>::random([BATCH, c, h, w], Distribution::Default, &train_device);
    let labels = Tensor::<1, Int>::arange(0..BATCH as i64, &train_device).remainder_scalar(CLASSES as i64);
    let targets = labels.one_hot::<2>(CLASSES).float();
    let mut optim = AdamWConfig::new().with_epsilon(1e-8).with_weight_decay(0.01).init();

    let forward = median(|| {
        let valid = model.valid();
        let logits = valid.forward(images.clone().inner()).logits;
        logits.into_data();
    });
    let train = median(|| {
        let logits = model.clone().forward(images.clone()).logits;
        let loss = (logits - targets.clone()).powi_scalar(2).mean();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(1e-3, model.clone(), grads);
        loss.into_data();
    });
    println!(
        "{name:<32} {:>10} params  forward {:>8.1} ms  train step {:>8.1} ms  peak RSS {:>7.0} MiB",
        model.num_params(),
        forward.as_secs_f64() * 1e3,
        train.as_secs_f64() * 1e3,
        peak_rss_mib()
    );
}

fn main() {
    let name = std::env::var("EXPGRID_DEVICE").unwrap_or_else(|_| backend::DEFAULT_DEVICE.into());
    let device = backend::device(&name).unwrap();
    println!(
        "backend {}, batch {BATCH}, input {SHAPE:?}, {CLASSES} classes, median of {ITERATIONS} after {WARMUP} warm-up",
        backend::backend_name(&name).unwrap()
    );
    bench("vit p7 l4 h8 d256 m512 c128", vit(7), &device);
    bench("vit p4 l4 h8 d256 m512 c128", vit(4), &device);
    bench(
        "conv [32,32,32] k3 c128",
        EncoderSpec::Conv(ConvOptions {
            channels: vec![32, 32, 32],
            kernel_size: 3,
            stride: 1,
            padding: 0,
            dropout: 0.0,
        }),
        &device,
    );
    bench("resnet18 c128", EncoderSpec::Resnet18 {}, &device);
}
