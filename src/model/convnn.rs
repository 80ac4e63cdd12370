//! ConvNN attention: Kang & Farias 2025, "Attention Via Convolutional Nearest Neighbors",
//! after `layers.py` of github.com/mingikang31/Convolutional-Nearest-Neighbor-Attention
//! (commit 11f9b20): `MultiHeadConvNNAttention` (`forward`, `_calculate_*_matrix`,
//! `_prime`, `_prime_N`, `_prime_softmax`, `_prime_softmax_N`), and for the branching
//! variants `MultiHeadBranchingConv` (with `MultiHeadConv1dAttention`) and
//! `MultiHeadBranchingAttention` (with `MultiHeadAttention`, here `AttentionBranch`). Module and parameter names
//! are the reference's (`W_q` is `w_q`; the depthwise-separable `conv.0`/`conv.1` are
//! `conv`/`pointwise`).
//!
//! Per head, for every token `i`: similarities `s(k_i, q_j)` to the candidate tokens `j`,
//! the K best, their weights (a softmax over the K, or the raw values), the K weighted value
//! vectors `v_j` laid out one after another (`N·K` positions), and a Conv1d with kernel and
//! stride K that turns them back into `N` positions; then the output projection `W_o`.
//! `random` sampling draws one permutation per forward pass from burn's seeded generator
//! (the reference's `torch.randperm`), in training and evaluation alike, as the reference.
//!
//! Deviations from the reference:
//! - heads are split and merged as in standard attention. The reference's `batch_split`
//!   reshapes `[B·H, N, head_dim]` as `[B, H, head_dim, seq_length]` (with `seq_length`
//!   fixed at 197), which mixes tokens and channels with more than one head, and in the
//!   Conv1d branch with any head count. With one head, ConvNN attention is the reference's
//!   computation; the token count is never fixed here.
//! - euclidean distances are clamped at 0 before the square root (rounding can make a
//!   squared distance slightly negative, which is NaN in the reference).
//! - branching needs `0 < ratio < 1`: ratio 1 is `branch: none`, and the reference's
//!   `MultiHeadBranchingAttention` calls the branch it did not build at 0 and 1.
//! - `coordinate_encoding` (off in the reference's experiments) is not implemented.

use burn::module::{Initializer, Module};
use burn::nn::conv::{Conv1d, Conv1dConfig};
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig, PaddingConfig1d};
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};

use serde::{Deserialize, Serialize};

use super::options::{InvalidModel, invalid};
use super::scaled_dot_product::scaled_dot_product;
use super::value_transform::ValueTransformSpec;

/// `attention: convnn`: Kang & Farias 2025, "Attention Via Convolutional Nearest Neighbors"
/// (mingikang31/Convolutional-Nearest-Neighbor-Attention, `layers.py`:
/// `MultiHeadConvNNAttention`, `MultiHeadBranchingConv`, `MultiHeadBranchingAttention`).
/// The defaults are the reference's (`vision_main.py`, the layers' keyword defaults, and
/// `magnitude_type: matmul` of its logged runs).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConvNnOptions {
    /// Neighbours per token (`K`), also the Conv1d's kernel size and stride.
    pub k: usize,
    /// How a token's key is compared with the queries (`magnitude_type`).
    pub similarity: ConvNnSimilarity,
    /// Which tokens are neighbour candidates (`sampling_type`, `num_samples`, `sample_padding`).
    pub sampling: ConvNnSampling,
    /// Softmax over each token's K similarities before they weight the gathered values
    /// (`softmax_topk_val`); without it the raw similarities (or 1/distance) weight them.
    pub softmax_topk: bool,
    /// The Conv1d over the gathered neighbours (`convolution_type`).
    pub conv: ConvNnConv,
    /// Channels split between ConvNN attention and a second branch (`branch_ratio`).
    pub branch: ConvNnBranch,
}

