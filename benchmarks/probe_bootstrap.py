"""Benchmark Table 2's AUROC bootstrap (issue 18): the vectorised resamples of
:func:`mgi.probe.scores.bootstrap_auroc` against a loop of scikit-learn's ``roc_auc_score``, one
call per resample, at the test-set sizes of the demo (18), the demo with cv (48), kaggle_3m (110)
and a cohort of 500, for a binary and a 4-class label. Checks that both give the same values.
Prints a table and writes ``benchmarks/results/probe_bootstrap.csv``. Table 2 computes one such
bootstrap per (label, feature set): 9 labels x 5 feature sets = 45 in the paper's run.

    python benchmarks/probe_bootstrap.py --resamples 2000 --sizes 18 48 110 500
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from mgi.probe.scores import bootstrap_auroc, resample_weights

RESULTS = Path(__file__).resolve().parent / "results" / "probe_bootstrap.csv"


def loop(y, proba, classes, w):
    """The reference: one scikit-learn call per resample (NaN where a class is missing)."""
    out = np.full(len(w), np.nan)
    for b, row in enumerate(w):
        idx = np.repeat(np.arange(len(row)), row.astype(int))
        if len(set(y[idx])) < len(classes):
            continue
        if len(classes) == 2:
            out[b] = roc_auc_score(y[idx] == classes[1], proba[idx, 1])
        else:
            out[b] = roc_auc_score(y[idx], proba[idx], multi_class="ovr", labels=classes)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[18, 48, 110, 500])
    ap.add_argument("--resamples", type=int, default=2000)
    args = ap.parse_args()
    rows = []
    rng = np.random.default_rng(0)
    for n in args.sizes:
        for k in (2, 4):
            classes = [f"c{i}" for i in range(k)]
            y = np.array(classes)[np.arange(n) % k]
            proba = rng.dirichlet(np.ones(k), size=n)
            w = resample_weights(n, args.resamples, seed=1)
            t = time.perf_counter()
            fast = bootstrap_auroc(y, proba, classes, w)
            t_fast = time.perf_counter() - t
            t = time.perf_counter()
            ref = loop(y, proba, classes, w)
            t_loop = time.perf_counter() - t
            same = np.allclose(fast, ref, equal_nan=True)
            rows.append({"patients": n, "classes": k, "resamples": args.resamples,
                         "vectorised_s": round(t_fast, 4), "sklearn_loop_s": round(t_loop, 3),
                         "speedup": round(t_loop / t_fast, 1), "same_values": same})  # fmt: skip
    table = pd.DataFrame(rows)
    print(table.to_string(index=False))
    RESULTS.parent.mkdir(exist_ok=True)
    table.to_csv(RESULTS, index=False)


if __name__ == "__main__":
    main()
