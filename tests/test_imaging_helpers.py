"""Small writers of imaging inputs for the imaging tests (kaggle_3m folders, NIfTI pairs)."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import tifffile

LPS = np.array([[-1.0, 0, 0, 10], [0, -1.0, 0, 5], [0, 0, 3.0, -7], [0, 0, 0, 1]])


def kaggle_patient(root: Path, folder: str, n_slices: int, *, size: int = 16, seed: int = 0):
    """Write ``root/folder/folder_<n>.tif`` (size x size x 3) + masks (0/255), n = 1..n_slices."""
    rng = np.random.default_rng(seed)
    d = root / folder
    d.mkdir(parents=True)
    for n in range(1, n_slices + 1):
        img = rng.integers(1, 255, size=(size, size, 3), dtype=np.uint8)
        img[..., 1] = n  # FLAIR channel encodes the slice number
        mask = np.zeros((size, size), np.uint8)
        if n % 2 == 0:
            mask[2 : 2 + n, 3:7] = 255
        tifffile.imwrite(d / f"{folder}_{n}.tif", img)
        tifffile.imwrite(d / f"{folder}_{n}_mask.tif", mask)
    return d


def nifti_pair(d: Path, *, shape=(12, 10, 6), affine=LPS, mask=None, flair=None):
    """Write ``flair.nii.gz`` and ``mask.nii.gz`` in ``d``; returns their paths."""
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    if flair is None:
        flair = rng.uniform(100, 500, size=shape).astype(np.float32)
    if mask is None:
        mask = np.zeros(shape, np.uint8)
        mask[3:7, 2:5, 1:4] = 1
    nib.save(nib.Nifti1Image(flair, affine), d / "flair.nii.gz")
    nib.save(nib.Nifti1Image(mask, affine), d / "mask.nii.gz")
    return d / "flair.nii.gz", d / "mask.nii.gz"


def sheet(path: Path, rows) -> Path:
    """Write a sample sheet ``case_id, flair, mask``."""
    lines = ["case_id\tflair\tmask"] + ["\t".join(map(str, r)) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path
