"""Evaluate one fine-tuning run: predictions + slice store + split -> per-patient CSV + summary.

Input: ``predictions.npz`` with ``rows`` (int64, store rows of all test-patient slices, in store
order) and ``prob`` (float16 (n, H, W) sigmoid probabilities at store resolution). Masks come from
the slice store; test patients from the split. Metric definitions: :mod:`mgi.metrics`.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from mgi import metrics
from mgi.atomic import atomic_path
from mgi.provenance import provenance

log = logging.getLogger(__name__)

DEFINITIONS = {
    "dice": "per-patient 3-D Dice over all the patient's slices, mean over test patients",
    "dice_slice": "per-slice Dice over tumour slices, mean over all such slices (pooled)",
    "dice_slice_all": "per-slice Dice over all slices, empty-vs-empty = 1, mean (pooled)",
    "hd95": "per-patient 3-D 95% Hausdorff distance in store voxels (MONAI), mean over patients;"
    " both empty = 0, one empty = volume diagonal",
}


def read_test_cases(split: str | Path) -> list[str]:
    """Case barcodes with ``split == test`` in ``split.tsv`` (in file order)."""
    table = pd.read_csv(split, sep="\t")
    if not {"case_id", "split"} <= set(table.columns):
        raise ValueError(f"{split}: needs columns case_id and split, has {list(table.columns)}")
    cases = table.loc[table["split"] == "test", "case_id"].astype(str).tolist()
    if not cases:
        raise ValueError(f"{split}: no test patients")
    return cases


def load_predictions(path: str | Path, store, cases: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """``rows`` (n,) int64 and ``prob`` (n, H, W) float32 from ``path``, checked against the store.

    Raises ValueError (naming ``path``) if keys are missing, shapes disagree with the store, the
    probabilities are not finite in [0, 1], or the rows are not exactly the test patients' slices.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: predictions file missing")
    with np.load(path) as npz:
        missing = {"rows", "prob"} - set(npz.files)
        if missing:
            raise ValueError(f"{path}: missing arrays {sorted(missing)}")
        rows, prob = npz["rows"].astype(np.int64), npz["prob"].astype(np.float32)
    if prob.ndim != 3 or prob.shape[1:] != store.masks.shape[1:] or len(prob) != len(rows):
        raise ValueError(
            f"{path}: prob {prob.shape} / rows {rows.shape} do not match store slices"
            f" {store.masks.shape[1:]}"
        )
    if not np.isfinite(prob).all() or prob.min() < 0 or prob.max() > 1:
        raise ValueError(f"{path}: probabilities must be finite and in [0, 1]")
    expected = store.rows(cases)
    missing_cases = sorted(set(cases) - set(store.index["case_id"]))
    if missing_cases:
        raise ValueError(f"{store.path}: test patients not in the slice store: {missing_cases}")
    if not np.array_equal(np.sort(rows), expected):
        raise ValueError(
            f"{path}: rows are not exactly the {len(expected)} slices of the {len(cases)} test"
            f" patients ({len(rows)} rows given)"
        )
    order = np.argsort(rows, kind="stable")
    return rows[order], prob[order]


def per_patient(store, rows: np.ndarray, prob: np.ndarray, *, threshold: float) -> pd.DataFrame:
    """One row per test patient: ``case_id`` + :func:`mgi.metrics.patient_metrics`.

    rows: (n,) ascending store rows; prob: (n, H, W) probabilities; a pixel is tumour if
    ``prob >= threshold``.
    """
    cases = store.index["case_id"].to_numpy()[rows]
    records = []
    for case in tqdm(list(dict.fromkeys(cases)), desc="evaluate", unit="patient"):
        sel = cases == case
        target = np.asarray(store.masks[rows[sel]]).astype(bool)
        records.append({"case_id": case, **metrics.patient_metrics(prob[sel] >= threshold, target)})
    return pd.DataFrame.from_records(records)


def _plain(value: Any) -> Any:
    """JSON for what ``json`` cannot write: numpy scalars as numbers, anything else as text."""
    return value.item() if isinstance(value, np.generic) else str(value)


def write_scores(
    table: pd.DataFrame, per_patient_out: str | Path, summary: dict, summary_out: str | Path
) -> None:
    """A run's per-patient CSV and its summary JSON, each written atomically."""
    with atomic_path(per_patient_out) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6g")
    with atomic_path(summary_out) as tmp:
        tmp.write_text(json.dumps(summary, indent=1, default=_plain))


def evaluate_run(
    predictions: str | Path,
    store_path: str | Path,
    split: str | Path,
    *,
    per_patient_out: str | Path,
    summary_out: str | Path,
    run: str,
    threshold: float = 0.5,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
    config: Any = None,
) -> dict[str, Any]:
    """Evaluate ``run``: write the per-patient CSV and the summary JSON (atomically).

    Returns the summary: ``run``, ``metrics`` (see :func:`mgi.metrics.summarise`), the
    definitions, the settings and provenance.
    """
    from mgi.imaging import SliceStore

    store = SliceStore(store_path)
    cases = read_test_cases(split)
    rows, prob = load_predictions(predictions, store, cases)
    table = per_patient(store, rows, prob, threshold=threshold)
    summary = {
        "run": run,
        "metrics": metrics.summarise(
            table, n_resamples=n_resamples, confidence=confidence, seed=seed
        ),
        "definitions": DEFINITIONS,
        "settings": {
            "threshold": threshold,
            "bootstrap_resamples": n_resamples,
            "confidence": confidence,
            "seed": seed,
        },
        "inputs": {"predictions": str(predictions), "store": str(store_path), "split": str(split)},
        "provenance": provenance(config, seed),
    }
    write_scores(table, per_patient_out, summary, summary_out)
    m = summary["metrics"]
    log.info(
        "%s: dice %.3f [%.3f, %.3f], dice_slice %.3f, dice_slice_all %.3f, hd95 %.2f (%d patients)",
        run,
        m["dice"],
        m["dice_ci_low"],
        m["dice_ci_high"],
        m["dice_slice"],
        m["dice_slice_all"],
        m["hd95"],
        m["n_test_patients"],
    )
    return summary


def write_back(
    predictions: str | Path,
    store_path: str | Path,
    split: str | Path,
    out_dir: str | Path,
    *,
    threshold: float = 0.5,
) -> Path:
    """Predicted masks of NIfTI-input test patients -> ``out_dir/<case>.nii.gz`` (folder atomic).

    Each mask lands on its FLAIR's native grid and affine
    (:func:`mgi.imaging.write_prediction_nifti`); patients from kaggle_3m TIFFs have no
    volume to write back to and are skipped (logged).
    """
    from mgi.imaging import SliceStore, write_prediction_nifti

    store = SliceStore(store_path)
    rows, prob = load_predictions(predictions, store, read_test_cases(split))
    index = store.index.iloc[rows].reset_index(drop=True)
    fmt = index["format"] if "format" in index else pd.Series("nifti", index=index.index)
    with atomic_path(out_dir, directory=True) as tmp:
        for case, part in tqdm(index.groupby("case_id", sort=False), desc="nifti", unit="patient"):
            if (fmt[part.index] != "nifti").any():
                log.info("%s: not a NIfTI input, no write-back", case)
                continue
            pred = (prob[part.index.to_numpy()] >= threshold).astype(np.uint8)
            write_prediction_nifti(
                pred,
                part["source"].iloc[0],
                tmp / f"{case}.nii.gz",
                slice_index=part["slice"].to_numpy(),
            )
    return Path(out_dir)