/// The reference's defaults, also what an omitted key takes.
impl Default for ConvNnOptions {
    fn default() -> Self {
        ConvNnOptions {
            k: 9,
            similarity: ConvNnSimilarity::default(),
            sampling: ConvNnSampling::default(),
            softmax_topk: true,
            conv: ConvNnConv::default(),
            branch: ConvNnBranch::default(),
        }
    }
}

/// ConvNN's token similarity between key `k_i` and query `q_j` (per head).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConvNnSimilarity {
    /// `k_i · q_j / sqrt(head_dim)`, the K largest (what the reference's runs use).
    #[default]
    Matmul,
    /// Cosine of `k_i` and `q_j`, the K largest.
    Cosine,
    /// Euclidean distance `|k_i - q_j|`, the K smallest.
    Euclidean,
}

/// ConvNN's neighbour candidates. With `random` or `spatial` only the sampled tokens get a
/// query; every token's first neighbour is itself (weight 1 before the softmax) and the
/// other K-1 come from the samples.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ConvNnSampling {
    /// Every token is a candidate.
    #[default]
    All,
    /// `samples` tokens drawn without replacement at every forward pass (training and
    /// evaluation, as in the reference), the same for the whole batch.
    Random { samples: usize },
    /// `samples` evenly spaced tokens from `padding` to `tokens - padding - 1`.
    Spatial {
        samples: usize,
        #[serde(default)]
        padding: usize,
    },
}

/// The Conv1d (kernel K, stride K, no bias) over the K gathered values of every token.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConvNnConv {
    /// Full `head_dim -> head_dim` convolution.
    Standard,
    /// One filter per channel, initialised to ones.
    #[default]
    Depthwise,
    /// Depthwise (default initialisation), then a pointwise `head_dim -> head_dim` Conv1d.
    DepthwiseSeparable,
}

/// The branching variants: the first `floor(ratio · dim)` channels go through ConvNN
/// attention, the rest through the other branch (both with all the heads); the two
/// outputs are concatenated and mixed by a Linear (`pointwise_linear`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ConvNnBranch {
    /// ConvNN attention over all channels.
    #[default]
    None,
    /// `MultiHeadBranchingConv`: the other branch is a per-head Conv1d ("same" padding)
    /// between two Linear layers.
    Conv1d {
        #[serde(default = "half")]
        ratio: f64,
        #[serde(default = "nine")]
        kernel_size: usize,
    },
    /// `MultiHeadBranchingAttention`: the other branch is softmax attention.
    Attention {
        #[serde(default = "half")]
        ratio: f64,
    },
}

/// The branches' default `ratio` (an enum variant's field default; enums have no
/// container default).
fn half() -> f64 {
    0.5
}
/// The Conv1d branch's default `kernel_size`.
fn nine() -> usize {
    9
}

/// What the reference writes into the similarity of a sampled token to itself, so that it
/// is not picked again (its `INF` and `NEG_INF`; the token is always neighbour 0).
const SAMPLED_SELF_DISTANCE: f64 = 1.1;
const SAMPLED_SELF_SIMILARITY: f64 = -0.1;

/// ConvNN attention in place of multi-head self-attention, optionally beside a second
/// branch (`MultiHeadConvNNAttention`, `MultiHeadBranchingConv`, `MultiHeadBranchingAttention`).
#[derive(Module, Debug)]
pub struct ConvNnAttention {
    /// ConvNN attention over all channels, or over the first `floor(ratio · dim)`.
    pub convnn: ConvNn,
    /// The second branch over the other channels and the Linear that mixes both.
    pub branch: Option<Branching>,
}

