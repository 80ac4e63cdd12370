//! Parameter counts, validation, shapes, seeding and train/eval behaviour of the models.

use std::sync::{Mutex, MutexGuard};

use burn::module::Module;
use burn::tensor::{Device, Distribution, Tensor};
use expgrid::backend;
use expgrid::config::schema::{ConvOptions, EncoderSpec, ModelSpec, VitOptions};
use expgrid::model::{Model, count_params, embedding_dim, validate};

fn vit(patch_size: usize, num_heads: usize, hidden_dim: usize) -> EncoderSpec {
    EncoderSpec::Vit(VitOptions {
        image_size: 28,
        patch_size,
        num_layers: 4,
        num_heads,
        hidden_dim,
        mlp_dim: 512,
        dropout: 0.0,
        attention_dropout: 0.0,
    })
}

fn conv(channels: Vec<usize>, kernel_size: usize, stride: usize, padding: usize) -> EncoderSpec {
    EncoderSpec::Conv(ConvOptions { channels, kernel_size, stride, padding, dropout: 0.0 })
}

fn spec(encoder: EncoderSpec, code_size: Option<usize>, classes: usize) -> ModelSpec {
    ModelSpec { encoder, code_size, classes }
}

/// The backend's random generator is global to the process, so tests that draw from it
/// (model initialisation, random inputs, dropout) run one at a time: otherwise another test
/// could draw between `seed_initialisation_is_reproducible`'s seeding and its draws.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn device() -> Device {
    backend::device(backend::DEFAULT_DEVICE).unwrap()
}

fn built_params(spec: &ModelSpec, shape: [usize; 3]) -> usize {
    Model::new(spec, shape, &device()).unwrap().num_params()
}

#[test]
fn vit_has_torchvision_parameter_count() {
    let _serial = serial();
    let s = spec(vit(7, 8, 256), Some(128), 10);
    assert_eq!(count_params(&s, [3, 28, 28]).unwrap(), 2_185_610);
    assert_eq!(built_params(&s, [3, 28, 28]), 2_185_610);
}

#[test]
fn resnet18_has_torchvision_parameter_count() {
    let _serial = serial();
    // resnet18 with fc 512 -> 1000 as the head.
    let s = spec(EncoderSpec::Resnet18 {}, None, 1000);
    assert_eq!(count_params(&s, [3, 224, 224]).unwrap(), 11_689_512);
    assert_eq!(built_params(&s, [3, 28, 28]), 11_689_512);
}

#[test]
fn closed_form_count_matches_built_models() {
    let _serial = serial();
    let cases = [
        (spec(vit(7, 8, 256), None, 10), [3, 28, 28]),
        (spec(vit(4, 4, 64), Some(32), 7), [1, 28, 28]),
        (spec(EncoderSpec::Resnet18 {}, Some(128), 10), [3, 28, 28]),
        (spec(EncoderSpec::Resnet18 {}, None, 10), [1, 32, 32]),
        (spec(conv(vec![32, 32, 32], 3, 1, 0), Some(128), 10), [3, 28, 28]),
        (spec(conv(vec![16, 8], 5, 2, 1), None, 10), [1, 28, 28]),
    ];
    for (s, shape) in cases {
        assert_eq!(count_params(&s, shape).unwrap(), built_params(&s, shape), "{s:?}");
    }
}

