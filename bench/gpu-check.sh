#!/usr/bin/env bash
# The GPU path in one command (a machine with an NVIDIA GPU, a Rust toolchain and
# `pip install torch==2.9.0 torchvision==0.24.0 scikit-learn safetensors`):
#
#     bash bench/gpu-check.sh [OUT.json]        # default: gpu-check.json
#
# 1. builds expgrid with `--features tch` against PyTorch's libtorch (LIBTORCH_USE_PYTORCH);
# 2. runs `bench/compare.py --cuda`: the training step and forward of every encoder on the GPU
#    (expgrid `--device cuda` against PyTorch on the same GPU), and the fidelity run: ViT p7
#    for 120,000 inputs, seed 0, with validation and both SVC probes, as `expgrid run` and as
#    the PyTorch script (accuracies side by side);
# 3. writes every number to OUT.json and prints the table.
# compare.py builds first (`cargo bench --no-run --features tch`, a few minutes from clean on
# many cores), then measures (the two 120,000-input runs dominate); all of it runs under a
# 10-minute timeout, and a build cut short goes on where it stopped on the next call.
# Not run yet: the machine it was written on has no GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(realpath -m "${1:-gpu-check.json}")
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target-tch}
export LIBTORCH_USE_PYTORCH=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c 'import torch; assert torch.cuda.is_available(), "PyTorch sees no CUDA device"; print("torch", torch.__version__, "CUDA", torch.version.cuda, torch.cuda.get_device_name(0))'
torch_lib=$(python3 -c 'import torch, pathlib; print(pathlib.Path(torch.__file__).parent / "lib")')
export LD_LIBRARY_PATH=$torch_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
start=$SECONDS
timeout 600 python3 bench/compare.py --cuda --rounds 1 --iterations 10 --run-inputs 120000 --json "$out"
echo "gpu-check: $((SECONDS - start)) s, wrote $out"
