"""The cohort: pair images with RNA-seq by TCGA case barcode, and split by patient.

Splits are patient-level only: the unit is the case barcode, so every slice and every aliquot of
a patient is on one side. Normalisation statistics downstream are fitted on ``split == train``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

from mgi.atomic import atomic_path
from mgi.barcodes import case_barcode

log = logging.getLogger(__name__)


def _barcodes(names: Iterable[str], source: str) -> set[str]:
    out = set()
    for name in names:
        try:
            out.add(case_barcode(str(name)))
        except ValueError as err:
            raise ValueError(f"{source}: {err}") from None
    return out


def pair(
    expression_cases: Iterable[str], imaging_cases: Iterable[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Pair cases by barcode.

    Returns:
        ``paired`` (column ``case_id``, sorted) and ``unpaired`` (``case_id``, ``reason``).
    """
    expr = _barcodes(expression_cases, "expression")
    img = _barcodes(imaging_cases, "imaging")
    paired = pd.DataFrame({"case_id": sorted(expr & img)})
    unpaired = pd.DataFrame(
        [(c, "no imaging") for c in sorted(expr - img)]
        + [(c, "no RNA-seq") for c in sorted(img - expr)],
        columns=["case_id", "reason"],
    )
    log.info(
        "paired %d cases; %d with RNA-seq only, %d with images only",
        len(paired),
        int((unpaired.reason == "no imaging").sum()),
        int((unpaired.reason == "no RNA-seq").sum()),
    )
    return paired, unpaired


def _stratify(labels: pd.Series | None, n_groups: int) -> pd.Series | None:
    """Labels usable for stratification (each class at least ``n_groups`` times), else None."""
    if labels is None or labels.isna().any():
        return None
    counts = labels.value_counts()
    if len(counts) < 2 or counts.min() < n_groups:
        log.warning("not stratifying: label classes too small (%s)", counts.to_dict())
        return None
    return labels


def split(
    cases: Iterable[str],
    *,
    test_fraction: float,
    folds: int = 0,
    seed: int = 0,
    labels: pd.Series | None = None,
) -> pd.DataFrame:
    """Patient-level train/test split, plus ``folds`` cross-validation folds of the train part.

    Args:
        cases: case barcodes (unique).
        test_fraction: share of patients held out for testing, in (0, 1).
        folds: number of CV folds over the training patients (0 or 1: none).
        seed: the split's random seed.
        labels: optional per-case label (index: case barcode) to stratify on.

    Returns:
        A frame ``case_id, split, fold`` (``split`` in {train, test}; ``fold`` is -1 for test
        patients and for all patients when ``folds`` < 2), sorted by ``case_id``.
    """
    cases = sorted(set(cases))
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"split.test_fraction must be in (0, 1), got {test_fraction}")
    n_test = int(round(test_fraction * len(cases)))
    if n_test < 1 or len(cases) - n_test < 2:
        raise ValueError(f"cannot split {len(cases)} patients with test_fraction={test_fraction}")
    lab = labels.reindex(cases) if labels is not None else None
    strat = _stratify(lab, 2)
    train, test = train_test_split(
        cases, test_size=n_test, random_state=seed, stratify=None if strat is None else strat.values
    )
    out = pd.DataFrame({"case_id": cases})
    out["split"] = np.where(out.case_id.isin(test), "test", "train")
    out["fold"] = -1
    if folds >= 2:
        train = sorted(train)
        strat_tr = _stratify(lab.reindex(train) if lab is not None else None, folds)
        if strat_tr is None:
            splitter = KFold(folds, shuffle=True, random_state=seed).split(train)
        else:
            splitter = StratifiedKFold(folds, shuffle=True, random_state=seed).split(
                train, strat_tr.values
            )
        fold_of = {}
        for k, (_, held) in enumerate(splitter):
            fold_of.update({train[i]: k for i in held})
        out["fold"] = out.case_id.map(fold_of).fillna(-1).astype(int)
    check_no_leakage(out)
    return out


def check_no_leakage(table: pd.DataFrame) -> None:
    """Raise if a patient appears on both sides (or twice) of a split table."""
    dup = table.case_id[table.case_id.duplicated()]
    if len(dup):
        raise ValueError(f"split: patients listed more than once: {sorted(set(dup))[:5]}")
    barcodes = table.case_id.map(case_barcode)
    both = set(barcodes[table.split == "train"]) & set(barcodes[table.split == "test"])
    if both:
        raise ValueError(f"split: patients on both sides: {sorted(both)[:5]}")


def _read_table(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    return pd.read_csv(path, sep="\t")


def build(
    files_tsv: str | Path,
    imaging_index: str | Path,
    *,
    paired_out: str | Path,
    unpaired_out: str | Path,
    split_out: str | Path,
    test_fraction: float,
    folds: int = 0,
    seed: int = 0,
    clinical: str | Path | None = None,
    stratify: str | None = None,
    imaging_table: str | Path | None = None,
) -> pd.DataFrame:
    """Pair the RNA-seq files table with the imaging index and write paired/unpaired/split.

    ``stratify`` names a column of the ``clinical`` cases table, joined with kaggle_3m's
    ``data.csv`` when ``imaging_table`` is given (:func:`mgi.clinical.clinical_table`).
    """
    files = _read_table(files_tsv)
    if "case_submitter_id" not in files:
        raise ValueError(f"{files_tsv}: no case_submitter_id column")
    index = _read_table(imaging_index)
    if "case_id" not in index:
        raise ValueError(f"{imaging_index}: no case_id column")
    paired, unpaired = pair(files.case_submitter_id, index.case_id.unique())
    if len(paired) < 3:
        raise ValueError(f"only {len(paired)} paired cases between {files_tsv} and {imaging_index}")
    labels = None
    if stratify:
        from mgi.clinical import clinical_table

        table = clinical_table(clinical, imaging_table) if clinical else None
        if table is None or stratify not in table:
            where = " + ".join(str(p) for p in (clinical, imaging_table) if p)
            raise ValueError(f"split.stratify: column {stratify!r} not in {where}")
        labels = table.set_index(table.case_submitter_id.map(case_barcode))[stratify]
    table = split(
        paired.case_id, test_fraction=test_fraction, folds=folds, seed=seed, labels=labels
    )
    for frame, path in ((paired, paired_out), (unpaired, unpaired_out), (table, split_out)):
        with atomic_path(path) as tmp:
            frame.to_csv(tmp, sep="\t", index=False)
    log.info(
        "split: %d train, %d test patients",
        (table.split == "train").sum(),
        (table.split == "test").sum(),
    )
    return table
