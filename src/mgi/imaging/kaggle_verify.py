"""Check a kaggle_3m folder before anything reads it: patients, slice/mask pairs, ``data.csv``.

The Kaggle archive of ``mateuszbuda/lgg-mri-segmentation`` holds the set twice (``kaggle_3m/``
and ``lgg-mri-segmentation/kaggle_3m/``); :func:`find_kaggle_3m` picks the shallowest copy.
:func:`verify_kaggle_3m` raises naming the first thing missing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from mgi.barcodes import case_barcode
from mgi.imaging.kaggle import case_folders, slice_files

log = logging.getLogger(__name__)

FOLDER = "kaggle_3m"
TABLE = "data.csv"
PATIENTS = 110  # patient folders of mateuszbuda/lgg-mri-segmentation (Buda et al., 2019)


@dataclass(frozen=True)
class Kaggle3mSummary:
    """What a verified kaggle_3m folder holds."""

    root: Path
    patients: int
    slices: int
    table_rows: int


def find_kaggle_3m(tree: str | Path) -> Path:
    """The shallowest folder named ``kaggle_3m`` under ``tree`` (``tree`` itself if it is one).

    Raises:
        FileNotFoundError: naming ``tree`` and what it holds, if there is none.
    """
    tree = Path(tree)
    if tree.name == FOLDER:
        return tree
    found = sorted(tree.rglob(FOLDER), key=lambda p: (len(p.parts), str(p)))
    found = [p for p in found if p.is_dir()]
    if not found:
        top = sorted(p.name for p in tree.iterdir()) if tree.is_dir() else []
        raise FileNotFoundError(f"{tree}: no {FOLDER}/ folder in the archive (it holds {top})")
    if len(found) > 1:
        log.info("the archive holds %d copies of %s/: using %s", len(found), FOLDER, found[0])
    return found[0]


def read_table(path: str | Path) -> pd.DataFrame:
    """kaggle_3m's ``data.csv``: one row per patient, ``Patient`` as ``TCGA_XX_XXXX``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: {TABLE} missing")
    try:
        table = pd.read_csv(path)
    except (ValueError, pd.errors.ParserError) as err:
        raise ValueError(f"{path}: cannot read ({err})") from None
    if "Patient" not in table:
        raise ValueError(f"{path}: no Patient column (columns: {list(table.columns)[:8]})")
    return table


def verify_kaggle_3m(root: str | Path, *, patients: int | None = PATIENTS) -> Kaggle3mSummary:
    """Check ``root``: ``data.csv`` readable, ``patients`` patient folders (None: any number),
    every slice with its mask and no empty file.

    Raises:
        FileNotFoundError / ValueError: naming the folder or file at fault.
    """
    root = Path(root)
    table = read_table(root / TABLE)
    folders = case_folders(root)
    if patients is not None and len(folders) != patients:
        raise ValueError(f"{root}: expected {patients} patient folders, found {len(folders)}")
    slices = 0
    for folder in folders:
        files = slice_files(folder)  # raises naming a slice without its mask
        for _, image, mask in files:
            for path in (image, mask):
                if path.stat().st_size == 0:
                    raise ValueError(f"{path}: empty file")
        slices += len(files)
    _compare(root, table, folders)
    summary = Kaggle3mSummary(root, len(folders), slices, len(table))
    log.info("%s: %d patients, %d slices with masks, %s", root, summary.patients, slices, TABLE)
    return summary


def _compare(root: Path, table: pd.DataFrame, folders: list[Path]) -> None:
    """Warn (never fail) where ``data.csv`` and the folders list different patients."""
    listed = {case_barcode(str(p)) for p in table.Patient.dropna()}
    present = {case_barcode(f.name) for f in folders}
    if present - listed:
        log.warning("%s: patients without a row: %s", root / TABLE, sorted(present - listed)[:5])
    if listed - present:
        log.warning("%s: rows without images: %s", root / TABLE, sorted(listed - present)[:5])
