#!/usr/bin/env python3
"""Where the burn-tch backend loses against PyTorch: the backward passes of convolution,
BatchNorm, LayerNorm and attention, timed in libtorch as PyTorch runs them and as burn 0.22
runs them.

    python3 bench/tch_ops.py

burn-tch 0.22.1 implements the forward ops with libtorch's kernels but leaves these backward
passes to burn's generic versions (burn-backend `ops/modules/conv.rs` and
`ModuleOps::batch_norm_train{,_backward}`), which it then runs as ordinary libtorch ops:

- conv weight gradient: `conv2d(x.swap(0, 1), grad.swap(0, 1))`, the batch as channels and the
  output gradient as a large kernel, then swapped back (PyTorch: `convolution_backward`, one
  oneDNN/im2col weight-gradient kernel);
- conv input gradient: `conv_transpose2d(grad, weight)` (PyTorch: the same kernel family);
- BatchNorm in training: mean, centring, variance, normalisation and the affine transform as
  about ten separate ops forward and as many backward (PyTorch: `native_batch_norm` and
  `native_batch_norm_backward`, one pass each);
- LayerNorm and attention under autodiff: burn-autodiff has no backward of its own for them, so
  they run as their elementary ops (mean, variance, ...; matmul, softmax as max/exp/sum/div,
  matmul), each recorded and differentiated (PyTorch: `native_layer_norm` and
  `scaled_dot_product_attention` with their fused backward kernels).

For every distinct layer shape of the two encoders at batch 64 on 3x28x28 it prints the time
of PyTorch's backward and of burn's formulation, and the sums per encoder (each layer counted
as often as the encoder has it).
"""

import os

import torch
import torch.nn.functional as F

import torch_reference

BATCH = 64


def median_ms(f):
    """Median of 20 timed calls (after warm-up), the timer of torch_reference.py."""
    return torch_reference.median_ms(20, f)


def conv_backward(c_in, c_out, k, stride, pad, side):
    """(PyTorch's, burn's) time of a conv's input + weight gradient."""
    x = torch.randn(BATCH, c_in, side, side)
    w = torch.randn(c_out, c_in, k, k)
    out_side = (side + 2 * pad - k) // stride + 1
    g = torch.randn(BATCH, c_out, out_side, out_side)
    output_padding = side + 2 * pad - k - (out_side - 1) * stride

    def torch_way():
        torch.ops.aten.convolution_backward(g, x, w, None, [stride] * 2, [pad] * 2, [1] * 2, False,
                                            [0, 0], 1, [True, True, False])

    def burn_way():
        F.conv_transpose2d(g, w, stride=stride, padding=pad, output_padding=output_padding)
        wg = F.conv2d(x.transpose(0, 1), g.transpose(0, 1), padding=pad, dilation=stride)
        wg.transpose(0, 1)[:, :, :k, :k].contiguous()

    return median_ms(torch_way), median_ms(burn_way)


def batch_norm(channels, side):
    """(PyTorch's, burn's) time of a training-mode BatchNorm forward + backward."""
    x = torch.randn(BATCH, channels, side, side)
    gamma, beta = torch.ones(channels), torch.zeros(channels)
    g = torch.randn_like(x)
    per_channel = (1, channels, 1, 1)

    def torch_way():
        out, mean, invstd = torch.ops.aten.native_batch_norm(x, gamma, beta, None, None, True, 0.1, 1e-5)
        torch.ops.aten.native_batch_norm_backward(g, x, gamma, None, None, mean, invstd, True, 1e-5,
                                                  [True, True, True])

    def burn_way():
        flat = lambda t: t.transpose(0, 1).reshape(channels, -1)
        mean = flat(x).mean(1).reshape(per_channel)
        centred = x - mean
        var = flat(centred * centred).mean(1).reshape(per_channel)
        std = (var + 1e-5).sqrt()
        _ = ((x - mean) / std) * gamma.reshape(per_channel) + beta.reshape(per_channel)
        inv_std = (var + 1e-5).sqrt().reciprocal()
        normalized = (x - mean) * inv_std
        flat(g).sum(1)
        flat(g * normalized).sum(1)
        mean_grad = flat(g).mean(1).reshape(per_channel)
        mean_normalized_grad = flat(g * normalized).mean(1).reshape(per_channel)
        _ = gamma.reshape(per_channel) * inv_std * ((g - mean_grad) - normalized * mean_normalized_grad)

    return median_ms(torch_way), median_ms(burn_way)


