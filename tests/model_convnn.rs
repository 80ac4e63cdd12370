//! ConvNN attention (`model::convnn`) against the reference layers of Kang & Farias 2025 as
//! re-implemented by `tests/fixtures/convnn/make_convnn_fixtures.py`: parameter counts of
//! every variant, output shapes for several token counts, and outputs on the reference's
//! weights (deterministic samplings only) to 1e-4 (loaded as `torch_fixture` describes).

mod torch_fixture;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use burn::module::Module;
use burn::tensor::{Distribution, Tensor};
use expgrid::backend;
use expgrid::config::{de, node::Node};
use expgrid::model::convnn::{
    ConvNnAttention, ConvNnBranch, ConvNnConv, ConvNnOptions, ConvNnSampling, ConvNnSimilarity,
};
use serde::Deserialize;
use serde_json::{Map, Value};
use torch_fixture::{Safetensors, assert_close, device, load};

/// The backend's random generator is global to the process, so tests that draw from it
/// (lazy parameter initialisation, random inputs, random sampling) run one at a time.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn fixture(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/convnn").join(file)
}

fn json<T: for<'de> Deserialize<'de>>(file: &str) -> T {
    serde_json::from_str(&std::fs::read_to_string(fixture(file)).unwrap()).unwrap()
}

/// One module of the fixtures: options (as expgrid's config spells them), width and heads.
#[derive(Deserialize)]
struct Variant {
    options: ConvNnOptions,
    dim: usize,
    num_heads: usize,
    #[serde(default)]
    params: usize,
}

#[test]
fn parameter_counts_match_the_reference() {
    let _serial = serial();
    let variants: Vec<Variant> = json("params.json");
    assert_eq!(variants.len(), 27);
    for Variant { options, dim, num_heads, params } in variants {
        assert_eq!(ConvNnAttention::validate(&options, dim, num_heads, 197), Ok(()), "{options:?}");
        let built = ConvNnAttention::new(&options, dim, num_heads, &device()).num_params();
        let closed = ConvNnAttention::count_params(&options, dim, num_heads);
        assert_eq!((closed, built), (params, params), "{options:?} dim {dim} heads {num_heads}");
    }
}

/// ViT-Tiny (CIFAR, 224 px, 1 head) parameter totals the reference logged in its runs'
/// `args.txt` (`total_params`, `CIFAR_Output/...`): the reference ViT around 12 attention layers
/// is patch projection 3·16·16·192 + 192, its LayerNorm 384, class token 192, classifier
/// 192·classes + classes, and per layer two LayerNorms (768) and the MLP 192·768 + 768 +
/// 768·192 + 192.
#[test]
fn vit_tiny_totals_match_the_reference_logs() {
    let vit_tiny = |options: ConvNnOptions, classes: usize| {
        let around = 3 * 16 * 16 * 192 + 192 + 384 + 192 + 192 * classes + classes;
        let layer = 768 + 192 * 768 + 768 + 768 * 192 + 192 + ConvNnAttention::count_params(&options, 192, 1);
        around + 12 * layer
    };
    let options = |k, conv| ConvNnOptions { k, conv, ..ConvNnOptions::default() };
    // Conv_test---/ViT-Tiny-CIFAR10/ConvNNAttention_standard_K9_s42
    assert_eq!(vit_tiny(options(9, ConvNnConv::Standard), 10), 9_460_618);
    // K_test_correct---/ViT-Tiny-CIFAR10/ConvNNAttention_Random_K2_NS32_s42
    assert_eq!(vit_tiny(options(2, ConvNnConv::Depthwise), 10), 5_483_914);
    // Conv_test---/ViT-Tiny-CIFAR100/ConvNNAttention_depthwise-separable_K16_s42
    assert_eq!(vit_tiny(options(16, ConvNnConv::DepthwiseSeparable), 100), 5_975_908);
}

