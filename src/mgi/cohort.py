"""The cohort: pair images with RNA-seq by TCGA case barcode, and split by patient.

Splits are patient-level only: the unit is the case barcode, so every slice and every aliquot of
a patient is on one side. A split table (``case_id, split, fold``) marks each patient ``train``,
``val`` or ``test``: ``holdout`` writes one table, ``cv`` one per fold (each patient a test
patient of exactly one). Downstream, gene filters, z-score statistics, pre-training and
fine-tuning read ``split == train`` only; ``val`` patients only choose the fine-tuning
checkpoint; ``test`` patients only score the final models.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
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


def _labels_of(cases: list[str], labels: pd.Series | None, n_groups: int):
    """Stratification values for ``cases`` (in order), or None (see :func:`_stratify`)."""
    strat = _stratify(labels.reindex(cases) if labels is not None else None, n_groups)
    return None if strat is None else strat.values


def _hold_out(cases: list[str], n: int, seed: int, labels: pd.Series | None) -> set[str]:
    """``n`` of ``cases`` drawn at random (stratified on ``labels`` where usable)."""
    if n == 0:
        return set()
    _, held = train_test_split(
        cases, test_size=n, random_state=seed, stratify=_labels_of(cases, labels, 2)
    )
    return set(held)


def _table(cases: list[str], test: set[str], val: set[str], fold: pd.Series | int) -> pd.DataFrame:
    out = pd.DataFrame({"case_id": cases})
    out["split"] = np.where(
        out.case_id.isin(test), "test", np.where(out.case_id.isin(val), "val", "train")
    )
    out["fold"] = fold if isinstance(fold, int) else out.case_id.map(fold).astype(int)
    check_no_leakage(out)
    return out


def _n_val(n_train: int, val_fraction: float) -> int:
    """Validation patients carved from ``n_train`` (at least one when ``val_fraction`` > 0)."""
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"split.val_fraction must be in [0, 1), got {val_fraction}")
    n_val = max(1, int(round(val_fraction * n_train))) if val_fraction > 0 else 0
    if n_train - n_val < 2:
        raise ValueError(f"cannot keep {n_val} of {n_train} training patients for validation")
    return n_val


def split(
    cases: Iterable[str],
    *,
    test_fraction: float,
    val_fraction: float = 0.0,
    seed: int = 0,
    labels: pd.Series | None = None,
) -> pd.DataFrame:
    """Patient-level hold-out split: train / val / test.

    Args:
        cases: case barcodes (unique).
        test_fraction: share of patients held out for testing, in (0, 1).
        val_fraction: share of the *training* patients set aside for validation, in [0, 1).
        seed: the split's random seed.
        labels: optional per-case label (index: case barcode) to stratify on.

    Returns:
        A frame ``case_id, split, fold`` (``split`` in {train, val, test}; ``fold`` is -1),
        sorted by ``case_id``.
    """
    cases = sorted(set(cases))
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"split.test_fraction must be in (0, 1), got {test_fraction}")
    n_test = int(round(test_fraction * len(cases)))
    if n_test < 1 or len(cases) - n_test < 2:
        raise ValueError(f"cannot split {len(cases)} patients with test_fraction={test_fraction}")
    test = _hold_out(cases, n_test, seed, labels)
    train = sorted(set(cases) - test)
    val = _hold_out(train, _n_val(len(train), val_fraction), seed, labels)
    return _table(cases, test, val, -1)


def cv_splits(
    cases: Iterable[str],
    *,
    folds: int,
    val_fraction: float = 0.0,
    seed: int = 0,
    labels: pd.Series | None = None,
) -> list[pd.DataFrame]:
    """K-fold cross-validation: one train / val / test table per fold.

    Every patient is a test patient of exactly one fold (``fold`` column: that fold, in every
    table); each fold's validation patients are ``val_fraction`` of its training patients.
    Folds (and validation) are stratified on ``labels`` where every class is large enough.
    """
    cases = sorted(set(cases))
    if folds < 2 or folds > len(cases):
        raise ValueError(f"split.folds must be in [2, {len(cases)}] with scheme cv, got {folds}")
    strat = _labels_of(cases, labels, folds)
    if strat is None:
        parts = KFold(folds, shuffle=True, random_state=seed).split(cases)
    else:
        parts = StratifiedKFold(folds, shuffle=True, random_state=seed).split(cases, strat)
    fold_of = pd.Series(-1, index=cases)
    for k, (_, held) in enumerate(parts):
        fold_of.iloc[held] = k
    tables = []
    for k in range(folds):
        test = set(fold_of.index[fold_of == k])
        train = sorted(set(cases) - test)
        val = _hold_out(train, _n_val(len(train), val_fraction), seed + k, labels)
        tables.append(_table(cases, test, val, fold_of))
    return tables


def check_no_leakage(table: pd.DataFrame) -> None:
    """Raise if a patient appears twice, or on two sides (train, val, test) of a split table."""
    dup = table.case_id[table.case_id.duplicated()]
    if len(dup):
        raise ValueError(f"split: patients listed more than once: {sorted(set(dup))[:5]}")
    barcodes = table.case_id.map(case_barcode)
    sides = {s: set(barcodes[table.split == s]) for s in ("train", "val", "test")}
    both = (sides["train"] | sides["val"]) & sides["test"] | sides["train"] & sides["val"]
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
    split_outs: Sequence[str | Path],
    scheme: str = "holdout",
    test_fraction: float = 0.25,
    val_fraction: float = 0.0,
    seed: int = 0,
    clinical: str | Path | None = None,
    stratify: str | None = None,
    imaging_table: str | Path | None = None,
) -> list[pd.DataFrame]:
    """Pair the RNA-seq files table with the imaging index; write paired/unpaired and the split
    tables: one for ``scheme`` holdout, one per fold for ``cv`` (``len(split_outs)`` folds).

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
    common = {"val_fraction": val_fraction, "seed": seed, "labels": labels}
    if scheme == "holdout":
        if len(split_outs) != 1:
            raise ValueError(f"scheme holdout writes one split table, got {len(split_outs)} paths")
        tables = [split(paired.case_id, test_fraction=test_fraction, **common)]
    elif scheme == "cv":
        tables = cv_splits(paired.case_id, folds=len(split_outs), **common)
    else:
        raise ValueError(f"split.scheme must be holdout or cv, got {scheme!r}")
    splits = zip(tables, split_outs, strict=True)
    outputs = [(paired, paired_out), (unpaired, unpaired_out), *splits]
    for frame, path in outputs:
        with atomic_path(path) as tmp:
            frame.to_csv(tmp, sep="\t", index=False)
    for k, table in enumerate(tables):
        counts = table.split.value_counts()
        log.info(
            "split %s: %d train, %d val, %d test patients",
            k if scheme == "cv" else scheme,
            counts.get("train", 0),
            counts.get("val", 0),
            counts.get("test", 0),
        )
    return tables
