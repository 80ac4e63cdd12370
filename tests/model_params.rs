//! Parameter counts, validation, shapes, seeding and train/eval behaviour of the models.

use std::sync::{Mutex, MutexGuard};

use burn::module::Module;
use burn::tensor::{Device, Distribution, Tensor};
use expgrid::backend;
use expgrid::config::schema::{
    AttentionSpec, CctOptions, CctPreset, ConvNnBranch, ConvNnConv, ConvNnOptions, ConvNnSampling,
    ConvOptions, EncoderSpec, MixMode, ModelSpec, PositionalEmbedding, Resnet18Options, ValueScale,
    ValueTransformKind, ValueTransformSpec, VitOptions,
};
use expgrid::config::{de, node::Node};
use expgrid::model::cct::Cct;
use expgrid::model::{Model, count_params, embedding_dim, validate};

/// ConvNN on half the channels beside softmax attention on the other half.
fn convnn_branching() -> ConvNnOptions {
    ConvNnOptions { branch: ConvNnBranch::Attention { ratio: 0.5 }, ..Default::default() }
}

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
        attention: Default::default(),
        value_transform: Default::default(),
    })
}

/// `vit(7, heads, 64)` with ConvNN attention.
fn vit_convnn(num_heads: usize, convnn: ConvNnOptions) -> EncoderSpec {
    let EncoderSpec::Vit(options) = vit(7, num_heads, 64) else { unreachable!() };
    EncoderSpec::Vit(VitOptions { attention: AttentionSpec::Convnn(convnn), ..options })
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
    let s = spec(EncoderSpec::Resnet18(Resnet18Options {}), None, 1000);
    assert_eq!(count_params(&s, [3, 224, 224]).unwrap(), 11_689_512);
    assert_eq!(built_params(&s, [3, 28, 28]), 11_689_512);
}