def layer_norm(tokens):
    """(PyTorch's, burn's) time of a LayerNorm(256) forward + backward on [64, tokens, 256]."""
    x = torch.randn(BATCH, tokens, 256, requires_grad=True)
    gamma = torch.ones(256, requires_grad=True)
    beta = torch.zeros(256, requires_grad=True)
    g = torch.randn(BATCH, tokens, 256)

    def burn_way():
        mean = x.mean(-1, keepdim=True)
        centred = x - mean
        var = (centred * centred).mean(-1, keepdim=True)
        ((centred / (var + 1e-6).sqrt()) * gamma + beta).backward(g)

    return median_ms(lambda: F.layer_norm(x, (256,), gamma, beta, 1e-6).backward(g)), median_ms(burn_way)


def attention(tokens):
    """(PyTorch's, burn's) time of 8-head self-attention forward + backward, head size 32."""
    q, k, v = (torch.randn(BATCH, 8, tokens, 32, requires_grad=True) for _ in range(3))
    g = torch.randn(BATCH, 8, tokens, 32)

    def burn_way():
        scores = (q @ k.transpose(2, 3)) / 32**0.5
        exp = (scores - scores.max(-1, keepdim=True).values.detach()).exp()
        ((exp / exp.sum(-1, keepdim=True)) @ v).backward(g)

    return median_ms(lambda: F.scaled_dot_product_attention(q, k, v).backward(g)), median_ms(burn_way)


# (count in the encoder, c_in, c_out, kernel, stride, padding, input side)
CONV = [(1, 3, 32, 3, 1, 0, 28), (1, 32, 32, 3, 1, 0, 26), (1, 32, 32, 3, 1, 0, 24)]
RESNET_CONV = [
    (1, 3, 64, 7, 2, 3, 28),
    (4, 64, 64, 3, 1, 1, 7),
    (1, 64, 128, 3, 2, 1, 7), (1, 64, 128, 1, 2, 0, 7), (3, 128, 128, 3, 1, 1, 4),
    (1, 128, 256, 3, 2, 1, 4), (1, 128, 256, 1, 2, 0, 4), (3, 256, 256, 3, 1, 1, 2),
    (1, 256, 512, 3, 2, 1, 2), (1, 256, 512, 1, 2, 0, 2), (3, 512, 512, 3, 1, 1, 1),
]
# (count, channels, side) of resnet18's BatchNorms.
RESNET_BN = [(1, 64, 14), (4, 64, 7), (5, 128, 4), (5, 256, 2), (5, 512, 1)]


def main():
    torch.set_num_threads(os.cpu_count())
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {BATCH}, times in ms\n")
    print("| encoder | op (count x shape) | PyTorch | burn's formulation |")
    print("| --- | --- | --- | --- |")
    for encoder, convs, bns in (("conv", CONV, []), ("resnet18", RESNET_CONV, RESNET_BN)):
        total = [0.0, 0.0]
        for count, *shape in convs:
            ours = conv_backward(*shape)
            c_in, c_out, k, s, p, side = shape
            print(f"| {encoder} | conv backward {count} x {c_in}->{c_out} k{k} s{s} p{p} on {side}x{side} "
                  f"| {ours[0]:.2f} | {ours[1]:.2f} |")
            total = [t + count * o for t, o in zip(total, ours)]
        for count, channels, side in bns:
            ours = batch_norm(channels, side)
            print(f"| {encoder} | BatchNorm fwd+bwd {count} x {channels} on {side}x{side} "
                  f"| {ours[0]:.2f} | {ours[1]:.2f} |")
            total = [t + count * o for t, o in zip(total, ours)]
        print(f"| {encoder} | **sum per training step** | **{total[0]:.1f}** | **{total[1]:.1f}** |")
    for patch, tokens in ((7, 17), (4, 50)):
        norms, attn = layer_norm(tokens), attention(tokens)
        print(f"| vit-p{patch} | LayerNorm fwd+bwd 9 x [64, {tokens}, 256] | {norms[0]:.2f} | {norms[1]:.2f} |")
        print(f"| vit-p{patch} | attention fwd+bwd 4 x [64, 8, {tokens}, 32] | {attn[0]:.2f} | {attn[1]:.2f} |")
        total = [9 * n + 4 * a for n, a in zip(norms, attn)]
        print(f"| vit-p{patch} | **sum per training step** | **{total[0]:.1f}** | **{total[1]:.1f}** |")


if __name__ == "__main__":
    main()
