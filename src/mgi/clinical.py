"""The clinical table the cohort split reads: the GDC's cases, joined with per-patient tables
that come with the images (kaggle_3m's ``data.csv``: RNASeqCluster, MethylationCluster,
histological type, grade, ...), one row per case barcode (``case_submitter_id``).

A column the cases table already has (``gender``, ``race``, ``ethnicity``) keeps the GDC's
values; the image table's own is renamed ``kaggle_3m_<name>``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from mgi.barcodes import case_barcode

log = logging.getLogger(__name__)

KEY = "case_submitter_id"


def read_cases(path: str | Path) -> pd.DataFrame:
    """A cases table (Parquet or TSV) with a ``case_submitter_id`` column."""
    path = Path(path)
    table = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path, sep="\t")
    if KEY not in table:
        raise ValueError(f"{path}: no {KEY} column")
    return table


def kaggle_3m_table(path: str | Path) -> pd.DataFrame:
    """kaggle_3m's ``data.csv`` keyed by case barcode: ``TCGA_CS_4941`` -> ``TCGA-CS-4941``;
    empty cells are missing values (integer codes stay integers)."""
    from mgi.imaging.kaggle_verify import read_table

    table = read_table(path)
    for col in table.select_dtypes("float").columns:  # integer codes with gaps: Int64
        if (table[col].dropna() % 1 == 0).all():
            table[col] = table[col].astype("Int64")
    try:
        keys = table.pop("Patient").astype(str).map(case_barcode)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None
    if keys.duplicated().any():
        raise ValueError(f"{path}: patients listed twice: {sorted(set(keys[keys.duplicated()]))}")
    table.insert(0, KEY, keys)
    return table


def join(cases: pd.DataFrame, extra: pd.DataFrame, *, source: str = "kaggle_3m") -> pd.DataFrame:
    """Outer join of ``cases`` and ``extra`` on the case barcode (their rows may be sample or
    aliquot barcodes); ``extra``'s colliding columns are renamed ``<source>_<name>``."""
    cases = cases.assign(**{KEY: cases[KEY].astype(str).map(case_barcode)})
    clash = {c: f"{source}_{c}" for c in extra.columns if c in cases.columns and c != KEY}
    joined = cases.merge(extra.rename(columns=clash), on=KEY, how="outer", validate="1:1")
    log.info(
        "clinical table: %d cases, %d of them with a %s row (%d columns added)",
        len(joined),
        int(joined[KEY].isin(extra[KEY]).sum()),
        source,
        extra.shape[1] - 1,
    )
    return joined


def clinical_table(cases: str | Path, kaggle_3m: str | Path | None = None) -> pd.DataFrame:
    """The cases table, joined with kaggle_3m's ``data.csv`` when given."""
    table = read_cases(cases)
    if kaggle_3m is None:
        return table
    return join(table, kaggle_3m_table(kaggle_3m))