#[test]
fn validation_names_the_problem() {
    let _serial = serial();
    let err = |s: ModelSpec, shape| validate(&s, shape).unwrap_err();
    let key_and_text = |e: expgrid::model::InvalidModel| (e.key, e.message);
    let (key, text) = key_and_text(err(spec(vit(7, 3, 256), None, 10), [3, 28, 28]));
    assert_eq!(key, "num_heads");
    assert!(text.contains("not divisible by num_heads 3"), "{text}");
    assert_eq!(err(spec(vit(7, 8, 256), None, 10), [3, 32, 32]).key, "image_size");
    assert_eq!(err(spec(vit(5, 8, 256), None, 10), [3, 28, 28]).key, "patch_size");
    let (key, text) = key_and_text(err(spec(conv(vec![8; 20], 3, 1, 0), None, 10), [1, 28, 28]));
    assert_eq!(key, "channels");
    assert!(text.contains("does not fit"), "{text}");
    assert_eq!(err(spec(conv(vec![], 3, 1, 0), None, 10), [1, 28, 28]).key, "channels");
    assert_eq!(err(spec(EncoderSpec::Resnet18 {}, Some(0), 10), [3, 28, 28]).key, "code_size");
    assert!(Model::new(&spec(vit(7, 3, 256), None, 10), [3, 28, 28], &device()).is_err());
    assert!(count_params(&spec(vit(7, 3, 256), None, 10), [3, 28, 28]).is_err());
}

#[test]
fn forward_shapes() {
    let _serial = serial();
    let images = Tensor::<4>::random([2, 3, 28, 28], Distribution::Default, &device());
    for (encoder, code_size) in [
        (vit(7, 2, 32), Some(16)),
        (vit(7, 2, 32), None),
        (EncoderSpec::Resnet18 {}, Some(16)),
        (EncoderSpec::Resnet18 {}, None),
        (conv(vec![4, 4], 3, 1, 1), Some(16)),
        (conv(vec![4, 4], 3, 2, 0), None),
    ] {
        let s = spec(encoder, code_size, 10);
        let out = Model::new(&s, [3, 28, 28], &device()).unwrap().forward(images.clone());
        assert_eq!(out.embedding.dims(), [2, embedding_dim(&s, [3, 28, 28])], "{s:?}");
        assert_eq!(out.logits.dims(), [2, 10], "{s:?}");
    }
}

#[test]
fn seeded_initialisation_is_reproducible() {
    let _serial = serial();
    let s = spec(conv(vec![4], 3, 1, 0), Some(8), 3);
    let weights = |seed| {
        let device = device();
        backend::seed(&device, seed);
        let model = Model::new(&s, [1, 8, 8], &device).unwrap();
        model.linear.weight.val().into_data().try_to_vec::<f32>().unwrap()
    };
    assert_eq!(weights(1), weights(1));
    assert_ne!(weights(1), weights(2));
}

/// Dropout and BatchNorm act only on an autodiff device; `valid()` gives the eval model.
#[test]
fn train_and_eval_modes() {
    let _serial = serial();
    let train_device = device().autodiff();
    let s = spec(EncoderSpec::Resnet18 {}, Some(8), 3);
    let model = Model::new(&s, [3, 28, 28], &train_device).unwrap();
    let images = Tensor::<4>::random([4, 3, 28, 28], Distribution::Default, &train_device);
    let eval = |model: &Model| {
        let valid = model.valid();
        let images = images.clone().inner();
        valid.forward(images).logits.into_data().try_to_vec::<f32>().unwrap()
    };
    let before = eval(&model);
    assert_eq!(before, eval(&model), "eval mode is deterministic");
    model.forward(images.clone()); // training step: updates BatchNorm running statistics
    assert_ne!(before, eval(&model), "training forward updated the running statistics");

    let dropout = EncoderSpec::Conv(ConvOptions {
        channels: vec![4],
        kernel_size: 3,
        stride: 1,
        padding: 0,
        dropout: 0.5,
    });
    let model = Model::new(&spec(dropout, None, 3), [3, 28, 28], &train_device).unwrap();
    let a = model.forward(images.clone()).embedding;
    let b = model.forward(images.clone()).embedding;
    assert!(!a.clone().equal(b).all().into_scalar::<bool>(), "dropout in training");
    let valid = model.valid();
    let a = valid.forward(images.clone().inner()).embedding;
    let b = valid.forward(images.clone().inner()).embedding;
    assert!(a.equal(b).all().into_scalar::<bool>(), "no dropout in eval");
}