/// `MultiHeadConvNNAttention`: bias-free Q, K, V and output projections around the
/// nearest-neighbour Conv1d.
#[derive(Module, Debug)]
pub struct ConvNn {
    pub w_q: Linear,
    pub w_k: Linear,
    pub w_v: Linear,
    pub w_o: Linear,
    /// Kernel K, stride K: standard, depthwise, or the depthwise half of depthwise-separable.
    pub conv: Conv1d,
    /// The pointwise half of depthwise-separable.
    pub pointwise: Option<Conv1d>,
    /// After the Conv1d.
    pub dropout: Dropout,
    pub num_heads: usize,
    pub k: usize,
    pub softmax_topk: bool,
    #[module(skip)]
    pub similarity: ConvNnSimilarity,
    #[module(skip)]
    pub sampling: ConvNnSampling,
    /// Applied to the values before they are gathered (not in the reference).
    #[module(skip)]
    pub value_transform: ValueTransformSpec,
}

/// The second branch and `pointwise_linear` (Linear with bias over the concatenation).
#[derive(Module, Debug)]
pub struct Branching {
    pub other: OtherBranch,
    pub pointwise_linear: Linear,
}

/// What the channels ConvNN attention does not take go through.
#[derive(Module, Debug)]
pub enum OtherBranch {
    Conv1d(Conv1dAttention),
    Attention(AttentionBranch),
}

/// `MultiHeadConv1dAttention`: Linear, a per-head Conv1d with "same" padding, Linear (all
/// with bias).
#[derive(Module, Debug)]
pub struct Conv1dAttention {
    pub w_x: Linear,
    pub conv: Conv1d,
    pub w_o: Linear,
    pub num_heads: usize,
}

/// The reference's `MultiHeadAttention`: scaled dot-product softmax attention, bias-free projections,
/// dropout on the attention weights.
#[derive(Module, Debug)]
pub struct AttentionBranch {
    pub w_q: Linear,
    pub w_k: Linear,
    pub w_v: Linear,
    pub w_o: Linear,
    pub dropout: Dropout,
    pub num_heads: usize,
}

impl ConvNnAttention {
    /// Replaces multi-head self-attention of width `dim` with `num_heads` heads.
    pub fn new(options: &ConvNnOptions, dim: usize, num_heads: usize, device: &Device) -> Self {
        let split = convnn_width(options, dim);
        let other = dim - split;
        let branch = match options.branch {
            ConvNnBranch::None => None,
            ConvNnBranch::Conv1d { kernel_size, .. } => {
                Some(OtherBranch::Conv1d(Conv1dAttention::new(other, num_heads, kernel_size, device)))
            }
            ConvNnBranch::Attention { .. } => {
                Some(OtherBranch::Attention(AttentionBranch::new(other, num_heads, device)))
            }
        };
        Self {
            convnn: ConvNn::new(options, split, num_heads, device),
            branch: branch
                .map(|other| Branching { other, pointwise_linear: LinearConfig::new(dim, dim).init(device) }),
        }
    }

    /// Sets the dropout probability of ConvNN's Conv1d output and of the attention branch's
    /// weights (the reference's `attention_dropout`; 0 unless set).
    pub fn with_dropout(mut self, prob: f64) -> Self {
        self.convnn.dropout = DropoutConfig::new(prob).init();
        if let Some(Branching { other: OtherBranch::Attention(attention), .. }) = &mut self.branch {
            attention.dropout = DropoutConfig::new(prob).init();
        }
        self
    }

    /// Sets the transform of ConvNN's values (`value_transform`, off unless set).
    pub fn with_value_transform(mut self, value_transform: ValueTransformSpec) -> Self {
        self.convnn.value_transform = value_transform;
        self
    }

