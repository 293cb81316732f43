#!/usr/bin/env bash
# GPU extras for a host with an NVIDIA driver: mamba-ssm's CUDA selective scan (and Triton SSD),
# built against the venv's own torch. Called by install.sh; runs by hand too:
#   envs/cuda-extras.sh [--print] [.venv/bin/python]      (--print: say what it would run, run nothing)
# The kernel only builds with --no-build-isolation (pip's isolated build would compile against
# another torch) and MAMBA_FORCE_BUILD (no prebuilt wheel matches torch > 2.10, and the CUDA
# build of newer mamba-ssm is opt-in), with nvcc of torch's CUDA major version. Where it cannot
# build here, it prints the exact command and leaves the CPU install as it is: training on CUDA
# then stops at its first job with the same command (model.genes.scan, README "GPU").
set -euo pipefail
dry=0
if [ "${1:-}" = "--print" ]; then dry=1; shift; fi
PY=${1:-.venv/bin/python}
PIP="$PY -m pip"
spec=$("$PY" -c "from mgi.models.scan import MAMBA_SSM; print(MAMBA_SSM)")
cmd="$PIP install -q ninja packaging wheel setuptools && MAMBA_FORCE_BUILD=TRUE $PIP install --no-build-isolation '$spec'"
kernel_loads() {
  "$PY" -c "import sys; from mgi.models.scan import _import_selective_scan as f
sys.exit(0 if f()[0] else 1)" 2>/dev/null
}
if kernel_loads; then
  echo "cuda-extras: mamba-ssm's CUDA selective scan already imports"
  exit 0
fi
torch_cuda=$("$PY" -c "import torch; print(torch.version.cuda or '')")
if [ -z "$torch_cuda" ]; then
  echo "cuda-extras: torch is a CPU build; reinstall it for the driver (MGI_TORCH/MGI_TORCHVISION," \
    "README \"GPU\"), then: $cmd" >&2
  exit 0
fi
nvcc=$(command -v nvcc || true)
if [ -z "$nvcc" ] && [ -x "${CUDA_HOME:-/usr/local/cuda}/bin/nvcc" ]; then
  nvcc="${CUDA_HOME:-/usr/local/cuda}/bin/nvcc"
fi
if [ -z "$nvcc" ]; then
  echo "cuda-extras: no nvcc (CUDA toolkit $torch_cuda, as torch; e.g. 'module load cuda/${torch_cuda%%.*}')." \
    "Then: CUDA_HOME=<toolkit> $cmd" >&2
  exit 0
fi
nvcc_cuda=$("$nvcc" --version | sed -n 's/.*release \([0-9][0-9.]*\).*/\1/p')
if [ "${nvcc_cuda%%.*}" != "${torch_cuda%%.*}" ]; then
  echo "cuda-extras: nvcc is CUDA $nvcc_cuda but torch was built with $torch_cuda: load a" \
    "$torch_cuda toolkit, then: $cmd" >&2
  exit 0
fi
if [ "$dry" = 1 ]; then
  echo "cuda-extras: would run (nvcc $nvcc_cuda, torch CUDA $torch_cuda): $cmd"
  exit 0
fi
echo "cuda-extras: building $spec against torch's CUDA $torch_cuda with $nvcc (10-30 min;" \
  "MAX_JOBS limits the compile jobs)"
export CUDA_HOME=${CUDA_HOME:-$(dirname "$(dirname "$nvcc")")}
if ! bash -c "$cmd" || ! kernel_loads; then
  echo "cuda-extras: the build failed or the kernel does not import; retry with: $cmd" >&2
fi