/// Every combination of sampling, similarity, conv and branch (softmax alternating).
fn all_variants() -> Vec<ConvNnOptions> {
    let samplings = [
        ConvNnSampling::All,
        ConvNnSampling::Random { samples: 8 },
        ConvNnSampling::Spatial { samples: 8, padding: 1 },
    ];
    let similarities = [ConvNnSimilarity::Matmul, ConvNnSimilarity::Cosine, ConvNnSimilarity::Euclidean];
    let convs = [ConvNnConv::Standard, ConvNnConv::Depthwise, ConvNnConv::DepthwiseSeparable];
    let branches = [
        ConvNnBranch::None,
        ConvNnBranch::Conv1d { ratio: 0.5, kernel_size: 4 },
        ConvNnBranch::Attention { ratio: 0.25 },
    ];
    let mut variants = Vec::new();
    for sampling in samplings {
        for similarity in similarities {
            for conv in convs {
                for branch in branches {
                    let softmax_topk = variants.len() % 2 == 0;
                    variants.push(ConvNnOptions { k: 5, similarity, sampling, softmax_topk, conv, branch });
                }
            }
        }
    }
    variants
}

#[test]
fn output_shape_is_the_input_shape_for_any_token_count() {
    let _serial = serial();
    let (dim, heads) = (16, 2);
    for options in all_variants() {
        let module = ConvNnAttention::new(&options, dim, heads, &device());
        for tokens in [16, 49, 50, 65] {
            assert_eq!(ConvNnAttention::validate(&options, dim, heads, tokens), Ok(()), "{options:?}");
            let x = Tensor::<3>::random([2, tokens, dim], Distribution::Normal(0.0, 1.0), &device());
            let y = module.forward(x);
            assert_eq!(y.dims(), [2, tokens, dim], "{options:?}");
            assert!(!y.is_nan().any().into_scalar::<bool>(), "NaN: {options:?} with {tokens} tokens");
        }
    }
}

#[test]
fn gradients_reach_the_query_projection_through_the_top_k_weights() {
    let _serial = serial();
    let plain = device();
    let device = plain.clone().autodiff();
    for sampling in [ConvNnSampling::All, ConvNnSampling::Random { samples: 8 }] {
        for similarity in [ConvNnSimilarity::Matmul, ConvNnSimilarity::Cosine, ConvNnSimilarity::Euclidean] {
            let options = ConvNnOptions { k: 4, similarity, sampling, ..ConvNnOptions::default() };
            let module = ConvNnAttention::new(&options, 8, 1, &device);
            let x = Tensor::<3>::random([2, 12, 8], Distribution::Normal(0.0, 1.0), &device);
            let grads = module.forward(x).sum().backward();
            let grad = module.convnn.w_q.weight.grad(&grads).expect("w_q has a gradient");
            assert!(grad.abs().sum().into_scalar::<f32>() > 0.0, "{options:?}");
            // The evaluation copy runs on the plain device.
            let x = Tensor::<3>::random([1, 12, 8], Distribution::Normal(0.0, 1.0), &plain);
            assert_eq!(module.valid().forward(x).dims(), [1, 12, 8]);
        }
    }
}

#[test]
fn random_sampling_follows_the_seeded_generator() {
    let _serial = serial();
    let device = device();
    let options =
        ConvNnOptions { sampling: ConvNnSampling::Random { samples: 6 }, k: 3, ..Default::default() };
    let module = ConvNnAttention::new(&options, 8, 1, &device);
    let x = Tensor::<3>::random([1, 20, 8], Distribution::Normal(0.0, 1.0), &device);
    // burn initialises parameters lazily, drawing from the generator at their first use.
    module.forward(x.clone());
    let run = |seed| {
        backend::seed(&device, seed);
        module.forward(x.clone()).into_data()
    };
    let first = run(7);
    assert_eq!(first, run(7));
    assert_ne!(first, run(8));
}

/// The reference's state-dict name -> ours.
fn rename(key: &str) -> String {
    let key = match key.split_once('.') {
        Some(("convnn", _)) => key.to_string(),
        // `branch.other` is the Conv1d or Attention variant (variant names are skipped).
        Some(("conv1d" | "attention", rest)) => format!("branch.other.{rest}"),
        Some(("pointwise_linear", rest)) => format!("branch.pointwise_linear.{rest}"),
        _ => format!("convnn.{key}"),
    };
    key.replace("W_", "w_").replace("conv.0.", "conv.").replace("conv.1.", "pointwise.")
}

