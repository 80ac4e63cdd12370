#!/usr/bin/env python3
"""expgrid against what a user would otherwise run (PyTorch + torchvision, sklearn), side by side
on this machine, in one command; prints one markdown table.

    python3 bench/compare.py [--tch] [--rounds 2] [--iterations 5] [--run-inputs 20000]
                             [--glibc-malloc] [--also LABEL=CHECKOUT ...] [--cuda] [--json FILE]

It builds what it runs (`cargo bench --no-run --profile dev` for benches/{models,data,probe}.rs,
which builds the `expgrid` binary too; `--tch` adds `--features tch` with PyTorch's libtorch,
which also measures the pure-Rust `flex` backend) and then, per workload, alternates expgrid and
the reference (`bench/torch_reference.py`, `bench/svc_reference.py` through the probe bench) so
both see the same load. `--glibc-malloc` adds the flex build without expgrid's allocator
settings (`src/malloc.rs`), `--also LABEL=CHECKOUT` the flex models of another checkout (the
scratch copy `bench/upstream/apply.sh` makes, with burn-flex patched; an older commit).
`--cuda` (implies `--tch`) trains both sides on the GPU: expgrid with `--device cuda`, the
reference with `BENCH_DEVICE=cuda` (`bench/gpu-check.sh`). `--json FILE` also writes every
measurement to FILE.
Times are the best over `--rounds` of each side's median.

GFLOP/s: the model's FLOPs counted by `torch.utils.flop_counter.FlopCounterMode` on the
reference model (forward; train step = forward + backward matmuls and convolutions), divided by
expgrid's time; the peak is the best sgemm rate (2048^3, torch, all cores) measured before and
after the measurements.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
REFERENCE = [sys.executable, str(REPO / "bench/torch_reference.py")]
ENCODERS = ["vit-p7", "vit-p4", "conv", "resnet18"]
RUN_ENCODER = "vit-p7"


def log(message):
    print(message, file=sys.stderr, flush=True)


def json_lines(command, env=None):
    """Runs `command`, returns the JSON objects it printed, one per line."""
    out = subprocess.run(command, env=env, check=True, stdout=subprocess.PIPE, text=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def cargo_env(tch):
    env = dict(os.environ)
    if tch:
        import torch

        env["LIBTORCH_USE_PYTORCH"] = "1"
        lib = str(Path(torch.__file__).parent / "lib")
        env["LD_LIBRARY_PATH"] = ":".join(filter(None, [lib, env.get("LD_LIBRARY_PATH")]))
    return env


def build(env, tch, folder, checkout=REPO):
    """Builds the benches of `checkout` and the `expgrid` binary (which cargo builds for the
    benches, with the same features: a plain `cargo build` would resolve burn's features
    without the dev-dependencies and rebuild burn) and copies them into `folder` at once (in a
    target directory shared by several checkouts, `target/debug/expgrid` is overwritten by
    whichever checkout built last); returns {target name: copied executable}."""
    features = ["--features", "tch"] if tch else []
    command = ["cargo", "bench", "--no-run", "--profile", "dev", "--bench", "models", "--bench", "data",
               "--bench", "probe", *features]
    log(f"$ (cd {checkout} && {' '.join(command)})")
    out = subprocess.run([*command, "--message-format=json"], cwd=checkout, env=env, check=True,
                         stdout=subprocess.PIPE, text=True).stdout
    Path(folder).mkdir(parents=True, exist_ok=True)
    executables = {}
    for message in map(json.loads, out.splitlines()):
        if message.get("reason") == "compiler-artifact" and message.get("executable"):
            name = message["target"]["name"]
            executables[name] = shutil.copy2(message["executable"], Path(folder) / name)
    return executables


def best(values):
    return min(v for v in values if v is not None)


def model_sides(exe, env, backends, glibc_malloc, also):
    """[(label, models bench command, env)]: each backend of this build; with `glibc_malloc`
    the flex backend once more with glibc's allocator defaults; each other checkout's flex."""
    sides = [(b, [exe["models"]], dict(env, EXPGRID_DEVICE=b)) for b in backends]
    if glibc_malloc:
        sides.append(("flex, glibc malloc", [exe["models"], "--glibc-malloc"], dict(env, EXPGRID_DEVICE="flex")))
    sides += [(label, [other["models"]], dict(env, EXPGRID_DEVICE="flex")) for label, other in also]
    return sides


def measure_models(sides, env, rounds, iterations):
    """{(encoder, side label or 'torch'): {forward_ms, train_ms, ...}}, best over the rounds."""
    results = {}
    for round_ in range(rounds):
        for encoder in ENCODERS:
            runs = [(label, [*command, "--json", "--iterations", str(iterations), encoder], side_env)
                    for label, command, side_env in sides]
            runs.append(("torch", [*REFERENCE, "model", encoder, "--iterations", str(iterations)], env))
            for side, command, side_env in runs:
                log(f"round {round_ + 1}/{rounds}: {encoder} on {side}")
                (m,) = json_lines(command, side_env)
                previous = results.setdefault((encoder, side), m)
                for key in ("forward_ms", "train_ms", "peak_rss_mib"):
                    if key in m:
                        previous[key] = min(previous[key], m[key])
    return results


def measure_augment(exe, env, rounds, data):
    ours, reference = [], []
    for _ in range(rounds):
        log("augment: expgrid, torchvision")
        ours += [m["per_image_us"] for m in json_lines([exe["data"], "--json"], dict(env, EXPGRID_DATA=data))]
        reference += [m["per_image_us"] for m in json_lines([*REFERENCE, "augment", "--data", data], env)]
    return best(ours), best(reference)


def experiment_file(folder, inputs):
    """The short run: ViT p7 l4 h8 d256 m512, code 128, TrivialAugmentWide, as the reference."""
    path = Path(folder) / "bench-run.yml"
    path.write_text(f"""experiment_name: bench-run