    /// `[batch, tokens, dim]` -> `[batch, tokens, dim]`, any token count.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let Some(branching) = &self.branch else {
            return self.convnn.forward(x);
        };
        let [_, _, dim] = x.dims();
        // The ConvNN branch's width (its projections are `[split, split]`).
        let split = self.convnn.w_q.weight.dims()[0];
        let convnn = self.convnn.forward(x.clone().narrow(2, 0, split));
        let rest = x.narrow(2, split, dim - split);
        let other = match &branching.other {
            OtherBranch::Conv1d(conv1d) => conv1d.forward(rest),
            OtherBranch::Attention(attention) => attention.forward(rest),
        };
        branching.pointwise_linear.forward(Tensor::cat(vec![convnn, other], 2))
    }

    /// Closed form; must equal the built module's parameter count.
    pub fn count_params(options: &ConvNnOptions, dim: usize, num_heads: usize) -> usize {
        let split = convnn_width(options, dim);
        let (other, head_dim, k) = (dim - split, split / num_heads, options.k);
        let conv = match options.conv {
            ConvNnConv::Standard => head_dim * head_dim * k,
            ConvNnConv::Depthwise => head_dim * k,
            ConvNnConv::DepthwiseSeparable => head_dim * k + head_dim * head_dim,
        };
        let convnn = 4 * split * split + conv;
        let linear = |i: usize, o: usize| i * o + o;
        let other_branch = match options.branch {
            ConvNnBranch::None => return convnn,
            ConvNnBranch::Conv1d { kernel_size, .. } => {
                let head_dim = other / num_heads;
                2 * linear(other, other) + head_dim * head_dim * kernel_size + head_dim
            }
            ConvNnBranch::Attention { .. } => 4 * other * other,
        };
        convnn + other_branch + linear(dim, dim)
    }

    /// Options that cannot work with this width/heads/token count. Keys are relative to
    /// the ConvNN options block (`k`, `sampling.random.samples`).
    pub fn validate(
        options: &ConvNnOptions,
        dim: usize,
        num_heads: usize,
        tokens: usize,
    ) -> Result<(), InvalidModel> {
        let k = options.k;
        if k == 0 {
            return invalid("k", "`k` must be at least 1".into(), "the number of neighbours, e.g. `k: 9`");
        }
        if num_heads == 0 {
            return invalid(
                "num_heads",
                "`num_heads` must be at least 1".into(),
                "use a positive head count",
            );
        }
        let branch = match options.branch {
            ConvNnBranch::None => None,
            ConvNnBranch::Conv1d { kernel_size: 0, .. } => {
                return invalid(
                    "branch.conv1d.kernel_size",
                    "`kernel_size` must be at least 1".into(),
                    "e.g. 9",
                );
            }
            ConvNnBranch::Conv1d { ratio, .. } => Some(("branch.conv1d.ratio", ratio)),
            ConvNnBranch::Attention { ratio } => Some(("branch.attention.ratio", ratio)),
        };
        if let Some((key, ratio)) = branch {
            if !(ratio > 0.0 && ratio < 1.0) {
                return invalid(
                    key,
                    format!("`ratio` must be in (0, 1), got {ratio}"),
                    "the share of channels ConvNN attention gets, e.g. 0.5 (for all of them use `branch: none`)",
                );
            }
            let split = convnn_width(options, dim);
            let other = dim - split;
            if split == 0
                || other == 0
                || !split.is_multiple_of(num_heads)
                || !other.is_multiple_of(num_heads)
            {
                return invalid(
                    key,
                    format!(
                        "ratio {ratio} splits width {dim} into {split} + {other} channels; both must be positive multiples of num_heads {num_heads}"
                    ),
                    "pick a ratio that gives each branch a whole number of channels per head",
                );
            }
        }
        if !dim.is_multiple_of(num_heads) {
            return invalid(
                "num_heads",
                format!("width {dim} is not divisible by num_heads {num_heads}"),
                "each head gets width / num_heads channels: pick num_heads that divides the width",
            );
        }
        let samples = match options.sampling {
            ConvNnSampling::All => {
                return match k <= tokens {
                    true => Ok(()),
                    false => invalid(
                        "k",
                        format!("k {k} is larger than the {tokens} tokens"),
                        "each token needs k distinct neighbours: use k <= the token count",
                    ),
                };
            }
            ConvNnSampling::Random { samples } => {
                if samples == 0 || samples > tokens {
                    return invalid(
                        "sampling.random.samples",
                        format!("`samples` must be in 1..={tokens} (the token count), got {samples}"),
                        "sample at most as many tokens as there are",
                    );
                }
                samples
            }
            ConvNnSampling::Spatial { samples, padding } => {
                if samples == 0 || samples + 2 * padding > tokens {
                    return invalid(
                        "sampling.spatial.samples",
                        format!(
                            "{samples} samples with padding {padding} do not fit in {tokens} tokens (need 1 <= samples <= tokens - 2·padding)"
                        ),
                        "use fewer samples or less padding",
                    );
                }
                samples
            }
        };
        if k < 2 || k - 1 > samples {
            return invalid(
                "k",
                format!(
                    "with sampling, k must be in 2..={} (the token itself and k-1 samples), got {k}",
                    samples + 1
                ),
                "use k <= samples + 1",
            );
        }
        Ok(())
    }
}

