"""kaggle_3m input: 2-D TIFF slices of TCGA-LGG FLAIR (Buda et al.), read with tifffile.

Layout: ``<root>/TCGA_XX_XXXX_YYYYMMDD/<folder>_<n>.tif`` (H x W x 3 uint8, channels
pre-contrast, FLAIR, post-contrast) and ``<folder>_<n>_mask.tif`` (H x W uint8, 0/255).
Slices are ordered by ``<n>`` numerically (``_2`` before ``_10``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import tifffile

from mgi.barcodes import case_barcode, is_case_barcode
from mgi.imaging.volume import Case, binarise

log = logging.getLogger(__name__)

FLAIR_CHANNEL = 1
_SLICE = re.compile(r"^(?P<folder>.+)_(?P<n>\d+)(?P<mask>_mask)?\.tiff?$", re.IGNORECASE)


def case_folders(root: str | Path) -> list[Path]:
    """Patient folders under ``root`` (names holding a TCGA barcode), sorted by name.

    Raises:
        FileNotFoundError: if ``root`` is missing or holds no patient folder.
        ValueError: if two folders hold the same patient (barcode).
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: kaggle_3m root folder not found")
    folders = sorted(p for p in root.iterdir() if p.is_dir() and is_case_barcode(p.name))
    if not folders:
        raise FileNotFoundError(f"{root}: no TCGA_XX_XXXX_YYYYMMDD folders")
    seen: dict[str, Path] = {}
    for folder in folders:
        case = case_barcode(folder.name)
        if case in seen:
            raise ValueError(f"{folder} and {seen[case]}: two folders for patient {case}")
        seen[case] = folder
    return folders


def slice_files(folder: Path) -> list[tuple[int, Path, Path]]:
    """``(n, image, mask)`` per slice, ordered by ``n``; every image needs its mask."""
    images: dict[int, Path] = {}
    masks: dict[int, Path] = {}
    for path in folder.iterdir():
        m = _SLICE.match(path.name)
        if not m or m["folder"] != folder.name:
            continue
        (masks if m["mask"] else images)[int(m["n"])] = path
    if not images:
        raise FileNotFoundError(f"{folder}: no {folder.name}_<n>.tif slices")
    no_mask = sorted(images.keys() - masks.keys())
    if no_mask:
        raise FileNotFoundError(f"{folder / f'{folder.name}_{no_mask[0]}_mask.tif'}: mask missing")
    no_image = sorted(masks.keys() - images.keys())
    if no_image:
        name = f"{folder.name}_{no_image[0]}.tif"
        raise FileNotFoundError(f"{folder / name}: slice missing (its mask exists)")
    return [(n, images[n], masks[n]) for n in sorted(images)]


def _read(path: Path) -> np.ndarray:
    try:
        data = tifffile.imread(path)
    except Exception as err:  # tifffile raises several types for corrupt files
        raise ValueError(f"{path}: cannot read TIFF ({type(err).__name__}: {err})") from None
    if data.size == 0:
        raise ValueError(f"{path}: cannot read TIFF (no image data)")
    return data


def read_slice(image_path: Path, mask_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """FLAIR ``(H, W)`` uint8 and raw mask ``(H, W)`` of one slice, shapes checked."""
    image, mask = _read(image_path), _read(mask_path)
    if image.ndim == 3 and image.shape[-1] >= 2:
        image = image[..., FLAIR_CHANNEL]
    if image.ndim != 2:
        raise ValueError(f"{image_path}: expected H x W x 3 or H x W, got shape {image.shape}")
    if mask.ndim == 3:
        mask = mask[..., 0]
    if mask.shape != image.shape:
        raise ValueError(
            f"mask/volume mismatch: {mask_path} has shape {mask.shape}, {image_path} {image.shape}"
        )
    return image, mask


def load_case(folder: str | Path) -> Case:
    """All slices of one patient folder as a :class:`Case` (mask binarised from 0/255)."""
    folder = Path(folder)
    files = slice_files(folder)
    pairs = [read_slice(img, msk) for _, img, msk in files]
    shapes = {p[0].shape for p in pairs}
    if len(shapes) > 1:
        raise ValueError(f"{folder}: slices differ in shape: {sorted(shapes)}")
    image = np.stack([p[0] for p in pairs])
    mask = binarise(np.stack([p[1] for p in pairs]), folder, expected=(0, 255))
    meta = {"format": "kaggle_3m", "folder": str(folder), "stack_shape": list(image.shape)}
    numbers = np.array([n for n, _, _ in files])
    sources = [str(f[1]) for f in files]
    return Case(case_barcode(folder.name), image, mask, numbers, sources, str(folder), meta)


def case_loaders(root: str | Path) -> list[Callable[[], Case]]:
    """One loader per patient folder under ``root`` (sorted by name), reading when called."""
    return [partial(load_case, folder) for folder in case_folders(root)]