train_set: {{dataset: fmnist, split: train, shape: [3, 28, 28]}}
validation_set: {{dataset: fmnist, split: test, shape: [3, 28, 28]}}
batch_size: 64
learnrate: 0.0003
optimizer: AdamW
scheduler: CosineAnnealingLR
loss_function: l2
max_inputs: {inputs}
seed: 0
train_input_transforms: [trivial_augment_wide]
model: {{encoder: vit, image_size: 28, patch_size: 7, num_layers: 4, num_heads: 8, hidden_dim: 256,
         mlp_dim: 512, code_size: 128, classes: 10}}
""")
    return path


def measure_run(exe, env, backends, data, inputs):
    """Wall time of the whole process (start-up, data, training, validation, probes)."""
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        yml = experiment_file(folder, inputs)
        for backend in backends:
            log(f"short run ({inputs} inputs): expgrid on {backend}")
            runs = Path(folder) / f"runs-{backend}"
            start = time.perf_counter()
            subprocess.run([exe["expgrid"], "run", str(yml), "--runs-dir", str(runs), "--data-dir", data,
                            "--device", backend], env=env, check=True, stdout=subprocess.DEVNULL)
            wall = time.perf_counter() - start
            result = json.loads((runs / "bench-run/result.json").read_text())
            results[backend] = dict(result, wall_s=wall)
        log(f"short run ({inputs} inputs): torch")
        start = time.perf_counter()
        (reference,) = json_lines([*REFERENCE, "run", "--data", data, "--inputs", str(inputs)], env)
        results["torch"] = dict(reference, wall_s=time.perf_counter() - start)
    return results


def row(*cells):
    return "| " + " | ".join(cells) + " |"


def table(models, backends, labels, augment, probes, runs, peak, inputs):
    lines = [row("workload", "expgrid backend", "expgrid", "reference", "ratio", "GFLOP/s", "% of peak",
                 "peak RSS"),
             row(*["---"] * 8)]
    for encoder in ENCODERS:
        torch_ = models[(encoder, "torch")]
        for kind, flops_key in (("train step", "train_flops"), ("forward", "forward_flops")):
            key = "train_ms" if kind == "train step" else "forward_ms"
            for label in labels:
                m = models[(encoder, label)]
                ours = m[key]
                gflops = torch_[flops_key] / (ours * 1e-3) / 1e9
                rss = f"{m['peak_rss_mib']:.0f} MiB" if kind == "train step" and "peak_rss_mib" in m else ""
                lines.append(row(f"{kind} {encoder}", label, f"{ours:.1f} ms", f"{torch_[key]:.1f} ms",
                                 f"{ours / torch_[key]:.2f}", f"{gflops:.1f}", f"{100 * gflops / peak:.0f} %", rss))
    ours, reference = augment
    lines.append(row("data + TrivialAugmentWide, per image, 1 core", "-", f"{ours:.1f} µs",
                     f"{reference:.1f} µs", f"{ours / reference:.2f}", "", "", ""))
    for p in probes:
        lines.append(row(f"{p['workload']} (acc {p['accuracy']:.4f} / {p['reference_accuracy']:.4f})", "-",
                         f"{p['seconds']:.2f} s", f"{p['reference_seconds']:.2f} s",
                         f"{p['seconds'] / p['reference_seconds']:.2f}", "", "", ""))
    reference = runs.get("torch")
    for b in backends:
        if b in runs and reference:
            r = runs[b]
            lines.append(row(f"short run, {inputs} inputs ViT p7 (acc {r['accuracy_argmax']:.4f} / "
                             f"{reference['accuracy_argmax']:.4f})", b, f"{r['wall_s']:.1f} s",
                             f"{reference['wall_s']:.1f} s", f"{r['wall_s'] / reference['wall_s']:.2f}", "", "", ""))
    return "\n".join(lines)


def details(models, backends, augment, runs):
    """The derived figures the targets are stated in."""
    lines = []
    for b in backends:
        step = models[(RUN_ENCODER, b)]["train_ms"]
        lines.append(f"- data + augmentation of a batch of 64 on {b}: {64 * augment[0] / 1e3:.1f} ms = "
                     f"{100 * 64 * augment[0] / 1e3 / step:.1f} % of a ViT p7 training step ({step:.1f} ms)")
        if b in runs:
            r = runs[b]
            per_step = r["train_time_s"] / r["steps"] * 1e3
            lines.append(f"- short run on {b}: {r['steps']} steps, training loop {per_step:.1f} ms per step "
                         f"({100 * (per_step / step - 1):+.1f} % against the isolated step), "
                         f"probe {r.get('probe_seconds') or 0:.1f} s, "
                         f"svc {r['accuracy_svc']:.4f}, held-out svc {r['accuracy_svc_heldout']:.4f}")
    if "torch" in runs:
        r = runs["torch"]
        lines.append(f"- short run on torch: training loop {r['train_s']:.1f} s, "
                     f"svc {r['accuracy_svc']:.4f}, held-out svc {r['accuracy_svc_heldout']:.4f}")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tch", action="store_true", help="build with libtorch; measure tch and flex")
    parser.add_argument("--rounds", type=int, default=2, help="alternations per workload")
    parser.add_argument("--iterations", type=int, default=5, help="timed iterations per model measurement")
    parser.add_argument("--run-inputs", type=int, default=20_000, help="budget of the short run (0: skip)")
    parser.add_argument("--glibc-malloc", action="store_true",
                        help="also measure flex with glibc's allocator defaults (without expgrid's mallopt)")
    parser.add_argument("--also", action="append", default=[], metavar="LABEL=CHECKOUT",
                        help="also measure the flex models of another checkout (e.g. the scratch copy of "
                             "bench/upstream/apply.sh, or an older commit), built in this CARGO_TARGET_DIR")
    parser.add_argument("--cuda", action="store_true",
                        help="train on the GPU: expgrid (built with tch) on cuda, the reference with BENCH_DEVICE=cuda")
    parser.add_argument("--json", metavar="FILE", help="also write every measurement to FILE as one JSON object")
    parser.add_argument("--data", default=os.environ.get("EXPGRID_DATA", str(REPO.parent / "shared/data")),
                        help="folder holding fashion-mnist/")
    args = parser.parse_args()

    args.tch = args.tch or args.cuda
    env = cargo_env(args.tch)
    if args.cuda:
        env["BENCH_DEVICE"] = "cuda"
    binaries = tempfile.TemporaryDirectory()
    exe = build(env, args.tch, binaries.name)
    also = [(label, build(env, False, Path(binaries.name) / label, Path(checkout).resolve()))
            for label, checkout in (spec.split("=", 1) for spec in args.also)]
    backends = ["cuda"] if args.cuda else ["tch", "flex"] if args.tch else ["flex"]
    sides = model_sides(exe, env, backends, args.glibc_malloc, also)
    load = os.getloadavg()
    peak = json_lines([*REFERENCE, "peak"], env)[0]["gflops"]
    models = measure_models(sides, env, args.rounds, args.iterations)
    augment = measure_augment(exe, env, args.rounds, args.data)
    log("svc probe: expgrid, sklearn")
    probes = json_lines([exe["probe"], "--json"], env)
    # The short run on the first backend only (libtorch with --tch), to keep the command short.
    runs = measure_run(exe, env, backends[:1], args.data, args.run_inputs) if args.run_inputs else {}
    peak = max(peak, json_lines([*REFERENCE, "peak"], env)[0]["gflops"])

    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    header = (f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {cpu}, {os.cpu_count()} cores, "
              f"load average {load[0]:.2f} at the start, {os.getloadavg()[0]:.2f} at the end; "
              f"peak (sgemm, torch, {'cuda' if args.cuda else f'{os.cpu_count()} threads'}) {peak:.1f} GFLOP/s; "
              f"best of {args.rounds} rounds")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "header": header, "cpu": cpu, "cores": os.cpu_count(), "peak_gflops": peak,
            "models": [dict(m, workload=encoder, side=side) for (encoder, side), m in models.items()],
            "augment_us": {"expgrid": augment[0], "reference": augment[1]},
            "probes": probes, "runs": runs,
        }, indent=1) + "\n")
    print(header + "\n")
    print(table(models, backends, [label for label, _, _ in sides], augment, probes, runs, peak, args.run_inputs))
    print()
    print(details(models, backends, augment, runs))


if __name__ == "__main__":
    main()