/// Channels ConvNN attention gets: all, or Python's `int(ratio * dim)`.
fn convnn_width(options: &ConvNnOptions, dim: usize) -> usize {
    match options.branch {
        ConvNnBranch::None => dim,
        ConvNnBranch::Conv1d { ratio, .. } | ConvNnBranch::Attention { ratio } => {
            (ratio * dim as f64) as usize
        }
    }
}

/// `[batch, tokens, heads · head_dim]` -> `[batch · heads, tokens, head_dim]`.
fn split_heads(x: Tensor<3>, heads: usize) -> Tensor<3> {
    let [b, n, d] = x.dims();
    x.reshape([b, n, heads, d / heads]).swap_dims(1, 2).reshape([b * heads, n, d / heads])
}

/// `[batch · heads, tokens, head_dim]` -> `[batch, tokens, heads · head_dim]`.
fn merge_heads(x: Tensor<3>, heads: usize) -> Tensor<3> {
    let [bh, n, dh] = x.dims();
    x.reshape([bh / heads, heads, n, dh]).swap_dims(1, 2).reshape([bh / heads, n, heads * dh])
}

impl ConvNn {
    fn new(options: &ConvNnOptions, dim: usize, num_heads: usize, device: &Device) -> Self {
        let (head_dim, k) = (dim / num_heads, options.k);
        let projection = || LinearConfig::new(dim, dim).with_bias(false).init(device);
        let conv = Conv1dConfig::new(head_dim, head_dim, k).with_stride(k).with_bias(false);
        let (conv, pointwise) = match options.conv {
            ConvNnConv::Standard => (conv.init(device), None),
            ConvNnConv::Depthwise => {
                (conv.with_groups(head_dim).with_initializer(Initializer::Ones).init(device), None)
            }
            ConvNnConv::DepthwiseSeparable => (
                conv.with_groups(head_dim).init(device),
                Some(Conv1dConfig::new(head_dim, head_dim, 1).with_bias(false).init(device)),
            ),
        };
        Self {
            w_q: projection(),
            w_k: projection(),
            w_v: projection(),
            w_o: projection(),
            conv,
            pointwise,
            dropout: DropoutConfig::new(0.0).init(),
            num_heads,
            k,
            softmax_topk: options.softmax_topk,
            similarity: options.similarity,
            sampling: options.sampling,
            value_transform: ValueTransformSpec::default(),
        }
    }

