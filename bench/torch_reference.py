#!/usr/bin/env python3
"""PyTorch + torchvision + sklearn side of `bench/compare.py`: what a user would otherwise run.

    python3 bench/torch_reference.py peak
    python3 bench/torch_reference.py model NAME [--iterations N]   # vit-p7 vit-p4 conv resnet18
    python3 bench/torch_reference.py augment --data DIR [--seconds S]
    python3 bench/torch_reference.py run --data DIR --inputs N

Each prints one JSON object. The models are the references of expgrid's encoders (torchvision
`VisionTransformer` and `resnet18`, nn-experiments' `EncoderConv2d` from
tests/fixtures/models/make_model_fixtures.py) with a 128-d code and `Linear(128, 10)`, trained
with expgrid's recipe: batch 64 of 3x28x28, MSE against one-hot, AdamW (PyTorch defaults),
`torch.set_num_threads(<cores>)`. `BENCH_DEVICE=cuda` runs `peak`, `model` and `run` on the GPU
(what `bench/gpu-check.sh` compares against expgrid's `--device cuda`).
"""

import argparse
import gzip
import importlib.util
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from torch.utils.data import DataLoader, Dataset
from torch.utils.flop_counter import FlopCounterMode
from torchvision.transforms import TrivialAugmentWide

REPO = Path(__file__).resolve().parent.parent
BATCH = 64
CLASSES = 10
CODE = 128
SHAPE = (3, 28, 28)
WARMUP = 2
CORES = os.cpu_count()
DEVICE = torch.device(os.environ.get("BENCH_DEVICE", "cpu"))


def sync():
    """Waits for the GPU's queued work, so that a timing covers it."""
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()


def encoder(name):
    """The reference encoder of a workload name, with a 128-d output (the code)."""
    if name.startswith("vit-p"):
        return torchvision.models.VisionTransformer(
            image_size=28, patch_size=int(name[len("vit-p"):]), num_layers=4, num_heads=8,
            hidden_dim=256, mlp_dim=512, num_classes=CODE,
        )
    if name == "resnet18":
        return torchvision.models.resnet18(num_classes=CODE)
    if name == "conv":
        path = REPO / "tests/fixtures/models/make_model_fixtures.py"
        spec = importlib.util.spec_from_file_location("make_model_fixtures", path)
        fixtures = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(fixtures)
        return fixtures.EncoderConv2d(SHAPE, CODE, [32, 32, 32], 3)
    raise SystemExit(f"unknown workload {name}")


def model(name):
    """`encoder -> code -> Linear(code, classes)`, as expgrid's `Model`."""
    return nn.Sequential(encoder(name), nn.Linear(CODE, CLASSES))


def median_ms(iterations, f):
    for _ in range(WARMUP):
        f()
    times = []
    for _ in range(iterations):
        sync()
        start = time.perf_counter()
        f()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def train_step(net, optimizer, images, targets):
    optimizer.zero_grad(set_to_none=True)
    loss = F.mse_loss(net(images), targets)
    loss.backward()
    optimizer.step()
    return loss.item()


def flops(f):
    counter = FlopCounterMode(display=False)
    with counter:
        f()
    return counter.get_total_flops()


def bench_model(args):
    torch.manual_seed(0)
    net = model(args.name).to(DEVICE)
    images = torch.rand(BATCH, *SHAPE, device=DEVICE)
    targets = F.one_hot(torch.arange(BATCH, device=DEVICE) % CLASSES, CLASSES).float()
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3)

    def forward():
        with torch.no_grad():
            net(images)

    net.eval()
    forward_ms = median_ms(args.iterations, forward)
    forward_flops = flops(forward)
    net.train()
    train_ms = median_ms(args.iterations, lambda: train_step(net, optimizer, images, targets))
    # Forward + backward (matmuls and convolutions; the optimizer's elementwise work is not counted).
    train_flops = flops(lambda: train_step(net, optimizer, images, targets))
    return {
        "workload": args.name, "params": sum(p.numel() for p in net.parameters()),
        "forward_ms": forward_ms, "train_ms": train_ms,
        "forward_flops": forward_flops, "train_flops": train_flops,
    }


def peak(_args):
    """Best sgemm rate on all cores: the practical FP32 peak of the machine."""
    n = 2048
    a, b = torch.rand(n, n, device=DEVICE), torch.rand(n, n, device=DEVICE)
    best = min(median_ms(3, lambda: torch.mm(a, b)) for _ in range(3))
    return {"sgemm_n": n, "gflops": 2 * n**3 / (best * 1e-3) / 1e9, "threads": torch.get_num_threads()}


def read_idx(path):
    raw = gzip.open(path).read()
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * dims).reshape(shape)


