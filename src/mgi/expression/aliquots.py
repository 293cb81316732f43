"""One RNA-seq aliquot per case: choose by sample type priority.

A TCGA case can have several STAR-Counts files (a primary and a recurrent tumour, or two
aliquots of one sample). The case's file is the one whose ``sample_type`` comes first in the
priority list; ties (two aliquots of the same type) go to the smallest ``sample_submitter_id``,
then ``file_id``, so the choice is deterministic. Files whose type is not listed are not used.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from mgi.barcodes import case_barcode

log = logging.getLogger(__name__)

DEFAULT_SAMPLE_TYPES = ("Primary Tumor", "Recurrent Tumor")
REQUIRED = ("file_id", "file_name", "case_submitter_id", "sample_type")


def read_files_table(gdc_dir: str | Path) -> pd.DataFrame:
    """``files.tsv`` of a GDC folder, with ``case_id`` (the case barcode) and ``path`` added."""
    gdc_dir = Path(gdc_dir)
    path = gdc_dir / "files.tsv"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: files table not found (is {gdc_dir} a GDC folder?)")
    files = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    missing = [c for c in REQUIRED if c not in files]
    if missing:
        raise ValueError(f"{path}: missing columns {missing}")
    if files.empty:
        raise ValueError(f"{path}: no files listed")
    try:
        files["case_id"] = files.case_submitter_id.map(case_barcode)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None
    files["path"] = [gdc_dir / f / n for f, n in zip(files.file_id, files.file_name, strict=True)]
    if "sample_submitter_id" not in files:
        files["sample_submitter_id"] = ""
    return files


def choose_aliquots(
    files: pd.DataFrame, sample_types: Sequence[str] = DEFAULT_SAMPLE_TYPES
) -> pd.DataFrame:
    """One row per case (sorted by ``case_id``), with ``n_aliquots`` = the case's usable files.

    Args:
        files: the files table (``read_files_table``).
        sample_types: priority order; types not listed are dropped.
    """
    if not sample_types:
        raise ValueError("expression.sample_types must list at least one sample type")
    rank = {t: i for i, t in enumerate(sample_types)}
    usable = files[files.sample_type.isin(rank)].copy()
    dropped = files.loc[~files.sample_type.isin(rank)]
    if len(dropped):
        log.info(
            "ignoring %d files of unlisted sample types %s",
            len(dropped),
            sorted(dropped.sample_type.unique()),
        )
    if usable.empty:
        raise ValueError(f"no RNA-seq files of sample types {list(sample_types)}")
    usable["rank"] = usable.sample_type.map(rank)
    usable = usable.sort_values(["case_id", "rank", "sample_submitter_id", "file_id"])
    usable["n_aliquots"] = usable.groupby("case_id").case_id.transform("size")
    chosen = usable.drop_duplicates("case_id").drop(columns="rank").reset_index(drop=True)
    for row in chosen[chosen.n_aliquots > 1].itertuples():
        others = usable[(usable.case_id == row.case_id) & (usable.file_id != row.file_id)]
        log.info(
            "%s: %d aliquots; using %s (%s, file %s) over %s",
            row.case_id,
            row.n_aliquots,
            row.sample_submitter_id,
            row.sample_type,
            row.file_id,
            ", ".join(f"{o.sample_submitter_id} ({o.sample_type})" for o in others.itertuples()),
        )
    log.info("%d cases; %d had several aliquots", len(chosen), int((chosen.n_aliquots > 1).sum()))
    return chosen
