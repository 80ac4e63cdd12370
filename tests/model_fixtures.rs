//! Our encoders against torch/torchvision: weights written by
//! `tests/fixtures/models/make_model_fixtures.py` are loaded with burn-store (torch names
//! remapped to ours, Linear weights transposed by `PyTorchToBurnAdapter`), and the eval-mode
//! outputs must match torch's to 1e-4.

use std::path::PathBuf;

use burn::tensor::{Device, Tensor, TensorData};
use burn_store::{ModuleSnapshot, PyTorchToBurnAdapter, SafetensorsStore};
use expgrid::backend;
use expgrid::model::conv::{ConvEncoder, ConvOptions};
use expgrid::model::resnet::ResNet18;
use expgrid::model::vit::{VisionTransformer, VitOptions};

const TOLERANCE: f32 = 1e-4;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/models").join(name)
}

fn device() -> Device {
    backend::device(backend::DEFAULT_DEVICE).unwrap()
}

/// torch's weights, with the adapter and the given `(regex, replacement)` key remappings.
fn store(name: &str, remaps: &[(&str, &str)]) -> SafetensorsStore {
    remaps.iter().fold(
        SafetensorsStore::from_file(fixture(&format!("{name}.safetensors")))
            .with_from_adapter(PyTorchToBurnAdapter),
        |store, (from, to)| store.with_key_remapping(*from, *to),
    )
}

/// Loads every tensor of the file into the module and checks none is left out.
fn load<M: ModuleSnapshot>(module: &mut M, store: SafetensorsStore, partial: bool) {
    let mut store = store.allow_partial(partial);
    let result = module.load_from(&mut store).expect("weights load");
    assert!(result.errors.is_empty(), "{:?}", result.errors);
    assert!(result.unused.is_empty(), "unused tensors: {:?}", result.unused);
    if !partial {
        assert!(result.missing.is_empty(), "missing tensors: {:?}", result.missing);
    }
}

/// The fixture's `input` and torch's `output`.
fn io<const D: usize>(name: &str) -> (Tensor<4>, Tensor<D>) {
    let bytes = std::fs::read(fixture(&format!("{name}_io.safetensors"))).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let tensor = |key: &str| {
        let view = file.tensor(key).unwrap();
        let values: Vec<f32> =
            view.data().chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
        TensorData::new(values, view.shape().to_vec())
    };
    (Tensor::from_data(tensor("input"), &device()), Tensor::from_data(tensor("output"), &device()))
}

fn assert_close<const D: usize>(ours: Tensor<D>, torch: Tensor<D>) {
    assert_eq!(ours.dims(), torch.dims());
    let diff: f32 = (ours - torch).abs().max().into_scalar();
    println!("max abs diff {diff:e}");
    assert!(diff < TOLERANCE, "max abs diff {diff} >= {TOLERANCE}");
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
    };
    let mut vit = VisionTransformer::new(&options, 3, Some(16), &device());
    let store = store(
        "vit",
        &[
            (r"^encoder\.layers\.encoder_layer_(\d+)\.", "encoder.layers.$1."),
            (r"\.self_attention\.in_proj_(weight|bias)$", ".self_attention.in_proj.$1"),
            (r"\.mlp\.0\.", ".mlp.linear_1."),
            (r"\.mlp\.3\.", ".mlp.linear_2."),
        ],
    );
    load(&mut vit, store, false);
    let (input, output) = io::<2>("vit");
    assert_close(vit.forward(input), output);
}

#[test]
fn resnet18_stem_layer1_layer2_match_torchvision() {
    let mut resnet = ResNet18::new(3, Some(16), &device());
    let store = store(
        "resnet",
        &[(r"\.downsample\.0\.", ".downsample.conv."), (r"\.downsample\.1\.", ".downsample.bn.")],
    );
    load(&mut resnet, store, true);
    let (input, output) = io::<4>("resnet");
    let x = resnet
        .maxpool
        .forward(burn::tensor::activation::relu(resnet.bn1.forward(resnet.conv1.forward(input))));
    let x = [&resnet.layer1, &resnet.layer2].into_iter().flatten().fold(x, |x, block| block.forward(x));
    assert_close(x, output);
}

#[test]
fn conv_matches_nn_experiments() {
    let options = ConvOptions { channels: vec![8, 8], kernel_size: 3, stride: 1, padding: 0, dropout: 0.0 };
    let mut conv = ConvEncoder::new(&options, [1, 28, 28], Some(16), &device());
    let store = store("conv", &[(r"^convolution\.layers\.", "layers.")]).map_indices_contiguous(true);
    load(&mut conv, store, false);
    let (input, output) = io::<2>("conv");
    assert_close(conv.forward(input), output);
}