#[test]
fn deterministic_variants_match_the_reference() {
    let _serial = serial();
    let cases: Map<String, Value> = json("cases.json");
    assert_eq!(cases.len(), 11);
    for (name, variant) in cases {
        let Variant { options, dim, num_heads, .. } = serde_json::from_value(variant).unwrap();
        let case = Safetensors::read(&fixture(&format!("{name}.safetensors")));
        let (input, output) = (case.tensor::<3>("input"), case.tensor::<3>("output"));
        assert_eq!(ConvNnAttention::validate(&options, dim, num_heads, input.dims()[1]), Ok(()));
        let mut module = ConvNnAttention::new(&options, dim, num_heads, &device());
        load(&mut module, case.weights(rename), false);
        assert_close(&name, module.forward(input), output);
    }
}

#[test]
fn options_parse_with_the_reference_defaults() {
    let parse = |text: &str| {
        let node = Node::parse(text, Path::new("test.yaml")).unwrap();
        de::from_node::<ConvNnOptions>(&node, "convnn")
    };
    let defaults = parse("{}").unwrap();
    assert_eq!(defaults, ConvNnOptions::default());
    assert_eq!(
        defaults,
        ConvNnOptions {
            k: 9,
            similarity: ConvNnSimilarity::Matmul,
            sampling: ConvNnSampling::All,
            softmax_topk: true,
            conv: ConvNnConv::Depthwise,
            branch: ConvNnBranch::None,
        }
    );
    let options = parse(
        "k: 5\nsimilarity: euclidean\nsampling: {spatial: {samples: 32}}\nsoftmax_topk: false\nconv: depthwise_separable\nbranch: {conv1d: {ratio: 0.25}}\n",
    )
    .unwrap();
    assert_eq!(options.sampling, ConvNnSampling::Spatial { samples: 32, padding: 0 });
    assert_eq!(options.branch, ConvNnBranch::Conv1d { ratio: 0.25, kernel_size: 9 });
    assert_eq!(
        parse("sampling: {random: {samples: 32}}").unwrap().sampling,
        ConvNnSampling::Random { samples: 32 }
    );
    assert_eq!(parse("branch: attention").unwrap().branch, ConvNnBranch::Attention { ratio: 0.5 });
    assert!(parse("neighbours: 9").is_err());
    assert!(parse("sampling: random").is_err());
}

#[test]
fn validate_names_the_option_that_cannot_work() {
    let key = |options: ConvNnOptions, dim, heads, tokens| {
        ConvNnAttention::validate(&options, dim, heads, tokens).err().map(|invalid| invalid.key)
    };
    let base = ConvNnOptions::default();
    assert_eq!(key(base, 192, 3, 197), None);
    assert_eq!(key(base, 192, 3, 8), Some("k".into()));
    assert_eq!(key(ConvNnOptions { k: 0, ..base }, 192, 3, 197), Some("k".into()));
    assert_eq!(key(base, 192, 5, 197), Some("num_heads".into()));
    let random = |samples| ConvNnOptions { sampling: ConvNnSampling::Random { samples }, ..base };
    assert_eq!(key(random(32), 192, 3, 197), None);
    assert_eq!(key(random(200), 192, 3, 197), Some("sampling.random.samples".into()));
    assert_eq!(key(random(4), 192, 3, 197), Some("k".into()));
    assert_eq!(key(ConvNnOptions { k: 1, ..random(32) }, 192, 3, 197), Some("k".into()));
    let spatial = ConvNnOptions { sampling: ConvNnSampling::Spatial { samples: 10, padding: 4 }, ..base };
    assert_eq!(key(spatial, 192, 3, 17), Some("sampling.spatial.samples".into()));
    assert_eq!(key(spatial, 192, 3, 18), None);
    let attention = |ratio| ConvNnOptions { branch: ConvNnBranch::Attention { ratio }, ..base };
    assert_eq!(key(attention(0.5), 192, 3, 197), None);
    assert_eq!(key(attention(1.0), 192, 3, 197), Some("branch.attention.ratio".into()));
    assert_eq!(key(attention(0.0), 192, 3, 197), Some("branch.attention.ratio".into()));
    assert_eq!(key(attention(0.1), 192, 3, 197), Some("branch.attention.ratio".into()));
    let conv1d =
        |kernel_size| ConvNnOptions { branch: ConvNnBranch::Conv1d { ratio: 0.5, kernel_size }, ..base };
    assert_eq!(key(conv1d(0), 192, 3, 197), Some("branch.conv1d.kernel_size".into()));
}