    /// `MultiHeadConvNNAttention.forward`: `[batch, tokens, dim]` -> `[batch, tokens, dim]`.
    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let [b, n, _] = x.dims();
        let (h, k) = (self.num_heads, self.k);
        let keys = split_heads(self.w_k.forward(x.clone()), h);
        let v = split_heads(self.value_transform.apply(self.w_v.forward(x.clone()), 1), h);
        let head_dim = v.dims()[2];
        let (values, indices) = match self.sampling {
            ConvNnSampling::All => {
                let queries = split_heads(self.w_q.forward(x), h);
                self.best(self.similarity(keys, queries), k)
            }
            ConvNnSampling::Random { samples } => {
                let order = Tensor::<1>::random([n], Distribution::Uniform(0.0, 1.0), &x.device()).argsort(0);
                self.nearest_sampled(x, keys, order.narrow(0, 0, samples))
            }
            ConvNnSampling::Spatial { samples, padding } => {
                let positions = TensorData::new(spatial_samples(n, samples, padding), [samples]);
                let positions = Tensor::<1, Int>::from_data(positions, &x.device());
                self.nearest_sampled(x, keys, positions)
            }
        };
        let weights = self.weights(values).reshape([b * h, n * k, 1]);
        let indices = indices.reshape([b * h, n * k, 1]).expand([b * h, n * k, head_dim]);
        // [b·h, head_dim, n·k]: the k neighbours of token i at positions i·k .. i·k + k - 1.
        let prime = (v.gather(1, indices) * weights).swap_dims(1, 2);
        let out = self.conv.forward(prime);
        let out = match &self.pointwise {
            Some(pointwise) => pointwise.forward(out),
            None => out,
        };
        let out = self.dropout.forward(out).swap_dims(1, 2);
        self.w_o.forward(merge_heads(out, h))
    }

    /// `_calculate_{matmul,cosine,euclidean}_matrix`: `[b·h, n, m]`, keys against queries.
    fn similarity(&self, keys: Tensor<3>, queries: Tensor<3>) -> Tensor<3> {
        let head_dim = keys.dims()[2];
        let dot = |k: Tensor<3>, q: Tensor<3>| k.matmul(q.swap_dims(1, 2));
        let squared_norm = |t: Tensor<3>| t.powi_scalar(2).sum_dim(2);
        match self.similarity {
            ConvNnSimilarity::Matmul => dot(keys, queries).div_scalar((head_dim as f64).sqrt()),
            ConvNnSimilarity::Cosine => {
                // F.normalize(x, dim=channels): x / max(|x|, 1e-12)
                let normalize = |t: Tensor<3>| t.clone() / squared_norm(t).sqrt().clamp_min(1e-12);
                dot(normalize(keys), normalize(queries))
            }
            ConvNnSimilarity::Euclidean => {
                let k2 = squared_norm(keys.clone());
                let q2 = squared_norm(queries.clone()).swap_dims(1, 2);
                (k2 + q2 - dot(keys, queries).mul_scalar(2.0)).clamp_min(0.0).sqrt()
            }
        }
    }

    /// The `count` best candidates per row (largest similarity, smallest distance), best
    /// first as `torch.topk`: values and candidate indices.
    fn best(&self, similarity: Tensor<3>, count: usize) -> (Tensor<3>, Tensor<3, Int>) {
        match self.similarity {
            ConvNnSimilarity::Euclidean => {
                let (values, indices) = similarity.neg().topk_with_indices(count, 2);
                (values.neg(), indices)
            }
            _ => similarity.topk_with_indices(count, 2),
        }
    }

    /// `random`/`spatial` sampling: queries only for the sampled `positions`; a sampled
    /// token's similarity to itself is overwritten (as in the reference), and every token's
    /// neighbours are itself (value 1) followed by its K-1 best samples (`_prime_N`).
    fn nearest_sampled(
        &self,
        x: Tensor<3>,
        keys: Tensor<3>,
        positions: Tensor<1, Int>,
    ) -> (Tensor<3>, Tensor<3, Int>) {
        let [bh, n, _] = keys.dims();
        let samples = positions.dims()[0];
        let queries = split_heads(self.w_q.forward(x.select(1, positions.clone())), self.num_heads);
        let self_fill = match self.similarity {
            ConvNnSimilarity::Euclidean => SAMPLED_SELF_DISTANCE,
            _ => SAMPLED_SELF_SIMILARITY,
        };
        // [n, samples]: true at (positions[r], r).
        let is_self = positions.clone().one_hot::<2>(n).swap_dims(0, 1).equal_elem(1);
        let similarity = self.similarity(keys, queries);
        let similarity = similarity.mask_fill(is_self.unsqueeze::<3>().expand([bh, n, samples]), self_fill);
        let (values, sample_indices) = self.best(similarity, self.k - 1);
        let device = values.device();
        let neighbours = positions.select(0, sample_indices.reshape([bh * n * (self.k - 1)]));
        let token = Tensor::<1, Int>::arange(0..n as i64, &device).reshape([1, n, 1]).expand([bh, n, 1]);
        let indices = Tensor::cat(vec![token, neighbours.reshape([bh, n, self.k - 1])], 2);
        let values = Tensor::cat(vec![Tensor::ones([bh, n, 1], &device), values], 2);
        (values, indices)
    }

    /// The weights of the K gathered values: `_prime_softmax` (softmax over the K, of the
    /// negated distances for euclidean) or `_prime` (the similarities; for euclidean, one
    /// over the distance plus 1e-8).
    fn weights(&self, values: Tensor<3>) -> Tensor<3> {
        match (self.softmax_topk, self.similarity) {
            (true, ConvNnSimilarity::Euclidean) => softmax(values.neg(), 2),
            (true, _) => softmax(values, 2),
            (false, ConvNnSimilarity::Euclidean) => values.add_scalar(1e-8).recip(),
            (false, _) => values,
        }
    }
}

