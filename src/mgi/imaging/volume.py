"""One patient's slice stack and the per-volume operations both input formats share.

Checks, normalisation, resizing and slice selection act on a :class:`Case`'s stacks.

A *stack* is ``(S, H, W)``: ``S`` axial slices from inferior to superior, each in the
radiological display convention (row 0 = anterior, column 0 = the patient's right), which is
what the kaggle_3m TIFFs (from DICOM) hold and what the slice store keeps. NIfTI volumes are
turned into stacks by :func:`volume_to_stack` after reorientation to RAS+, and back by
:func:`stack_to_volume` (its exact inverse).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

log = logging.getLogger(__name__)


@dataclass
class Case:
    """One patient's FLAIR and mask as axial stacks ``(S, H, W)`` plus what the store records."""

    case_id: str  # TCGA case barcode (TCGA-XX-XXXX)
    image: np.ndarray  # (S, H, W) raw intensities
    mask: np.ndarray  # (S, H, W) uint8 in {0, 1}
    slice_numbers: np.ndarray  # (S,) slice number of each stack entry in its source
    sources: list[str]  # (S,) file each slice came from
    mask_source: str  # the mask file (NIfTI) or patient folder (kaggle_3m), named in errors
    meta: dict  # format, files, native grid and orientation: kept in store.json


def volume_to_stack(volume: np.ndarray) -> np.ndarray:
    """RAS+ volume ``(X, Y, Z)`` -> axial stack ``(Z, Y, X)``: rows anterior to posterior,
    columns patient's right to left (radiological)."""
    return np.ascontiguousarray(np.flip(np.transpose(volume, (2, 1, 0)), axis=(1, 2)))


def stack_to_volume(stack: np.ndarray) -> np.ndarray:
    """Inverse of :func:`volume_to_stack`: ``(Z, Y, X)`` stack -> RAS+ volume ``(X, Y, Z)``."""
    return np.ascontiguousarray(np.transpose(np.flip(stack, axis=(1, 2)), (2, 1, 0)))


def check_finite(data: np.ndarray, path: str | Path) -> None:
    """Raise ``ValueError`` naming ``path`` if ``data`` holds NaN or infinite voxels."""
    if np.issubdtype(data.dtype, np.floating) and not np.isfinite(data).all():
        bad = int((~np.isfinite(data)).sum())
        raise ValueError(f"{path}: {bad} NaN/infinite voxels")


def binarise(
    mask: np.ndarray, path: str | Path, *, expected: tuple[int, ...] = (0, 1)
) -> np.ndarray:
    """Mask ``> 0`` as uint8 {0, 1}; logs the labels if there were others than ``expected``."""
    check_finite(mask, path)
    labels = np.unique(mask)
    if not set(labels.tolist()) <= set(expected):
        log.info("%s: mask labels %s binarised (any label > 0 = tumour)", path, labels.tolist())
    return (mask > 0).astype(np.uint8)


def normalise(stack: np.ndarray, clip_percentiles: tuple[float, float]) -> np.ndarray:
    """Intensities of one volume to [0, 1]: percentile clip inside the brain, then min-max scale.

    The brain is the nonzero voxels (skull-stripped FLAIR, as in TCGA-LGG / BraTS); the
    background stays 0. Returns float32 of the same shape.
    """
    data = stack.astype(np.float32)
    brain = data[data > 0]
    if brain.size == 0:
        return np.zeros_like(data)
    lo, hi = np.percentile(brain, clip_percentiles)
    if hi <= lo:
        hi = lo + 1.0
    out = np.clip((data - lo) / (hi - lo), 0.0, 1.0)
    out[data == 0] = 0.0
    return out


def resize_stack(stack: np.ndarray, size: tuple[int, int], *, mode: str) -> np.ndarray:
    """Resize every slice of ``(S, H, W)`` to ``(S, *size)``.

    ``mode="bilinear"`` (images; antialiased when shrinking) or ``"nearest"`` (masks, labels):
    torch's nearest picks source pixel ``floor(i * H / size)``, so resizing up by an integer
    factor and back down returns the original exactly (the write-back relies on it).
    """
    if tuple(stack.shape[1:]) == tuple(size):
        return stack.copy()
    x = torch.from_numpy(np.array(stack)).unsqueeze(1)  # a copy: memmaps are read-only
    if mode == "nearest":
        y = F.interpolate(x.float(), size=size, mode="nearest").to(x.dtype)
    elif mode == "bilinear":
        shrink = size[0] < stack.shape[1] or size[1] < stack.shape[2]
        y = F.interpolate(
            x.float(), size=size, mode="bilinear", align_corners=False, antialias=shrink
        )
    else:
        raise ValueError(f"resize mode must be nearest or bilinear, not {mode!r}")
    return y.squeeze(1).numpy()


def select_slices(mask: np.ndarray, slices: str, margin: int) -> np.ndarray:
    """Indices of the slices to keep from a ``(S, H, W)`` mask stack.

    ``slices="all"`` keeps every slice; ``"tumour"`` keeps the slices with tumour plus
    ``margin`` slices either side (clipped to the volume).
    """
    n = mask.shape[0]
    if slices == "all":
        return np.arange(n)
    if slices != "tumour":
        raise ValueError(f"slices must be 'all' or 'tumour', not {slices!r}")
    has = mask.reshape(n, -1).any(axis=1)
    keep = np.zeros(n, dtype=bool)
    for k in np.flatnonzero(has):
        keep[max(0, k - margin) : k + margin + 1] = True
    return np.flatnonzero(keep)
