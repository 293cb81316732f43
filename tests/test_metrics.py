"""Each Dice definition against hand-computed values on tiny arrays; HD95; bootstrap CIs."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from mgi import metrics


def _stack(n: int = 3, size: int = 4) -> np.ndarray:
    return np.zeros((n, size, size), dtype=bool)


@pytest.fixture
def patient():
    """3 slices: slice 0 empty/empty, slice 1 tumour 4 px / pred 2 px inside, slice 2 FP 2 px."""
    target, pred = _stack(), _stack()
    target[1, 0:2, 0:2] = True  # 4 tumour pixels
    pred[1, 0, 0:2] = True  # 2 predicted, both correct
    pred[2, 3, 0:2] = True  # 2 false positives on a slice without tumour
    return pred, target


def test_dice_3d_hand_computed(patient):
    pred, target = patient
    # 3-D: intersection 2, |pred| 4, |target| 4 -> 2*2/8
    assert metrics.dice_3d(pred, target) == pytest.approx(0.5)


def test_dice_per_slice_and_slice_definitions(patient):
    pred, target = patient
    np.testing.assert_allclose(metrics.dice_per_slice(pred, target), [1.0, 2 * 2 / 6, 0.0])
    m = metrics.patient_metrics(pred, target)
    assert m["dice_slice"] == pytest.approx(2 / 3)  # tumour slices only: slice 1
    assert m["dice_slice_all"] == pytest.approx((1 + 2 / 3 + 0) / 3)  # empty-vs-empty = 1
    assert (m["n_slices"], m["n_tumour_slices"], m["tumour_pixels"], m["pred_pixels"]) == (
        3,
        1,
        4,
        4,
    )


def test_empty_vs_empty_and_empty_prediction():
    empty = _stack()
    assert metrics.dice_3d(empty, empty) == 1.0
    m = metrics.patient_metrics(empty, empty)
    assert m["dice_slice_all"] == 1.0 and math.isnan(m["dice_slice"]) and m["hd95"] == 0.0
    target = _stack()
    target[0, 1:3, 1:3] = True
    m = metrics.patient_metrics(_stack(), target)  # the model missed the tumour
    assert m["dice"] == 0.0 and m["dice_slice"] == 0.0
    assert m["dice_slice_all"] == pytest.approx(2 / 3)  # the two empty slices still score 1
    assert m["hd95"] == pytest.approx(math.sqrt(3**2 + 4**2 + 4**2))  # volume diagonal


def test_shape_mismatch_raises():
    with pytest.raises(ValueError, match="shape"):
        metrics.dice_3d(_stack(2), _stack(3))


def test_hd95_known_shape():
    target = np.zeros((5, 20, 20), dtype=bool)
    target[1:4, 5:10, 5:10] = True
    pred = np.roll(target, 3, axis=2)  # the cube moved by 3 pixels in-plane
    assert metrics.hd95(pred, target) == pytest.approx(3.0)
    assert metrics.hd95(target, target) == 0.0
    assert metrics.hd95(pred, target, spacing=(1.0, 1.0, 2.0)) == pytest.approx(6.0)


def _table(n: int = 12, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "dice": rng.uniform(0.3, 0.9, n),
            "dice_slice": rng.uniform(0.3, 0.9, n),
            "dice_slice_all": rng.uniform(0.6, 1.0, n),
            "hd95": rng.uniform(1, 10, n),
            "n_slices": rng.integers(10, 30, n),
            "n_tumour_slices": rng.integers(1, 10, n),
        }
    )


def test_pooled_slice_means_are_weighted():
    df = pd.DataFrame(
        {"dice_slice": [1.0, 0.0, np.nan], "n_tumour_slices": [1, 3, 0], "dice": [1.0, 0.0, 1.0]}
    )
    assert metrics.aggregate(df, "dice_slice") == pytest.approx(0.25)  # pooled over 4 slices
    assert metrics.aggregate(df, "dice") == pytest.approx(2 / 3)  # mean over patients


def test_bootstrap_ci_contains_mean_and_is_seeded():
    df = _table()
    for metric in metrics.WEIGHTS:
        low, high = metrics.bootstrap_ci(df, metric, n_resamples=500, seed=1)
        assert low < metrics.aggregate(df, metric) < high
    a = metrics.bootstrap_ci(df, "dice", n_resamples=500, seed=1)
    b = metrics.bootstrap_ci(df, "dice", n_resamples=500, seed=1)
    c = metrics.bootstrap_ci(df, "dice", n_resamples=500, seed=2)
    assert a == b and a != c
    narrow = metrics.bootstrap_ci(df, "dice", n_resamples=500, confidence=0.5, seed=1)
    assert a[0] < narrow[0] and narrow[1] < a[1]


def test_summarise_keys_and_single_patient():
    s = metrics.summarise(_table(), n_resamples=200, seed=0)
    assert s["n_test_patients"] == 12 and s["dice_ci_low"] < s["dice"] < s["dice_ci_high"]
    one = metrics.summarise(_table(1), n_resamples=200, seed=0)
    assert math.isnan(one["dice_ci_low"]) and not math.isnan(one["dice"])
