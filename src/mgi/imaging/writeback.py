"""The way back: a predicted slice stack onto the FLAIR's own voxel grid and affine.

The store holds axial slices of the RAS+-reoriented volume, resized to ``size x size``.
:func:`write_prediction_nifti` undoes both steps against the reference FLAIR: resize each slice
to the native in-plane shape (nearest for labels, so an integer-factor resize round-trips
exactly), restack, and apply the inverse of the canonical reorientation, then save with the
reference's affine and header so the prediction opens over the FLAIR in 3D Slicer / ITK-SNAP.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import nibabel as nib
import numpy as np
from nibabel.orientations import apply_orientation, axcodes2ornt, io_orientation, ornt_transform

from mgi.atomic import atomic_path
from mgi.imaging.nifti import load_volume
from mgi.imaging.volume import resize_stack, stack_to_volume, volume_to_stack

log = logging.getLogger(__name__)


def _from_canonical(data: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """RAS+ array -> the axis order/flips of the original image with ``affine``."""
    back = ornt_transform(axcodes2ornt("RAS"), io_orientation(affine))
    return apply_orientation(data, back)


def native_stack_shape(reference: nib.Nifti1Image) -> tuple[int, int, int]:
    """``(S, H, W)`` of the reference's axial stack after canonical reorientation."""
    ornt = io_orientation(reference.affine)
    shape = [0, 0, 0]
    for axis, (target, _) in enumerate(ornt):
        shape[int(target)] = reference.shape[axis]
    return shape[2], shape[1], shape[0]


def prediction_volume(
    pred_slices: np.ndarray,
    reference: nib.Nifti1Image,
    *,
    slice_index: Sequence[int] | None = None,
    mode: str = "nearest",
) -> np.ndarray:
    """Predicted stack ``(S, h, w)`` -> array on the reference's native grid ``(I, J, K)``.

    ``slice_index`` gives the axial (RAS+) slice of each prediction when the store kept only
    some slices (``slices: tumour``); the others are 0. Without it ``S`` must equal the
    reference's number of axial slices.
    """
    pred = np.asarray(pred_slices)
    if pred.ndim != 3:
        raise ValueError(f"pred_slices must be (S, H, W), got shape {pred.shape}")
    n, h, w = native_stack_shape(reference)
    if slice_index is None:
        if pred.shape[0] != n:
            raise ValueError(
                f"{pred.shape[0]} predicted slices for {n} axial slices of"
                f" {reference.get_filename()}; pass slice_index"
            )
        slice_index = np.arange(n)
    slice_index = np.asarray(slice_index)
    if len(slice_index) != pred.shape[0] or (slice_index < 0).any() or (slice_index >= n).any():
        raise ValueError(f"slice_index must give one slice in [0, {n}) per predicted slice")
    resized = resize_stack(pred, (h, w), mode=mode)
    stack = np.zeros((n, h, w), dtype=resized.dtype)
    stack[slice_index] = resized
    return _from_canonical(stack_to_volume(stack), reference.affine)


def write_prediction_nifti(
    pred_slices: np.ndarray,
    reference_flair_path: str | Path,
    out_path: str | Path,
    *,
    slice_index: Sequence[int] | None = None,
    mode: str = "nearest",
    dtype: type = np.uint8,
) -> Path:
    """Write a predicted stack ``(S, H, W)`` as NIfTI on the reference FLAIR's grid (atomic).

    ``mode="nearest"`` for labels (default, written as ``dtype``), ``"bilinear"`` for
    probabilities (pass ``dtype=np.float32``). Returns ``out_path``.
    """
    reference = load_volume(reference_flair_path)
    data = prediction_volume(pred_slices, reference, slice_index=slice_index, mode=mode)
    header = reference.header.copy()
    header.set_data_dtype(dtype)
    img = nib.Nifti1Image(data.astype(dtype), reference.affine, header)
    img.header.set_slope_inter(1.0, 0.0)
    out_path = Path(out_path)
    suffix = "".join(out_path.suffixes[-2:]) if out_path.name.endswith(".gz") else out_path.suffix
    with atomic_path(out_path) as tmp:
        target = tmp.with_name(tmp.name + suffix)  # nibabel picks compression by suffix
        try:
            nib.save(img, target)
            target.replace(tmp)
        finally:
            target.unlink(missing_ok=True)
    log.info("prediction %s on the grid of %s -> %s", data.shape, reference_flair_path, out_path)
    return out_path


def canonical_mask_stack(mask_path: str | Path) -> np.ndarray:
    """A mask file as the store sees it, ``(S, H, W)`` at native size (for tests and evaluation)."""
    img = load_volume(mask_path)
    return volume_to_stack(np.asarray(nib.as_closest_canonical(img).dataobj))
