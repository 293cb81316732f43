"""What ``mgi predict`` reads: the sheet, a FLAIR (NIfTI or a kaggle_3m-style TIFF folder), an
optional ground-truth mask and an optional expression file.

Sheet (TSV or CSV, by extension; ``.txt`` is read as TSV): ``case_id`` (any string unique in
the sheet; it names the output folder, so no path separators), ``flair``, and optionally
``expression`` and ``mask``. Relative paths are relative to the sheet's folder; an empty cell is
"not given".
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

REQUIRED = ("case_id", "flair")
OPTIONAL = ("expression", "mask")
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class Row:
    """One case of the sheet (absolute paths; None where not given)."""

    case_id: str
    flair: Path
    expression: Path | None = None
    mask: Path | None = None


def read_predict_sheet(sheet: str | Path) -> list[Row]:
    """The rows of a prediction sheet; errors name the sheet and the row's case."""
    sheet = Path(sheet)
    if not sheet.is_file():
        raise FileNotFoundError(f"{sheet}: sheet not found")
    sep = "," if sheet.suffix.lower() == ".csv" else "\t"
    try:
        table = pd.read_csv(sheet, sep=sep, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise ValueError(f"{sheet}: cannot read the sheet ({err})") from None
    table.columns = [c.strip() for c in table.columns]
    missing = [c for c in REQUIRED if c not in table.columns]
    if missing:
        raise ValueError(
            f"{sheet}: sheet lacks columns {missing} (has {list(table.columns)};"
            f" {'comma' if sep == ',' else 'tab'}-separated by its extension)"
        )
    if table.empty:
        raise ValueError(f"{sheet}: sheet has no rows")
    rows = []
    for i, rec in enumerate(table.to_dict("records"), start=2):  # line 1: the header
        case = rec["case_id"].strip()
        if not _SAFE_ID.match(case):
            raise ValueError(
                f"{sheet}: line {i}: case_id {case!r} must be letters, digits, '.', '_' or '-'"
            )
        paths = {}
        for col in (*REQUIRED[1:], *OPTIONAL):
            value = str(rec.get(col, "") or "").strip()
            if not value:
                paths[col] = None
                continue
            path = Path(value).expanduser()
            paths[col] = path if path.is_absolute() else sheet.parent / path
        if paths["flair"] is None:
            raise ValueError(f"{sheet}: line {i}: case {case}: no flair given")
        rows.append(Row(case, **paths))
    dup = pd.Series([r.case_id for r in rows]).loc[lambda s: s.duplicated()].tolist()
    if dup:
        raise ValueError(f"{sheet}: cases listed twice: {dup}")
    return rows


@dataclass
class Flair:
    """A FLAIR as the slice store sees it (RAS+ axial stack, radiological display), with what
    the way back needs."""

    stack: np.ndarray  # (S, H, W) float32 raw intensities
    mask: np.ndarray | None  # (S, H, W) uint8 ground truth, or None
    kind: str  # "nifti" or "kaggle_3m"
    voxel_ml: float  # volume of one native voxel in ml (NaN for TIFFs)
    tiffs: list[Path] | None = None  # kaggle_3m: the slice files, in stack order


def load_flair(row: Row) -> Flair:
    """Read the row's FLAIR (and mask, if given); errors name the case and the file."""
    try:
        if row.flair.is_dir():
            return _kaggle(row)
        return _nifti(row)
    except (ValueError, FileNotFoundError) as err:
        raise type(err)(f"case {row.case_id}: {err}") from None


def _nifti(row: Row) -> Flair:
    from mgi.imaging.nifti import canonical_stack, check_pair, load_volume
    from mgi.imaging.volume import binarise

    flair = load_volume(row.flair)
    stack = canonical_stack(flair, as_mask=False, path=row.flair)
    mask = None
    if row.mask is not None:
        if row.mask.is_dir():
            raise ValueError(f"{row.mask}: a NIfTI FLAIR needs a NIfTI mask, not a folder")
        img = load_volume(row.mask)
        check_pair(flair, img, row.flair, row.mask)
        mask = binarise(canonical_stack(img, as_mask=True, path=row.mask), row.mask)
    voxel_ml = float(np.prod(flair.header.get_zooms()[:3])) / 1000.0
    return Flair(stack, mask, "nifti", voxel_ml)


def _kaggle(row: Row) -> Flair:
    """A folder of ``<name>_<n>.tif`` FLAIR slices (and ``_mask.tif`` beside them, or under
    the mask column's folder); the case id need not be a TCGA barcode."""
    from mgi.imaging.kaggle import _SLICE, read_slice
    from mgi.imaging.volume import binarise

    folder = row.flair
    images: dict[int, Path] = {}
    masks: dict[int, Path] = {}
    mask_dir = row.mask or folder
    for path in folder.iterdir():
        m = _SLICE.match(path.name)
        if m and not m["mask"]:
            images[int(m["n"])] = path
    if row.mask is not None or any(p.name.lower().endswith("_mask.tif") for p in folder.iterdir()):
        for path in mask_dir.iterdir():
            m = _SLICE.match(path.name)
            if m and m["mask"]:
                masks[int(m["n"])] = path
    if not images:
        raise FileNotFoundError(f"{folder}: no <name>_<n>.tif FLAIR slices")
    order = sorted(images)
    if masks and set(masks) != set(images):
        n = sorted(set(images) ^ set(masks))[0]
        raise FileNotFoundError(f"{mask_dir}: slice {n} has an image or a mask but not both")
    if masks:
        pairs = [read_slice(images[n], masks[n]) for n in order]
    else:
        pairs = [(_flair_slice(images[n]), None) for n in order]
    shapes = {p[0].shape for p in pairs}
    if len(shapes) > 1:
        raise ValueError(f"{folder}: slices differ in shape: {sorted(shapes)}")
    stack = np.stack([p[0] for p in pairs]).astype(np.float32)
    mask = binarise(np.stack([p[1] for p in pairs]), mask_dir, expected=(0, 255)) if masks else None
    return Flair(stack, mask, "kaggle_3m", float("nan"), [images[n] for n in order])


def _flair_slice(path: Path) -> np.ndarray:
    """The FLAIR channel of one kaggle_3m slice (or a grey slice), ``(H, W)``."""
    from mgi.imaging.kaggle import FLAIR_CHANNEL, _read

    data = _read(path)
    if data.ndim == 3 and data.shape[-1] >= 2:
        data = data[..., FLAIR_CHANNEL]
    if data.ndim != 2:
        raise ValueError(f"{path}: expected H x W x 3 or H x W, got shape {data.shape}")
    return data