/// `torch.linspace(padding, tokens - padding - 1, samples).long()`: float32, the first half
/// counted up from the start, the second half down from the end (torch's formula). torch's
/// vectorised CPU kernel rounds a position that is exactly an integer one lower in rare cases
/// (46 of the 175,834 valid settings below 300 tokens, e.g. 17 tokens and 15 samples).
fn spatial_samples(tokens: usize, samples: usize, padding: usize) -> Vec<i64> {
    let (start, end) = (padding as f32, (tokens - padding - 1) as f32);
    if samples == 1 {
        return vec![start as i64];
    }
    let step = (end - start) / (samples - 1) as f32;
    (0..samples)
        .map(|i| match i < samples / 2 {
            true => start + step * i as f32,
            false => end - step * (samples - i - 1) as f32,
        })
        .map(|position| position as i64)
        .collect()
}

impl Conv1dAttention {
    fn new(dim: usize, num_heads: usize, kernel_size: usize, device: &Device) -> Self {
        let head_dim = dim / num_heads;
        Self {
            w_x: LinearConfig::new(dim, dim).init(device),
            conv: Conv1dConfig::new(head_dim, head_dim, kernel_size)
                .with_padding(PaddingConfig1d::Same)
                .init(device),
            w_o: LinearConfig::new(dim, dim).init(device),
            num_heads,
        }
    }

    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let x = split_heads(self.w_x.forward(x), self.num_heads).swap_dims(1, 2);
        let x = self.conv.forward(x).swap_dims(1, 2);
        self.w_o.forward(merge_heads(x, self.num_heads))
    }
}

impl AttentionBranch {
    fn new(dim: usize, num_heads: usize, device: &Device) -> Self {
        let projection = || LinearConfig::new(dim, dim).with_bias(false).init(device);
        Self {
            w_q: projection(),
            w_k: projection(),
            w_v: projection(),
            w_o: projection(),
            dropout: DropoutConfig::new(0.0).init(),
            num_heads,
        }
    }

    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let h = self.num_heads;
        let q = split_heads(self.w_q.forward(x.clone()), h);
        let k = split_heads(self.w_k.forward(x.clone()), h);
        let v = split_heads(self.w_v.forward(x), h);
        self.w_o.forward(merge_heads(scaled_dot_product(q, k, v, &self.dropout), h))
    }
}
