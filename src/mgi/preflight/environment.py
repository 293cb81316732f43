"""What the preflight runs on: device, driver, torch, CUDA and cuDNN versions."""

from __future__ import annotations

import os
import platform
import subprocess
from typing import Any

import torch


class NoCuda(RuntimeError):
    """``--device cuda`` on a machine where torch sees no CUDA device."""


def pick(name: str) -> torch.device:
    """``auto`` -> cuda where available; ``cuda`` without CUDA raises :class:`NoCuda`."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        built = torch.version.cuda or "none (a CPU-only build)"
        raise NoCuda(
            f"device {name} requested but torch {torch.__version__} sees no CUDA device "
            f"(built for CUDA {built}); check nvidia-smi and the torch build, or use --device cpu"
        )
    return torch.device(name)


def _driver() -> str | None:
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=20, check=True,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip().splitlines()[0] if out.stdout.strip() else None


def describe(device: torch.device) -> dict[str, Any]:
    """The machine as the report shows it."""
    out: dict[str, Any] = {
        "device": str(device),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
    }
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        out.update(
            gpu=props.name,
            gpu_memory_gb=round(props.total_memory / 2**30, 1),
            capability=f"{props.major}.{props.minor}",
            gpus_visible=torch.cuda.device_count(),
            driver=_driver(),
            bf16=torch.cuda.is_bf16_supported(),
        )
    return out
