"""p-values from a paired bootstrap and Holm's step-down correction (mgi.stats)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mgi.stats import bootstrap_p, holm


def test_holm_against_a_hand_worked_example():
    # m = 4. Sorted: 0.005 (x4 = 0.020), 0.010 (x3 = 0.030), 0.030 (x2 = 0.060), 0.040 (x1 =
    # 0.040, but never below the step before: 0.060). Back in the given order:
    p = [0.010, 0.040, 0.030, 0.005]
    assert holm(p) == pytest.approx([0.030, 0.060, 0.060, 0.020])
    # at alpha 0.05 Holm rejects the first two sorted hypotheses and stops at 0.030 * 2 > 0.05
    assert list(holm(p) < 0.05) == [True, False, False, True]


def test_holm_caps_at_one_and_leaves_nan_out_of_the_family():
    out = holm([0.6, math.nan, 0.7, 0.01, 0.02])  # m = 4: 0.04, 0.06, 1.2 -> 1, 0.7 -> 1
    assert out[3] == pytest.approx(0.04) and out[4] == pytest.approx(0.06)
    assert out[0] == out[2] == 1.0 and math.isnan(out[1])
    assert holm([]).size == 0
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        holm([0.2, 1.5])


def test_bootstrap_p_is_two_sided_and_never_zero():
    assert bootstrap_p(np.full(999, 0.3)) == pytest.approx(2 / 1000)  # all above 0
    assert bootstrap_p(-np.full(999, 0.3)) == pytest.approx(2 / 1000)  # all below: the same
    assert bootstrap_p(np.zeros(99)) == 1.0  # no difference at all
    d = np.r_[np.full(90, 0.1), np.full(10, -0.1)]  # 10 % of resamples at or below 0
    assert bootstrap_p(d) == pytest.approx(2 * 11 / 101)
    assert math.isnan(bootstrap_p([math.nan]))
