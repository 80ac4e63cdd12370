//! Our encoders against torch/torchvision: weights written by
//! `tests/fixtures/models/make_model_fixtures.py` under torch's names are renamed to ours and
//! loaded (see `torch_fixture`); the eval-mode outputs must match torch's to 1e-4.

mod torch_fixture;

use std::path::PathBuf;

use burn::module::Module;
use burn::tensor::Tensor;
use burn_store::SafetensorsStore;
use expgrid::config::schema::{MixMode, ValueScale, ValueTransformKind, ValueTransformSpec};
use expgrid::model::cct::{self, Cct, CctOptions, PositionalEmbedding};
use expgrid::model::conv::{ConvEncoder, ConvOptions};
use expgrid::model::resnet::{self, ResNet18};
use expgrid::model::vit::{self, VisionTransformer, VitOptions};
use torch_fixture::{Safetensors, assert_close, device, load, replace_all};

fn fixture(file: &str) -> Safetensors {
    Safetensors::read(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/models").join(file))
}

/// torch's weights of `name` under the names `rename` gives.
fn store(name: &str, rename: impl Fn(&str) -> String) -> SafetensorsStore {
    fixture(&format!("{name}.safetensors")).weights(rename)
}

/// The fixture's `input` and torch's `output`.
fn io<const D: usize>(name: &str) -> (Tensor<4>, Tensor<D>) {
    let file = fixture(&format!("{name}_io.safetensors"));
    (file.tensor("input"), file.tensor("output"))
}

#[test]
fn vit_matches_torchvision() {
    let options = VitOptions {
        image_size: 28,
        patch_size: 7,
        num_layers: 2,
        num_heads: 2,
        hidden_dim: 32,
        mlp_dim: 64,
        dropout: 0.0,
        attention_dropout: 0.0,
        attention: Default::default(),
        value_transform: Default::default(),
    };
    let mut vit = VisionTransformer::new(&options, 3, Some(16), &device());
    let store = store("vit", vit::torchvision_key);
    load(&mut vit, store, false);
    let (input, output) = io::<2>("vit");
    assert_close("vit", vit.forward(input), output);
}

#[test]
fn resnet18_stem_layer1_layer2_match_torchvision() {
    let mut resnet = ResNet18::new(3, Some(16), &device());
    let store = store("resnet", resnet::torchvision_key);
    load(&mut resnet, store, true);
    let (input, output) = io::<4>("resnet");
    let x = resnet
        .maxpool
        .forward(burn::tensor::activation::relu(resnet.bn1.forward(resnet.conv1.forward(input))));
    let x = [&resnet.layer1, &resnet.layer2].into_iter().flatten().fold(x, |x, block| block.forward(x));
    assert_close("resnet", x, output);
}

#[test]
fn conv_matches_nn_experiments() {
    let options = ConvOptions { channels: vec![8, 8], kernel_size: 3, stride: 1, padding: 0, dropout: 0.0 };
    let mut conv = ConvEncoder::new(&options, [1, 28, 28], Some(16), &device());
    // nn.Sequential(Conv2d, ReLU, Conv2d, ReLU): the convs are entries 0 and 2.
    let store = store("conv", |key| {
        replace_all(key, &[("convolution.layers.0.", "layers.0."), ("convolution.layers.2.", "layers.1.")])
    });
    load(&mut conv, store, false);
    let (input, output) = io::<2>("conv");
    assert_close("conv", conv.forward(input), output);
}

/// The fixtures' CCT: 2 conv layers (kernel 3, in_planes 8), embedding 32, 2 layers, 2 heads,
/// mlp ratio 2, no dropout or drop path (eval mode makes them identities anyway).
fn cct_options(positional_embedding: PositionalEmbedding) -> CctOptions {
    CctOptions {
        num_layers: Some(2),
        num_heads: Some(2),
        mlp_ratio: Some(2.0),
        embedding_dim: Some(32),
        kernel_size: Some(3),
        n_conv_layers: Some(2),
        in_planes: 8,
        positional_embedding,
        ..CctOptions::default()
    }
}

fn assert_cct_matches(name: &str, options: CctOptions) {
    let architecture = options.architecture().unwrap();
    let mut cct = Cct::new(&options, &architecture, [3, 28, 28], Some(16), &device());
    let store = store(name, cct::compact_transformers_key);
    load(&mut cct, store, false);
    let (input, output) = io::<2>(name);
    // Evaluation copy: dropout, attention dropout and drop path off.
    assert_close(name, cct.valid().forward(input), output);
}

#[test]
fn cct_matches_compact_transformers() {
    assert_cct_matches("cct", cct_options(PositionalEmbedding::Learnable));
}

#[test]
fn cct_with_sine_embedding_matches_compact_transformers() {
    assert_cct_matches("cct_sine", cct_options(PositionalEmbedding::Sine));
}

/// softmaxᵀ(V) against its direct computation in torch: `(1-α)·V + α·N·softmax(V, tokens)`
/// with α = 0.5 in every attention, and `x - 0.3·softmax(x, tokens)` as SeqPool's values.
#[test]
fn cct_value_transforms_match_direct_computation() {
    let mut options = cct_options(PositionalEmbedding::Learnable);
    options.value_transform = ValueTransformSpec {
        kind: ValueTransformKind::SoftmaxT,
        alpha: 0.5,
        scale: ValueScale::Tokens,
        ..ValueTransformSpec::default()
    };
    options.seq_pool_value_transform = ValueTransformSpec {
        kind: ValueTransformKind::SoftmaxT,
        alpha: 0.3,
        sign: -1.0,
        mode: MixMode::Add,
        ..ValueTransformSpec::default()
    };
    assert_cct_matches("cct_vt", options);
}

/// A library function that renames a parameter key to the reference implementation's.
type KeyRename = fn(&str) -> String;

#[test]
fn torch_keys_rename_every_index_not_just_the_fixtures() {
    let cases: [(KeyRename, &str, &str); 6] = [
        (
            vit::torchvision_key,
            "encoder.layers.encoder_layer_11.self_attention.in_proj_weight",
            "encoder.layers.11.self_attention.in_proj.weight",
        ),
        (
            vit::torchvision_key,
            "encoder.layers.encoder_layer_3.mlp.3.bias",
            "encoder.layers.3.mlp.linear_2.bias",
        ),
        (resnet::torchvision_key, "layer4.0.downsample.1.running_var", "layer4.0.downsample.bn.running_var"),
        (cct::compact_transformers_key, "tokenizer.conv_layers.3.0.weight", "tokenizer.conv_layers.3.weight"),
        (
            cct::compact_transformers_key,
            "classifier.blocks.6.self_attn.proj.bias",
            "classifier.blocks.6.self_attn.out_proj.bias",
        ),
        // A key that needs no rename stays as it is.
        (
            cct::compact_transformers_key,
            "classifier.attention_pool.weight",
            "classifier.attention_pool.weight",
        ),
    ];
    for (rename, torch, ours) in cases {
        assert_eq!(rename(torch), ours, "{torch}");
    }
}
