"""Which scan runs the gene encoder's state-space layers, said out loud (``model.genes.scan``).

Two blocks (``model.genes.block``), each with a fast path on CUDA and a PyTorch path anywhere:

* ``mamba1`` (selective scan, :mod:`mgi.models.ssm`): mamba-ssm's compiled CUDA kernel, or our
  chunked PyTorch scan. On CUDA the PyTorch scan is the slow fallback (about 15-25x slower
  Mamba steps): it runs only when asked for with ``scan: torch``; ``auto`` stops the job with
  the install command instead.
* ``mamba2`` (SSD, :mod:`mgi.models.ssd`): mamba-ssm's Triton SSD kernel, or our chunked matmul
  form, which needs no compiled extension and runs on tensor cores: ``auto`` accepts it.

Modes: ``auto`` (the fast path where it exists, else the PyTorch one unless that is the slow
mamba1 fallback on CUDA), ``kernel`` (the fast path or stop) and ``torch`` (always PyTorch).
The mode is a runtime choice, like the device (the same math either way): :func:`set_mode`
sets it for the process, the training scripts from the config. A kernel counts as loaded only
after one call on the device returned what the PyTorch path returns: mamba-ssm builds whose
CUDA extension is opt-in import fine and raise at the first call.

API for jobs and the preflight: :func:`resolve_scan` (device, mode, block) -> :class:`Scan`;
:func:`check_scan` (model, device) logs one line and raises :class:`ScanUnavailable`;
:func:`describe_scan` (device, mode, block) -> the line; :func:`scan_report` (device, ...) ->
a dict with the scan's name and its parity against the CPU reference.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

log = logging.getLogger(__name__)

MODES = ("auto", "kernel", "torch")
BLOCKS = ("mamba1", "mamba2")
# The mamba-ssm releases this code was written and tested against (pyproject's `cuda` extra).
MAMBA_SSM = "mamba-ssm>=2.2.2,<2.3.3"
# pip must build against the venv's torch (no build isolation) and compile the CUDA extension
# (MAMBA_FORCE_BUILD: no prebuilt wheel exists for this torch; needs nvcc matching torch's CUDA).
# This interpreter's pip, so the command is exact for the environment that runs the job;
# envs/cuda-extras.sh (run by install.sh where nvidia-smi exists) checks nvcc first.
INSTALL_COMMAND = (
    f"{sys.executable} -m pip install ninja packaging wheel setuptools && MAMBA_FORCE_BUILD=TRUE "
    f"{sys.executable} -m pip install --no-build-isolation '{MAMBA_SSM}'"
)
# What importing mamba-ssm raises when it is missing or built without (or against another torch
# than) its extension: ImportError/OSError for a missing or unloadable .so; RuntimeError and
# AttributeError from its transformers import or torch ABI checks. Anything else is a bug.
IMPORT_ERRORS = (ImportError, OSError, RuntimeError, AttributeError)
# What a first kernel call raises when the extension is absent (opt-in builds) or broken.
CALL_ERRORS = (RuntimeError, AttributeError, TypeError, NotImplementedError, ImportError)

NAMES = {
    ("mamba1", True): "mamba-ssm CUDA selective scan",
    ("mamba1", False): "PyTorch chunked selective scan",
    ("mamba2", True): "mamba-ssm Triton SSD kernel",
    ("mamba2", False): "PyTorch chunked SSD (Mamba-2 matmul form)",
}

_mode = "auto"


class ScanUnavailable(RuntimeError):
    """The configured scan cannot run here; the message says what to install or set."""


@dataclass(frozen=True)
class Scan:
    """The scan one block runs on one device: ``fn`` has the block's scan signature."""

    block: str
    device: str
    mode: str
    kernel: bool  # mamba-ssm's compiled/Triton kernel (else our PyTorch code)
    slow: bool  # the PyTorch selective scan on CUDA (allowed only with scan: torch)
    fn: Callable[..., torch.Tensor]

    @property
    def name(self) -> str:
        return NAMES[self.block, self.kernel]

    def describe(self) -> str:
        """One line: ``gene encoder scan: <name> (block mamba1, scan auto, cuda:0)``."""
        note = "; slow on CUDA, allowed by scan: torch" if self.slow else ""
        return (
            f"gene encoder scan: {self.name} "
            f"(block {self.block}, scan {self.mode}, {self.device}{note})"
        )


