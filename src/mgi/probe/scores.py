"""AUROC with bootstrap CIs over patients, and paired AUROC differences, for Table 2.

AUROC is one-vs-rest, macro-averaged over classes for a multi-class label (scikit-learn's
``roc_auc_score(multi_class="ovr", average="macro")``, which gives the point estimates). The
bootstrap resamples *patients* (with replacement); written by hand, vectorised over resamples,
because scikit-learn has no batched AUROC and scipy's bootstrap calls the statistic per resample:
2,000 ``roc_auc_score`` calls take 2.7-8.8 s per (label, feature set), 0.3-3 ms vectorised, with
the same values (``benchmarks/probe_bootstrap.py``, 18 to 500 patients). With a resample's
patient multiplicities ``w``, class ``k``'s AUROC is the Mann-Whitney statistic
``w_pos @ S @ w_neg / (sum w_pos * sum w_neg)``, ``S`` the (pos x neg) matrix of 1 / 0.5 / 0 for a
higher / tied / lower score -- one matrix product per class for all resamples. A resample
missing a class has no AUROC and is left out (counted). The paired difference uses the same
resamples for both feature sets, so what the patients share cancels.
"""

from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger(__name__)


def auroc(y: np.ndarray, proba: np.ndarray, classes: list[str]) -> float:
    """One-vs-rest macro AUROC of ``proba`` (P, K) for labels ``y`` (binary: of class 1)."""
    from sklearn.metrics import roc_auc_score

    if len(set(y)) < 2:
        return float("nan")
    if len(classes) == 2:
        return float(roc_auc_score(y == classes[1], proba[:, 1]))
    present = [k for k, c in enumerate(classes) if c in set(y)]
    if len(present) < len(classes):  # a class without test patients: AUROC over the others
        p = proba[:, present] / proba[:, present].sum(1, keepdims=True)
        return auroc(y, p, [classes[k] for k in present])
    return float(roc_auc_score(y, proba, multi_class="ovr", average="macro", labels=classes))


def balanced_accuracy(y: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean per-class recall (scikit-learn's ``balanced_accuracy_score``)."""
    from sklearn.metrics import balanced_accuracy_score

    return float(balanced_accuracy_score(y, y_pred))


def resample_weights(n: int, n_resamples: int, seed: int) -> np.ndarray:
    """(B, n) multiplicities of each patient in each bootstrap resample."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(n_resamples, n))
    w = np.zeros((n_resamples, n), dtype=np.float64)
    np.add.at(w, (np.arange(n_resamples)[:, None], idx), 1.0)
    return w


def _class_auroc(score: np.ndarray, positive: np.ndarray, w: np.ndarray) -> np.ndarray:
    """(B,) AUROC of ``score`` for ``positive`` under each resample's weights ``w`` (B, n)."""
    pos, neg = score[positive], score[~positive]
    s = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    wp, wn = w[:, positive], w[:, ~positive]
    num = np.einsum("bi,ij,bj->b", wp, s, wn)
    den = wp.sum(1) * wn.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)


def bootstrap_auroc(y, proba, classes, w: np.ndarray) -> np.ndarray:
    """(B,) macro one-vs-rest AUROC per resample (NaN where a class is missing)."""
    y = np.asarray(y)
    present = [k for k, c in enumerate(classes) if c in set(y)]
    if len(present) < 2:
        return np.full(len(w), np.nan)
    if len(present) < len(classes):
        proba = proba[:, present] / proba[:, present].sum(1, keepdims=True)
        classes = [classes[k] for k in present]
    if len(classes) == 2:
        return _class_auroc(proba[:, 1], y == classes[1], w)
    per_class = [_class_auroc(proba[:, k], y == c, w) for k, c in enumerate(classes)]
    return np.mean(per_class, axis=0)  # NaN if any class is missing from a resample


def percentile_ci(values: np.ndarray, confidence: float, what: str) -> tuple[float, float]:
    """Percentile interval of the finite ``values`` (logs how many resamples had none)."""
    ok = values[np.isfinite(values)]
    if len(ok) < 0.5 * len(values) or len(ok) < 10:
        log.warning("%s: only %d of %d resamples scorable; no CI", what, len(ok), len(values))
        return float("nan"), float("nan")
    if len(ok) < len(values):
        log.info("%s: %d of %d resamples lack a class, left out", what, len(values) - len(ok),
                 len(values))  # fmt: skip
    alpha = (1 - confidence) / 2
    low, high = np.quantile(ok, [alpha, 1 - alpha])
    return float(low), float(high)