def fmnist(data, split):
    prefix = {"train": "train", "test": "t10k"}[split]
    folder = Path(data) / "fashion-mnist"
    images = read_idx(folder / f"{prefix}-images-idx3-ubyte.gz")
    labels = read_idx(folder / f"{prefix}-labels-idx1-ubyte.gz")
    # [3, 28, 28] uint8 per image: the grey channel repeated, as expgrid's `shape: [3, 28, 28]`.
    return torch.from_numpy(images.copy()).unsqueeze(1).repeat(1, 3, 1, 1), torch.from_numpy(labels.astype(np.int64))


class Images(Dataset):
    """uint8 images -> (optionally TrivialAugmentWide) -> floats in [0, 1], one-hot target."""

    def __init__(self, images, labels, augment):
        self.images, self.labels = images, labels
        self.augment = TrivialAugmentWide() if augment else None

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        image = self.images[i]
        if self.augment is not None:
            image = self.augment(image)
        return image.float() / 255, F.one_hot(self.labels[i], CLASSES).float(), self.labels[i]


def augment(args):
    """Per image: TrivialAugmentWide + scaling + batching, one core (one DataLoader worker)."""
    torch.set_num_threads(1)
    images, labels = fmnist(args.data, "train")
    loader = DataLoader(Images(images, labels, True), batch_size=BATCH, shuffle=True, num_workers=0)
    count, start = 0, time.perf_counter()
    for batch in loader:
        count += len(batch[2])
        if time.perf_counter() - start > args.seconds:
            break
    return {"workload": "augment", "per_image_us": (time.perf_counter() - start) / count * 1e6}


def embed(net, images, labels):
    """Eval-mode pass in batches of 256: loss, accuracy, embeddings."""
    net.eval()
    loss, correct, codes = 0.0, 0, []
    with torch.no_grad():
        for start in range(0, len(labels), 256):
            x = images[start:start + 256].to(DEVICE).float() / 255
            y = labels[start:start + 256].to(DEVICE)
            code = net[0](x)
            logits = net[1](code)
            loss += F.mse_loss(logits, F.one_hot(y, CLASSES).float(), reduction="sum").item() / CLASSES
            correct += (logits.argmax(1) == y).sum().item()
            codes.append(code.cpu())
    net.train()
    return loss / len(labels), correct / len(labels), torch.cat(codes).numpy()


def run(args):
    """A whole short run as expgrid's `expgrid run` does it: ViT p7, TrivialAugmentWide in a
    DataLoader worker, AdamW lr 3e-4 with CosineAnnealingLR, then validation on the test split
    and the two SVC probes (fit+score on the validation embeddings; fit on a class-balanced
    10,000-image training sample, score on the validation embeddings)."""
    from sklearn.svm import SVC

    torch.manual_seed(0)
    train_images, train_labels = fmnist(args.data, "train")
    test_images, test_labels = fmnist(args.data, "test")
    net = model("vit-p7").to(DEVICE)
    optimizer = torch.optim.AdamW(net.parameters(), lr=3e-4)
    steps = args.inputs // BATCH
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    loader = DataLoader(Images(train_images, train_labels, True), batch_size=BATCH, shuffle=True,
                        num_workers=1, persistent_workers=True)
    inputs, train_seconds = 0, 0.0
    while inputs < args.inputs:
        for images, targets, _ in loader:
            start = time.perf_counter()
            train_step(net, optimizer, images.to(DEVICE), targets.to(DEVICE))
            scheduler.step()
            train_seconds += time.perf_counter() - start
            inputs += len(targets)
            if inputs >= args.inputs:
                break
    loss, accuracy, val_codes = embed(net, test_images, test_labels)
    accuracy_svc = SVC().fit(val_codes, test_labels).score(val_codes, test_labels)
    sample = torch.cat([torch.nonzero(train_labels == c)[:1000, 0] for c in range(CLASSES)])
    _, _, train_codes = embed(net, train_images[sample], train_labels[sample])
    accuracy_heldout = SVC().fit(train_codes, train_labels[sample]).score(val_codes, test_labels)
    return {
        "workload": "run", "inputs": inputs, "train_s": train_seconds, "validation_loss": loss,
        "accuracy_argmax": accuracy, "accuracy_svc": accuracy_svc, "accuracy_svc_heldout": accuracy_heldout,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("peak").set_defaults(f=peak)
    p = commands.add_parser("model")
    p.add_argument("name")
    p.add_argument("--iterations", type=int, default=5)
    p.set_defaults(f=bench_model)
    p = commands.add_parser("augment")
    p.add_argument("--data", required=True)
    p.add_argument("--seconds", type=float, default=3.0)
    p.set_defaults(f=augment)
    p = commands.add_parser("run")
    p.add_argument("--data", required=True)
    p.add_argument("--inputs", type=int, default=20_000)
    p.set_defaults(f=run)
    args = parser.parse_args()
    torch.set_num_threads(CORES)
    print(json.dumps(args.f(args)))


if __name__ == "__main__":
    main()
