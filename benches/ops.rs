//! Single burn ops at the shapes of a ViT p7 training step (batch 64, 17 tokens, width 256,
//! 8 heads, MLP 512) on the default device: the micro-benchmark of the burn-flex patches in
//! `bench/upstream/` (run it in this checkout and in the patched scratch copy).
//!
//! `cargo bench --bench ops --profile dev`; the built executable takes `--json` (one JSON
//! object per op) and `--iterations N` (default 200).

use std::time::Duration;

use burn::tensor::activation::gelu;
use burn::tensor::{Device, Distribution, Tensor};
use expgrid::backend;
use timing::median;

mod timing;

const WARMUP: usize = 5;

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    let (mut json, mut iterations) = (false, 200);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--json" => json = true,
            "--iterations" => iterations = args.next().and_then(|n| n.parse().ok()).expect("--iterations N"),
            other => panic!("unknown argument `{other}`"),
        }
    }
    expgrid::malloc::tune_for_training();
    let device = backend::device(backend::DEFAULT_DEVICE).unwrap();
    let random = |shape: &[usize], device: &Device| {
        Tensor::<2>::random([shape[0], shape[1]], Distribution::Default, device)
    };
    let tokens = random(&[64 * 17, 256], &device);
    let in_proj = random(&[256, 768], &device);
    let hidden = random(&[64 * 17, 512], &device);
    let hidden_other = random(&[64 * 17, 512], &device);
    let q = Tensor::<4>::random([64, 8, 17, 32], Distribution::Default, &device);
    let k_t = Tensor::<4>::random([64, 8, 32, 17], Distribution::Default, &device);
    let train_device = device.clone().autodiff();
    let hidden_grad = random(&[64 * 17, 512], &train_device).require_grad();

    let ops: Vec<(&str, Duration)> = vec![
        (
            "matmul [1088, 256] x [256, 768]",
            median(WARMUP, iterations, || tokens.clone().matmul(in_proj.clone()).into_data()),
        ),
        (
            "batched matmul [64, 8, 17, 32] x [64, 8, 32, 17]",
            median(WARMUP, iterations, || q.clone().matmul(k_t.clone()).into_data()),
        ),
        ("gelu [1088, 512]", median(WARMUP, iterations, || gelu(hidden.clone()).into_data())),
        (
            "gelu forward + backward [1088, 512]",
            median(WARMUP, iterations, || {
                hidden_grad.grad(&gelu(hidden_grad.clone()).sum().backward()).map(|g| g.into_data())
            }),
        ),
        (
            "add [1088, 512]",
            median(WARMUP, iterations, || (hidden.clone() + hidden_other.clone()).into_data()),
        ),
        (
            "mul [1088, 512]",
            median(WARMUP, iterations, || (hidden.clone() * hidden_other.clone()).into_data()),
        ),
        ("mul scalar [1088, 512]", median(WARMUP, iterations, || (hidden.clone() * 0.9).into_data())),
    ];
    for (op, time) in ops {
        let us = time.as_secs_f64() * 1e6;
        if json {
            println!("{}", serde_json::json!({ "op": op, "median_us": us }));
        } else {
            println!("{op:<50} {us:>10.1} µs");
        }
    }
}
