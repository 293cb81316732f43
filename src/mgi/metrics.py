"""Segmentation metrics, each definition named, and bootstrap confidence intervals over patients.

Papers on TCGA-LGG / kaggle_3m report "Dice" under different definitions, and on that data
(2,556 of 3,929 slices without tumour) the choice moves the number a lot, so every one is named:

``dice``
    per-patient 3-D Dice over all of the patient's slices, then the mean over test patients
    (Buda et al., 2019). A patient whose mask and prediction are both empty scores 1.
``dice_slice``
    per-slice 2-D Dice over the slices whose ground truth holds tumour, mean over all such
    slices of all test patients (pooled). Empty predictions there score 0.
``dice_slice_all``
    per-slice 2-D Dice over *all* slices, empty-vs-empty = 1 (a slice without tumour and without
    prediction scores 1; a false-positive blob on an empty slice scores 0), mean over all slices
    of all test patients (pooled) -- the convention of the MGI authors' public code.
``hd95``
    95th-percentile symmetric Hausdorff distance of the patient's 3-D masks (MONAI), in voxels
    of the slice store (in-plane pixels after resizing; slice axis = 1), mean over patients.
    Empty masks follow the BraTS convention: both empty -> 0; exactly one empty -> the diagonal
    of the patient's volume (the largest distance possible), so a missed tumour is penalised
    rather than silently dropped from the mean.

Per-patient values come from :func:`patient_metrics`; pooled slice means are weighted means of
the per-patient slice means (weights = slice counts), so one bootstrap over patients serves all.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

# metric -> per-patient weight column (None: plain mean over patients).
WEIGHTS: Mapping[str, str | None] = {
    "dice": None,
    "dice_slice": "n_tumour_slices",
    "dice_slice_all": "n_slices",
    "hd95": None,
}


def _check(pred: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred, target = np.asarray(pred).astype(bool), np.asarray(target).astype(bool)
    if pred.shape != target.shape:
        raise ValueError(f"prediction shape {pred.shape} != mask shape {target.shape}")
    return pred, target


def dice_3d(pred: np.ndarray, target: np.ndarray) -> float:
    """Dice of one patient's whole stack. pred, target: (n, H, W) bool; both empty -> 1."""
    pred, target = _check(pred, target)
    denom = int(pred.sum()) + int(target.sum())
    if denom == 0:
        return 1.0
    return 2.0 * int(np.logical_and(pred, target).sum()) / denom


