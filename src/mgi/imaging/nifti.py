"""NIfTI input: a sample sheet of FLAIR + tumour-mask volumes, read with nibabel.

The sheet is a TSV with columns ``case_id, flair, mask``; relative paths are relative to the
sheet's folder. A case id is any id (letters, digits, ``.``, ``_``, ``-``); one holding a TCGA
barcode is reduced to the case barcode, which pairs it with GDC RNA-seq. Each pair must share
shape and affine; both are reoriented to the closest canonical (RAS+) orientation before axial
slicing, so any scanner orientation (the demo's are LPS-like, flipped and anisotropic) gives the
same picture orientation in the store.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from functools import partial
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from mgi.barcodes import case_key
from mgi.imaging.volume import Case, binarise, check_finite, volume_to_stack

log = logging.getLogger(__name__)

SHEET_COLUMNS = ("case_id", "flair", "mask")


def read_sheet(sheet: str | Path) -> pd.DataFrame:
    """The sample sheet with absolute ``flair``/``mask`` paths; ``case_id`` by
    :func:`mgi.barcodes.case_key` (TCGA barcodes reduced to the case, other ids kept)."""
    sheet = Path(sheet)
    if not sheet.is_file():
        raise FileNotFoundError(f"{sheet}: sample sheet not found")
    table = pd.read_csv(sheet, sep="\t", dtype=str)
    missing = set(SHEET_COLUMNS) - set(table.columns)
    if missing:
        why = (
            " (training needs each FLAIR's tumour mask; `mgi predict` takes sheets without)"
            if missing == {"mask"}
            else ""
        )
        raise ValueError(f"{sheet}: sample sheet lacks columns {sorted(missing)}{why}")
    if table[list(SHEET_COLUMNS)].isna().any().any():
        raise ValueError(f"{sheet}: empty cells in columns {list(SHEET_COLUMNS)}")
    try:
        table["case_id"] = [case_key(c) for c in table["case_id"]]
    except ValueError as err:
        raise ValueError(f"{sheet}: {err}") from None
    dup = table["case_id"][table["case_id"].duplicated()].tolist()
    if dup:
        raise ValueError(f"{sheet}: cases listed twice: {dup}")
    for col in ("flair", "mask"):
        table[col] = [str(p if Path(p).is_absolute() else sheet.parent / p) for p in table[col]]
    return table


def load_volume(path: str | Path) -> nib.Nifti1Image:
    """A 3-D NIfTI image reoriented to RAS+ (a trailing singleton 4th axis is dropped)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: NIfTI file not found")
    try:
        img = nib.load(path)
        data = np.asanyarray(img.dataobj)  # read it all now: a truncated file fails here
        img = nib.Nifti1Image(data, img.affine, img.header)
    except Exception as err:  # nibabel raises many types for corrupt files
        raise ValueError(f"{path}: cannot read NIfTI ({type(err).__name__}: {err})") from None
    if img.ndim == 4 and img.shape[3] == 1:
        img = img.slicer[..., 0]
    if img.ndim != 3:
        raise ValueError(f"{path}: expected a 3-D volume, got shape {img.shape}")
    return img


def check_pair(flair: nib.Nifti1Image, mask: nib.Nifti1Image, flair_path, mask_path) -> None:
    """Raise ``ValueError`` naming both files if their grids (shape, affine) differ."""
    if flair.shape != mask.shape:
        raise ValueError(
            f"mask/volume mismatch: {mask_path} has shape {mask.shape},"
            f" {flair_path} has {flair.shape}"
        )
    if not np.allclose(flair.affine, mask.affine, atol=1e-3):
        raise ValueError(
            f"mask/volume mismatch: affines of {mask_path} and {flair_path} differ"
            f"\n{mask.affine}\nvs\n{flair.affine}"
        )


def canonical_stack(img: nib.Nifti1Image, *, as_mask: bool, path) -> np.ndarray:
    """RAS+ axial stack ``(Z, Y, X)`` of a 3-D image (float32 intensities or raw mask labels)."""
    canon = nib.as_closest_canonical(img)
    data = np.asarray(canon.dataobj)
    check_finite(data, path)
    return volume_to_stack(data if as_mask else data.astype(np.float32))


def load_case(case_id: str, flair_path: str | Path, mask_path: str | Path) -> Case:
    """Read, check and reorient one patient's FLAIR and mask."""
    flair, mask = load_volume(flair_path), load_volume(mask_path)
    check_pair(flair, mask, flair_path, mask_path)
    image = canonical_stack(flair, as_mask=False, path=flair_path)
    labels = binarise(canonical_stack(mask, as_mask=True, path=mask_path), mask_path)
    meta = {
        "format": "nifti",
        "flair": str(flair_path),
        "mask": str(mask_path),
        "native_shape": list(flair.shape),
        "axcodes": "".join(nib.aff2axcodes(flair.affine)),
        "stack_shape": list(image.shape),
    }
    n = image.shape[0]
    return Case(case_id, image, labels, np.arange(n), [str(flair_path)] * n, str(mask_path), meta)


DEFAULT_PATTERNS = ("{case}/flair.nii.gz", "{case}/mask.nii.gz")


def sheet_from_folder(
    root: str | Path, patterns: tuple[str, str] = DEFAULT_PATTERNS
) -> pd.DataFrame:
    """A sample sheet found by folder patterns (``{case}/flair.nii.gz``, ``{case}/mask.nii.gz``).

    ``{case}`` matches one path part: the case id (``PT001``), or a name holding a TCGA barcode
    (``TCGA-CS-4941`` or a longer name starting with it: the case barcode); every FLAIR found
    must have its mask, else an error names it.
    """
    root = Path(root)
    flair_pat, mask_pat = patterns
    if "{case}" not in flair_pat or "{case}" not in mask_pat:
        raise ValueError(f"imaging patterns must contain {{case}}: {patterns}")
    regex = re.compile("^" + re.escape(flair_pat).replace(re.escape("{case}"), "([^/]+)") + "$")
    rows = []
    for path in sorted(root.glob(flair_pat.replace("{case}", "*"))):
        match = regex.match(path.relative_to(root).as_posix())
        if not match:
            continue
        mask = root / mask_pat.replace("{case}", match.group(1))
        if not mask.is_file():
            raise FileNotFoundError(f"{path}: no mask at {mask}")
        rows.append((case_key(match.group(1)), str(path), str(mask)))
    if not rows:
        raise FileNotFoundError(f"{root}: no FLAIR volumes match {flair_pat!r}")
    table = pd.DataFrame(rows, columns=list(SHEET_COLUMNS))
    dup = table["case_id"][table["case_id"].duplicated()].tolist()
    if dup:
        raise ValueError(f"{root}: cases found twice: {dup}")
    return table


def case_loaders(
    source: str | Path, patterns: tuple[str, str] = DEFAULT_PATTERNS
) -> list[Callable[[], Case]]:
    """One loader per case of a sample sheet (a TSV) or a folder (matched by ``patterns``)."""
    table = sheet_from_folder(source, patterns) if Path(source).is_dir() else read_sheet(source)
    return [partial(load_case, r.case_id, r.flair, r.mask) for r in table.itertuples(index=False)]
