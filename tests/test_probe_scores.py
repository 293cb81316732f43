"""AUROC bootstrap of Table 2 (mgi.probe.scores): the vectorised resamples equal scikit-learn's
AUROC of each resample, binary and multi-class; a resample missing a class has none."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

from mgi.probe.scores import auroc, bootstrap_auroc, percentile_ci, resample_weights


def _expand(w_row):
    return np.repeat(np.arange(len(w_row)), w_row.astype(int))


def test_binary_resamples_equal_sklearn():
    rng = np.random.default_rng(0)
    y = np.array(["a", "b"] * 8)
    p1 = np.round(rng.random(16), 1)  # ties included
    proba = np.c_[1 - p1, p1]
    w = resample_weights(16, 50, seed=1)
    boot = bootstrap_auroc(y, proba, ["a", "b"], w)
    for b in range(50):
        idx = _expand(w[b])
        if len(set(y[idx])) < 2:
            assert np.isnan(boot[b])
        else:
            assert np.isclose(boot[b], roc_auc_score(y[idx] == "b", p1[idx]))
    assert np.isclose(auroc(y, proba, ["a", "b"]), roc_auc_score(y == "b", p1))


def test_multiclass_is_one_vs_rest_macro():
    rng = np.random.default_rng(2)
    y = np.array(["x", "y", "z"] * 6)
    proba = rng.dirichlet([1, 1, 1], size=18)
    classes = ["x", "y", "z"]
    expected = roc_auc_score(y, proba, multi_class="ovr", average="macro", labels=classes)
    assert np.isclose(auroc(y, proba, classes), expected)
    w = resample_weights(18, 30, seed=3)
    boot = bootstrap_auroc(y, proba, classes, w)
    for b in range(30):
        idx = _expand(w[b])
        if len(set(y[idx])) == 3:
            ovr = [roc_auc_score(y[idx] == c, proba[idx, k]) for k, c in enumerate(classes)]
            assert np.isclose(boot[b], np.mean(ovr))
        else:
            assert np.isnan(boot[b])


def test_a_perfect_and_a_useless_score():
    y = np.array([0] * 10 + [1] * 10).astype(str)
    perfect = np.c_[1 - np.arange(20) / 20, np.arange(20) / 20]
    w = resample_weights(20, 200, seed=0)
    assert np.nanmin(bootstrap_auroc(y, perfect, ["0", "1"], w)) == 1.0
    flat = np.full((20, 2), 0.5)
    assert np.allclose(bootstrap_auroc(y, flat, ["0", "1"], w)[np.isfinite(
        bootstrap_auroc(y, flat, ["0", "1"], w))], 0.5)  # fmt: skip
    low, high = percentile_ci(bootstrap_auroc(y, perfect, ["0", "1"], w), 0.95, "perfect")
    assert low == high == 1.0
    assert np.isnan(percentile_ci(np.full(100, np.nan), 0.95, "none")[0])