#[test]
fn closed_form_count_matches_built_models() {
    let _serial = serial();
    let cases = [
        (spec(vit(7, 8, 256), None, 10), [3, 28, 28]),
        (spec(vit(4, 4, 64), Some(32), 7), [1, 28, 28]),
        (spec(EncoderSpec::Resnet18(Resnet18Options {}), Some(128), 10), [3, 28, 28]),
        (spec(EncoderSpec::Resnet18(Resnet18Options {}), None, 10), [1, 32, 32]),
        (spec(conv(vec![32, 32, 32], 3, 1, 0), Some(128), 10), [3, 28, 28]),
        (spec(conv(vec![16, 8], 5, 2, 1), None, 10), [1, 28, 28]),
        (spec(vit_convnn(2, ConvNnOptions::default()), Some(16), 10), [1, 28, 28]),
        (spec(vit_convnn(4, convnn_branching()), None, 10), [3, 28, 28]),
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
    assert_eq!(
        err(spec(EncoderSpec::Resnet18(Resnet18Options {}), Some(0), 10), [3, 28, 28]).key,
        "code_size"
    );
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
        (EncoderSpec::Resnet18(Resnet18Options {}), Some(16)),
        (EncoderSpec::Resnet18(Resnet18Options {}), None),
        (conv(vec![4, 4], 3, 1, 1), Some(16)),
        (conv(vec![4, 4], 3, 2, 0), None),
        (EncoderSpec::Cct(cct(Some(CctPreset::Cct2_3x2))), Some(16)),
        (EncoderSpec::Cct(cct(Some(CctPreset::Cct6_3x1))), None),
        (
            vit_convnn(
                1,
                ConvNnOptions { sampling: ConvNnSampling::Random { samples: 8 }, ..Default::default() },
            ),
            None,
        ),
        (
            EncoderSpec::Cct(CctOptions {
                attention: AttentionSpec::Convnn(convnn_branching()),
                ..cct(Some(CctPreset::Cct2_3x2))
            }),
            Some(8),
        ),
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
    let s = spec(EncoderSpec::Resnet18(Resnet18Options {}), Some(8), 3);
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

fn cct(preset: Option<CctPreset>) -> CctOptions {
    CctOptions { preset, ..CctOptions::default() }
}

/// A preset alone gets the reference's defaults (`CCT(...)` in Compact-Transformers):
/// 64 tokenizer planes, learnable positions, attention dropout and drop path 0.1.
#[test]
fn cct_options_parse_with_the_reference_defaults() {
    let node = Node::parse("preset: cct_2_3x2", std::path::Path::new("test.yaml")).unwrap();
    let parsed = de::from_node::<CctOptions>(&node, "cct").unwrap();
    assert_eq!(parsed, cct(Some(CctPreset::Cct2_3x2)));
    assert_eq!(
        (parsed.in_planes, parsed.positional_embedding, parsed.dropout),
        (64, PositionalEmbedding::Learnable, 0.0)
    );
    assert_eq!((parsed.attention_dropout, parsed.stochastic_depth), (0.1, 0.1));
    assert_eq!(
        (parsed.attention, parsed.value_transform.kind),
        (AttentionSpec::Softmax, ValueTransformKind::None)
    );
}

/// The check: `cct_2_3x2` on 3x32x32 with 10 classes and a learnable positional
/// embedding, its `fc` as the classifier (here: no code layer, our head is the 10-way fc).
#[test]
fn cct_2_3x2_has_the_papers_parameter_count() {
    let _serial = serial();
    let s = spec(EncoderSpec::Cct(cct(Some(CctPreset::Cct2_3x2))), None, 10);
    assert_eq!(count_params(&s, [3, 32, 32]).unwrap(), 283_723);
    assert_eq!(built_params(&s, [3, 32, 32]), 283_723);
}

#[test]
fn cct_closed_form_count_matches_built_models() {
    let _serial = serial();
    let mut sine = cct(Some(CctPreset::Cct4_3x2));
    sine.positional_embedding = PositionalEmbedding::Sine;
    let mut by_hand = cct(None);
    (by_hand.num_layers, by_hand.num_heads, by_hand.mlp_ratio) = (Some(3), Some(4), Some(1.5));
    (by_hand.embedding_dim, by_hand.kernel_size, by_hand.n_conv_layers) = (Some(64), Some(5), Some(3));
    by_hand.in_planes = 16;
    let mut preset_and_override = cct(Some(CctPreset::Cct7_3x1));
    preset_and_override.embedding_dim = Some(64);
    let mut convnn = cct(Some(CctPreset::Cct2_3x2));
    convnn.attention =
        AttentionSpec::Convnn(ConvNnOptions { conv: ConvNnConv::Standard, ..Default::default() });
    for (options, code_size, shape) in [
        (cct(Some(CctPreset::Cct6_3x1)), Some(128), [3, 28, 28]),
        (cct(Some(CctPreset::Cct7_3x2)), None, [1, 28, 28]),
        (cct(Some(CctPreset::Cct7_7x2)), None, [3, 32, 32]),
        (sine, Some(16), [3, 28, 28]),
        (by_hand, None, [3, 28, 28]),
        (preset_and_override, Some(32), [3, 28, 28]),
        (convnn, None, [1, 28, 28]),
    ] {
        let s = spec(EncoderSpec::Cct(options), code_size, 10);
        assert_eq!(count_params(&s, shape).unwrap(), built_params(&s, shape), "{s:?}");
    }
}

#[test]
fn cct_presets_follow_compact_transformers() {
    let arch = |preset: CctPreset| {
        let a = preset.architecture();
        (a.num_layers, a.num_heads, a.mlp_ratio, a.embedding_dim, a.kernel_size, a.n_conv_layers)
    };
    assert_eq!(arch(CctPreset::Cct2_3x2), (2, 2, 1.0, 128, 3, 2));
    assert_eq!(arch(CctPreset::Cct4_3x2), (4, 2, 1.0, 128, 3, 2));
    assert_eq!(arch(CctPreset::Cct6_3x1), (6, 4, 2.0, 256, 3, 1));
    assert_eq!(arch(CctPreset::Cct7_3x2), (7, 4, 2.0, 256, 3, 2));
    assert_eq!(arch(CctPreset::Cct14_7x2), (14, 6, 3.0, 384, 7, 2));
    // Tokens: 28 -> conv (stride 1) 28 -> pool 14 -> conv 14 -> pool 7; kernel 7: stride 2.
    let tokens = |preset: CctPreset, side| Cct::sequence_length(&preset.architecture(), [3, side, side]);
    assert_eq!(tokens(CctPreset::Cct7_3x2, 28), 49);
    assert_eq!(tokens(CctPreset::Cct7_3x1, 32), 256);
    assert_eq!(tokens(CctPreset::Cct7_7x2, 224), 196);
}

#[test]
fn cct_validation_names_the_problem() {
    let _serial = serial();
    let err =
        |options: CctOptions, shape| validate(&spec(EncoderSpec::Cct(options), None, 10), shape).unwrap_err();
    let e = err(cct(None), [3, 28, 28]);
    assert_eq!(e.key, "num_layers");
    assert!(e.message.contains("or a `preset`"), "{}", e.message);
    let mut heads = cct(Some(CctPreset::Cct2_3x2));
    heads.num_heads = Some(3);
    assert_eq!(err(heads, [3, 28, 28]).key, "num_heads");
    let mut narrow = cct(Some(CctPreset::Cct2_3x2));
    narrow.mlp_ratio = Some(0.001);
    let e = err(narrow, [3, 28, 28]);
    assert_eq!(e.key, "mlp_ratio");
    assert!(e.message.contains("MLP of width 0"), "{}", e.message);
    let mut depth = cct(Some(CctPreset::Cct2_3x2));
    depth.stochastic_depth = 1.0;
    assert_eq!(err(depth, [3, 28, 28]).key, "stochastic_depth");
    let mut too_many_neighbours = cct(Some(CctPreset::Cct2_3x2));
    too_many_neighbours.attention = AttentionSpec::Convnn(ConvNnOptions { k: 50, ..Default::default() });
    let e = err(too_many_neighbours, [3, 28, 28]);
    assert_eq!(e.key, "attention.convnn.k");
    assert!(e.message.contains("larger than the 49 tokens"), "{}", e.message);
    let mut sign = cct(Some(CctPreset::Cct2_3x2));
    sign.seq_pool_value_transform.sign = 2.0;
    assert_eq!(err(sign, [3, 28, 28]).key, "seq_pool_value_transform.sign");
}

/// Drop path and dropout act in training only: two training forwards differ, eval ones agree.
#[test]
fn cct_drop_path_acts_in_training_only() {
    let _serial = serial();
    let train_device = device().autodiff();
    let mut options = cct(Some(CctPreset::Cct2_3x2));
    (options.attention_dropout, options.stochastic_depth) = (0.0, 0.5);
    let model = Model::new(&spec(EncoderSpec::Cct(options), None, 10), [3, 28, 28], &train_device).unwrap();
    let images = Tensor::<4>::random([8, 3, 28, 28], Distribution::Default, &train_device);
    let a = model.forward(images.clone()).embedding;
    let b = model.forward(images.clone()).embedding;
    assert!(!a.equal(b).all().into_scalar::<bool>(), "drop path in training");
    let valid = model.valid();
    let a = valid.forward(images.clone().inner()).embedding;
    let b = valid.forward(images.inner()).embedding;
    assert!(a.equal(b).all().into_scalar::<bool>(), "no drop path in eval");
}

/// `apply` against the definition, element by element: softmax over tokens per channel,
/// then `mix`/`add` with sign and scale; and the per-sample min-max rescale.
#[test]
fn value_transform_matches_its_definition() {
    let _serial = serial();
    let (batch, tokens, channels) = (2, 5, 3);
    let v = Tensor::<3>::random([batch, tokens, channels], Distribution::Normal(0.0, 2.0), &device());
    let values = v.clone().into_data().try_to_vec::<f32>().unwrap();
    let at = |b: usize, t: usize, c: usize| values[(b * tokens + t) * channels + c] as f64;
    let softmax_t = |b, t, c| {
        let sum: f64 = (0..tokens).map(|u| at(b, u, c).exp()).sum();
        at(b, t, c).exp() / sum
    };
    let signed_norm = |b: usize, t, c| {
        let sample: Vec<f64> = (0..tokens * channels).map(|i| at(b, i / channels, i % channels)).collect();
        let (min, max) = sample.iter().fold((f64::MAX, f64::MIN), |(lo, hi), &x| (lo.min(x), hi.max(x)));
        (at(b, t, c) - min) / (max - min) * 2.0 - 1.0
    };
    let check = |spec: ValueTransformSpec, expected: &dyn Fn(usize, usize, usize) -> f64| {
        let out = spec.apply(v.clone(), 1).into_data().try_to_vec::<f32>().unwrap();
        for (i, &o) in out.iter().enumerate() {
            let (b, t, c) = (i / (tokens * channels), i / channels % tokens, i % channels);
            assert!(
                (o as f64 - expected(b, t, c)).abs() < 1e-5,
                "{spec:?} at {b},{t},{c}: {o} vs {}",
                expected(b, t, c)
            );
        }
    };
    let base = ValueTransformSpec::default();
    check(base, &|b, t, c| at(b, t, c));
    let softmax = ValueTransformSpec { kind: ValueTransformKind::SoftmaxT, ..base };
    check(softmax, &|b, t, c| softmax_t(b, t, c));
    check(ValueTransformSpec { alpha: 0.25, scale: ValueScale::Tokens, ..softmax }, &|b, t, c| {
        0.75 * at(b, t, c) + 0.25 * tokens as f64 * softmax_t(b, t, c)
    });
    check(
        ValueTransformSpec {
            alpha: 0.5,
            sign: -1.0,
            mode: MixMode::Add,
            scale: ValueScale::Factor(10.0),
            ..softmax
        },
        &|b, t, c| at(b, t, c) - 0.5 * 10.0 * softmax_t(b, t, c),
    );
    check(ValueTransformSpec { kind: ValueTransformKind::SignedNorm, ..base }, &|b, t, c| {
        signed_norm(b, t, c)
    });
}