def set_mode(mode: str) -> None:
    """Set the process's scan mode (``model.genes.scan``: auto, kernel or torch)."""
    global _mode
    _check(mode, MODES, "scan")
    _mode = mode


def get_mode() -> str:
    """The process's scan mode."""
    return _mode


def _check(value: str, allowed: tuple[str, ...], key: str) -> None:
    if value not in allowed:
        raise ValueError(f"model.genes.{key}: {value!r} is not one of {', '.join(allowed)}")


def _import_selective_scan() -> tuple[Callable | None, str]:
    """mamba-ssm's ``selective_scan_fn`` with its compiled extension, or (None, why not)."""
    try:
        from mamba_ssm.ops import selective_scan_interface as ssi
    except IMPORT_ERRORS as err:
        return None, f"mamba-ssm does not import ({type(err).__name__}: {err})"
    if getattr(ssi, "selective_scan_cuda", None) is None:
        return None, "mamba-ssm imports without its compiled selective_scan_cuda extension"
    return ssi.selective_scan_fn, ""


def _import_ssd() -> tuple[Callable | None, str]:
    """mamba-ssm's Triton ``mamba_chunk_scan_combined``, or (None, why not)."""
    try:
        from mamba_ssm.ops.triton.ssd_combined import mamba_chunk_scan_combined
    except IMPORT_ERRORS as err:
        return None, f"mamba-ssm's Triton SSD does not import ({type(err).__name__}: {err})"
    return mamba_chunk_scan_combined, ""


def _torch_fn(block: str) -> Callable[..., torch.Tensor]:
    if block == "mamba1":
        from mgi.models.ssm import selective_scan_chunked

        return selective_scan_chunked
    from mgi.models.ssd import ssd_torch

    return ssd_torch


def _kernel_fn(block: str) -> Callable[..., torch.Tensor]:
    """The block's kernel wrapped to the PyTorch path's signature (import already probed)."""
    if block == "mamba1":
        return _import_selective_scan()[0]
    from mgi.models.ssd import ssd_triton

    return ssd_triton


@functools.cache
def _probe(block: str, device: str) -> tuple[bool, str]:
    """Whether the block's kernel imports *and* runs on ``device`` like the PyTorch path."""
    fn, why = (_import_selective_scan if block == "mamba1" else _import_ssd)()
    if fn is None:
        return False, why
    try:
        err = _parity(_kernel_fn(block), _torch_fn(block), block, torch.device(device))
    except CALL_ERRORS as exc:
        return False, f"the kernel imports but its first call fails ({type(exc).__name__}: {exc})"
    if not err < 1e-2:
        return False, f"the kernel runs but differs from the PyTorch path (max abs error {err:.3g})"
    return True, ""


def _inputs(block: str, device: torch.device, seed: int = 0) -> dict[str, torch.Tensor]:
    """A small float32 input of the block's scan (batch 2, 64 steps)."""
    g = torch.Generator().manual_seed(seed)

    def r(*shape):
        return torch.randn(*shape, generator=g).to(device)

    if block == "mamba1":  # u, delta, A, B, C, D, z, delta_bias (signature of selective_scan)
        return {
            "u": r(2, 8, 64),
            "delta": r(2, 8, 64),
            "A": -torch.rand(8, 4, generator=g).to(device) - 0.5,
            "B": r(2, 4, 64),
            "C": r(2, 4, 64),
            "D": r(8),
            "z": r(2, 8, 64),
            "delta_bias": r(8) * 0.5,
        }
    return {  # x, dt, A, B, C, D, dt_bias (signature of mgi.models.ssd.ssd)
        "x": r(2, 64, 2, 8),
        "dt": r(2, 64, 2),
        "A": -torch.rand(2, generator=g).to(device) - 0.5,
        "B": r(2, 64, 4),
        "C": r(2, 64, 4),
        "D": r(2),
        "dt_bias": r(2) * 0.5,
    }


def _call(fn, block: str, x: dict[str, torch.Tensor]) -> torch.Tensor:
    if block == "mamba1":
        return fn(**x, delta_softplus=True)
    return fn(**x, chunk=16)


def _parity(fn, ref_fn, block: str, device: torch.device) -> float:
    """Max abs difference of ``fn`` on ``device`` and ``ref_fn`` on the CPU in float64."""
    x = _inputs(block, device)
    with torch.no_grad():
        out = _call(fn, block, x).double().cpu()
        ref = _call(ref_fn, block, {k: v.double().cpu() for k, v in x.items()})
    return float((out - ref).abs().max())