def dice_per_slice(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """2-D Dice of every slice. pred, target: (n, H, W) bool -> (n,) float64; empty-vs-empty 1."""
    pred, target = _check(pred, target)
    inter = np.logical_and(pred, target).reshape(len(pred), -1).sum(1)
    denom = pred.reshape(len(pred), -1).sum(1) + target.reshape(len(target), -1).sum(1)
    out = np.ones(len(pred), dtype=np.float64)
    nz = denom > 0
    out[nz] = 2.0 * inter[nz] / denom[nz]
    return out


def hd95(pred: np.ndarray, target: np.ndarray, spacing: tuple[float, ...] | None = None) -> float:
    """95 % Hausdorff distance (MONAI) of one patient's (n, H, W) masks; empties per module doc."""
    import torch
    from monai.metrics import compute_hausdorff_distance

    pred, target = _check(pred, target)
    has_pred, has_target = bool(pred.any()), bool(target.any())
    if not has_pred and not has_target:
        return 0.0
    if has_pred != has_target:
        sp = np.ones(pred.ndim) if spacing is None else np.asarray(spacing, dtype=float)
        return float(np.sqrt(np.sum((np.asarray(pred.shape) * sp) ** 2)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # MONAI-internal deprecation notice
        value = compute_hausdorff_distance(
            torch.from_numpy(pred)[None, None],  # 1 x 1 x n x H x W
            torch.from_numpy(target)[None, None],
            include_background=True,
            percentile=95,
            spacing=spacing,
        )
    return float(value.item())


def patient_metrics(pred: np.ndarray, target: np.ndarray) -> dict[str, float | int]:
    """All metrics of one patient. pred, target: (n, H, W) bool (all of the patient's slices).

    ``dice_slice`` is NaN for a patient without tumour slices (weight 0 in the pooled mean).
    """
    pred, target = _check(pred, target)
    per_slice = dice_per_slice(pred, target)
    tumour = target.reshape(len(target), -1).any(1)
    return {
        "n_slices": int(len(target)),
        "n_tumour_slices": int(tumour.sum()),
        "tumour_pixels": int(target.sum()),
        "pred_pixels": int(pred.sum()),
        "dice": dice_3d(pred, target),
        "dice_slice": float(per_slice[tumour].mean()) if tumour.any() else float("nan"),
        "dice_slice_all": float(per_slice.mean()),
        "hd95": hd95(pred, target),
    }


def _weighted_mean(values: np.ndarray, weights: np.ndarray, axis: int = -1) -> np.ndarray:
    values = np.where(weights > 0, values, 0.0)  # NaN slice means carry weight 0
    return np.sum(values * weights, axis=axis) / np.sum(weights, axis=axis)


def aggregate(per_patient: pd.DataFrame, metric: str) -> float:
    """The cohort value of ``metric`` from the per-patient table (see :data:`WEIGHTS`)."""
    weight = WEIGHTS[metric]
    values = per_patient[metric].to_numpy(float)
    if weight is None:
        return float(np.mean(values))
    return float(_weighted_mean(values, per_patient[weight].to_numpy(float)))


def bootstrap_ci(
    per_patient: pd.DataFrame,
    metric: str,
    *,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap CI of :func:`aggregate` resampling *patients* (scipy.stats.bootstrap).

    Deterministic in ``seed``. With fewer than two patients the interval is (nan, nan).
    """
    values = per_patient[metric].to_numpy(float)
    if len(values) < 2:
        log.warning("bootstrap CI of %s needs >= 2 patients; got %d", metric, len(values))
        return float("nan"), float("nan")
    weight = WEIGHTS[metric]
    weights = np.ones_like(values) if weight is None else per_patient[weight].to_numpy(float)
    return _percentile_ci((values, weights), _weighted_mean, n_resamples, confidence, seed)


def _percentile_ci(data, statistic, n_resamples: int, confidence: float, seed: int):
    """scipy.stats.bootstrap percentile interval, resampling the (paired) rows of ``data``."""
    low, high, _ = _bootstrap(data, statistic, n_resamples, confidence, seed)
    return low, high


def _bootstrap(data, statistic, n_resamples: int, confidence: float, seed: int):
    """``(low, high, resampled statistics)`` of scipy.stats.bootstrap's percentile interval."""
    from scipy.stats import bootstrap

    res = bootstrap(
        data,
        statistic,
        paired=True,
        vectorized=True,
        n_resamples=n_resamples,
        confidence_level=confidence,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    low, high = res.confidence_interval
    return float(low), float(high), np.asarray(res.bootstrap_distribution)


def paired_difference(
    per_patient: pd.DataFrame,
    reference: pd.DataFrame,
    metric: str = "dice",
    *,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Mean over patients of ``per_patient[metric] - reference[metric]``, paired by ``case_id``,
    and its percentile bootstrap CI resampling patients: ``(diff, low, high)``.

    Pairing removes what both runs share (an easy or a hard patient), so the interval is far
    narrower than comparing two unpaired CIs. ``metric`` must be a plain per-patient mean
    (``dice``, ``hd95``). Raises ValueError if the two tables do not hold the same patients.
    """
    if WEIGHTS.get(metric, "") is not None:
        raise ValueError(f"paired difference needs a per-patient-mean metric, not {metric!r}")
    a = per_patient.set_index("case_id")[metric]
    b = reference.set_index("case_id")[metric]
    if set(a.index) != set(b.index):
        only = sorted(set(a.index) ^ set(b.index))
        raise ValueError(f"paired difference: the runs hold different test patients: {only}")
    diff = (a - b.loc[a.index]).to_numpy(float)
    return paired_test(diff, n_resamples=n_resamples, confidence=confidence, seed=seed)[:3]


def paired_test(
    diff, *, n_resamples: int = 2000, confidence: float = 0.95, seed: int = 0
) -> tuple[float, float, float, float]:
    """Per-patient differences ``diff`` -> ``(mean, ci_low, ci_high, p)``: the percentile
    bootstrap CI of the mean resampling patients, and the two-sided p-value of "mean 0" from
    the same resamples (:func:`mgi.stats.bootstrap_p`). NaN CI and p for fewer than 2 patients."""
    from mgi.stats import bootstrap_p

    diff = np.asarray(diff, dtype=float)
    if len(diff) < 2:
        return float(np.mean(diff)), float("nan"), float("nan"), float("nan")
    low, high, resampled = _bootstrap((diff,), np.mean, n_resamples, confidence, seed)
    return float(np.mean(diff)), low, high, bootstrap_p(resampled)


def summarise(
    per_patient: pd.DataFrame,
    *,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, float | int]:
    """Cohort values and CIs of every metric: ``{m, m_ci_low, m_ci_high}`` + ``n_test_patients``."""
    out: dict[str, float | int] = {"n_test_patients": int(len(per_patient))}
    for metric in WEIGHTS:
        out[metric] = aggregate(per_patient, metric)
        out[f"{metric}_ci_low"], out[f"{metric}_ci_high"] = bootstrap_ci(
            per_patient, metric, n_resamples=n_resamples, confidence=confidence, seed=seed
        )
    out["n_slices"] = int(per_patient["n_slices"].sum())
    out["n_tumour_slices"] = int(per_patient["n_tumour_slices"].sum())
    return out
