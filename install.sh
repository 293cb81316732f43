#!/usr/bin/env bash
# Set up .venv with PyTorch and mgi-pipeline (editable, with test tools). Idempotent.
# torch/torchvision are pinned to the pair that works with timm + torchvision on this kind of
# machine (a CUDA build that also runs on CPUs); everything else installs around it. On a GPU
# cluster set MGI_TORCH / MGI_TORCHVISION to a pair built for its driver (README, "GPU").
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
TORCH=${MGI_TORCH:-torch==2.14.1}
TORCHVISION=${MGI_TORCHVISION:-torchvision==0.29.1}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
if ! .venv/bin/python -c "import torch, torchvision" 2>/dev/null; then
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q "$TORCH" "$TORCHVISION"
fi
.venv/bin/pip install -q -e '.[test]'
# On a host with an NVIDIA driver: mamba-ssm's CUDA kernel (model.genes.scan; README "GPU"),
# built against this torch, or the exact command to build it (MGI_CUDA_EXTRAS=0: skip).
if command -v nvidia-smi >/dev/null 2>&1 && [ "${MGI_CUDA_EXTRAS:-1}" != 0 ]; then
  envs/cuda-extras.sh .venv/bin/python
fi