def resolve_scan(device: torch.device | str, mode: str | None = None, block: str = "mamba1"):
    """The :class:`Scan` ``block`` runs on ``device`` in ``mode`` (None: :func:`get_mode`).

    Raises :class:`ScanUnavailable` (the message says what to install or set) where ``mode`` asks
    for a kernel that does not load, or on CUDA for mamba1 without its kernel in mode auto.
    """
    mode = _mode if mode is None else mode
    _check(mode, MODES, "scan")
    _check(block, BLOCKS, "block")
    return _resolve(str(torch.device(device)), mode, block)


@functools.cache
def _resolve(device: str, mode: str, block: str) -> Scan:
    on_cuda = torch.device(device).type == "cuda"
    if mode == "kernel" and not on_cuda:
        raise ScanUnavailable(
            f"model.genes.scan: kernel needs CUDA; on {device} only the PyTorch scan runs "
            "(set model.genes.scan: auto or torch)"
        )
    why = ""
    if on_cuda and mode != "torch":
        ok, why = _probe(block, device)
        if ok:
            return _announce(Scan(block, device, mode, True, False, _kernel_fn(block)))
    slow = on_cuda and block == "mamba1"
    if mode == "torch" or not on_cuda or (mode == "auto" and not slow):
        return _announce(Scan(block, device, mode, False, slow, _torch_fn(block)))
    raise ScanUnavailable(_install_message(block, mode, device, why))


def _announce(scan: Scan) -> Scan:
    (log.warning if scan.slow else log.info)("%s", scan.describe())
    return scan


def _install_message(block: str, mode: str, device: str, why: str) -> str:
    kernel = NAMES[block, True]
    other = (
        "set model.genes.scan: torch to run the PyTorch scan anyway (about 15-25x slower "
        "Mamba steps), or model.genes.block: mamba2 (no compiled extension needed)"
        if block == "mamba1"
        else "set model.genes.scan: auto or torch to run the PyTorch SSD"
    )
    return (
        f"model.genes.scan: {mode} on {device} needs the {kernel}, which is not available: {why}. "
        f"Install it into this environment (nvcc matching torch.version.cuda "
        f"{torch.version.cuda}): {INSTALL_COMMAND}; or {other}"
    )


def describe_scan(device: torch.device | str, mode: str | None = None, block: str = "mamba1"):
    """The one line a job logs for its scan (raises :class:`ScanUnavailable` as resolve does)."""
    return resolve_scan(device, mode, block).describe()


def model_blocks(model: torch.nn.Module) -> list[str]:
    """The SSM blocks (mamba1, mamba2) ``model`` holds, in BLOCKS order (none: [])."""
    found = {getattr(m, "ssm_block", None) for m in model.modules()}
    return [b for b in BLOCKS if b in found]


def check_scan(model: torch.nn.Module, device: torch.device | str) -> list[str]:
    """Resolve the scan of every SSM block of ``model`` on ``device`` (logs one line each,
    raises :class:`ScanUnavailable` before any step). Returns the lines (none: no SSM)."""
    return [resolve_scan(device, None, block).describe() for block in model_blocks(model)]


def scan_report(
    device: torch.device | str, mode: str | None = None, block: str = "mamba1"
) -> dict[str, Any]:
    """For a preflight: the scan ``block`` runs on ``device`` and its parity on a small input
    against the PyTorch path on the CPU in float64. Never raises for an unavailable scan.

    Keys: block, mode, device, ok, scan (name or None), kernel, slow, error (message or None),
    parity_max_abs_err (float or None), parity_ok (bool).
    """
    mode = _mode if mode is None else mode
    out: dict[str, Any] = {"block": block, "mode": mode, "device": str(torch.device(device))}
    try:
        scan = resolve_scan(device, mode, block)
    except ScanUnavailable as err:
        return {**out, "ok": False, "scan": None, "kernel": False, "slow": False,
                "error": str(err), "parity_max_abs_err": None, "parity_ok": False}  # fmt: skip
    err = _parity(scan.fn, _torch_fn(block), block, torch.device(device))
    return {
        **out,
        "ok": err < 1e-3,
        "scan": scan.name,
        "kernel": scan.kernel,
        "slow": scan.slow,
        "error": None,
        "parity_max_abs_err": err,
        "parity_ok": err < 1e-3,
    }
