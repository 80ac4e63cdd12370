//! Single burn ops at the shapes of a ViT p7 training step (batch 64, 17 tokens, width 256,
//! 8 heads, MLP 512) and of the conv and ResNet18 encoders on 28×28 images (batch 64) on the
//! default device: the micro-benchmark of the burn-flex patches in `bench/upstream/` (run it
//! in this checkout and in the patched scratch copy).
//!
//! `cargo bench --bench ops --profile dev`; the built executable takes `--json` (one JSON
//! object per op) and `--iterations N` (default 200).

use std::time::Duration;

use burn::tensor::activation::gelu;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
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
    // The conv encoder's second layer (32 -> 32 channels, 3x3, on 26x26), ResNet18's stem
    // (3 -> 64, 7x7, stride 2, padding 3, on 28x28) and a layer1 conv (64 -> 64, 3x3,
    // padding 1, on 7x7).
    let conv_x = Tensor::<4>::random([64, 32, 26, 26], Distribution::Default, &device);
    let conv_w = Tensor::<4>::random([32, 32, 3, 3], Distribution::Default, &device);
    let no_padding = ConvOptions::new([1, 1], [0, 0], [1, 1], 1);
    let conv_train = |x: [usize; 4], w: [usize; 4], options: ConvOptions<2>| {
        let x = Tensor::<4>::random(x, Distribution::Default, &train_device).require_grad();
        let w = Tensor::<4>::random(w, Distribution::Default, &train_device).require_grad();
        move || {
            let grads = conv2d(x.clone(), w.clone(), None, options.clone()).sum().backward();
            (x.grad(&grads).map(|g| g.into_data()), w.grad(&grads).map(|g| g.into_data()))
        }
    };
    let encoder_step = conv_train([64, 32, 26, 26], [32, 32, 3, 3], no_padding.clone());
    let stem_step = conv_train([64, 3, 28, 28], [64, 3, 7, 7], ConvOptions::new([2, 2], [3, 3], [1, 1], 1));
    let layer1_step = conv_train([64, 64, 7, 7], [64, 64, 3, 3], ConvOptions::new([1, 1], [1, 1], [1, 1], 1));

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
            "conv2d [64, 32, 26, 26] * [32, 32, 3, 3]",
            median(WARMUP, iterations, || {
                conv2d(conv_x.clone(), conv_w.clone(), None, no_padding.clone()).into_data()
            }),
        ),
        (
            "conv2d forward + backward [64, 32, 26, 26] * [32, 32, 3, 3]",
            median(WARMUP, iterations, encoder_step),
        ),
        (
            "conv2d forward + backward [64, 3, 28, 28] * [64, 3, 7, 7] s2 p3",
            median(WARMUP, iterations, stem_step),
        ),
        (
            "conv2d forward + backward [64, 64, 7, 7] * [64, 64, 3, 3] p1",
            median(WARMUP, iterations, layer1_step),
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
