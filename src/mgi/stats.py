"""Two-sided p-values from a paired bootstrap, and Holm's step-down correction over a table.

The tables' confidence intervals are percentile intervals of a paired bootstrap (resampling
patients); the p-value of a comparison is read off the same resampled differences, so a p below
``1 - confidence`` goes with an interval that excludes 0. Every table corrects over its own
comparisons (its family) with Holm's method, which holds the family-wise error rate without
assuming the comparisons independent.
"""

from __future__ import annotations

import numpy as np


def bootstrap_p(resampled) -> float:
    """Two-sided p-value of "the difference is 0" from its bootstrap distribution: twice the
    smaller share of resampled differences on either side of 0 (0 counts on both sides), with
    the +1 of Davison & Hinkley (1997, eq. 4.11) so that a finite number of resamples never
    gives p = 0. NaN resamples are left out; NaN if none is left."""
    d = np.asarray(resampled, dtype=float).ravel()
    d = d[np.isfinite(d)]
    if d.size == 0:
        return float("nan")
    below = (np.count_nonzero(d <= 0) + 1) / (d.size + 1)
    above = (np.count_nonzero(d >= 0) + 1) / (d.size + 1)
    return float(min(1.0, 2.0 * min(below, above)))


def holm(pvalues) -> np.ndarray:
    """Holm-adjusted p-values (same order as given). With the m finite p-values sorted,
    p_(1) <= ... <= p_(m), the adjusted p_(i) is max over j <= i of min(1, (m - j + 1) p_(j));
    NaN stays NaN and does not count in m. Rejecting where the adjusted p < alpha is Holm's
    step-down test at family-wise level alpha."""
    p = np.asarray(pvalues, dtype=float)
    if p.ndim != 1:
        raise ValueError(f"holm: expected a 1-D list of p-values, got shape {p.shape}")
    finite = np.isfinite(p)
    if ((p[finite] < 0) | (p[finite] > 1)).any():
        raise ValueError(f"holm: p-values must lie in [0, 1], got {p[finite].tolist()}")
    out = np.full(p.shape, np.nan)
    order = np.flatnonzero(finite)[np.argsort(p[finite], kind="stable")]
    m, running = len(order), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out
