"""Cross-validation: one run's per-fold evaluations joined into one over all patients.

Each fold's models score that fold's test patients (``mgi.evaluate.evaluate_run``); the folds'
test sets partition the cohort, so their per-patient tables stack into one table holding every
patient once. Cohort values and bootstrap CIs are computed on that table exactly as for one
split (:func:`mgi.metrics.summarise`); ``dice_fold_sd`` (the SD over folds of each fold's mean
per-patient ``dice``) and ``n_folds`` say how much the folds disagree.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from mgi import metrics
from mgi.evaluate import DEFINITIONS, write_scores
from mgi.provenance import provenance

log = logging.getLogger(__name__)


def stack_folds(per_patient: Sequence[str | Path]) -> pd.DataFrame:
    """The per-patient tables of folds 0..K-1 in one, with a ``fold`` column.

    Raises ValueError (naming the files) if a patient is in more than one fold's table.
    """
    parts = []
    for k, path in enumerate(per_patient):
        table = pd.read_csv(path)
        if "case_id" not in table:
            raise ValueError(f"{path}: no case_id column")
        parts.append(table.assign(fold=k))
    table = pd.concat(parts, ignore_index=True)
    dup = table.case_id[table.case_id.duplicated()]
    if len(dup):
        raise ValueError(
            f"{', '.join(map(str, per_patient))}: patients tested in more than one fold:"
            f" {sorted(set(dup))[:5]}"
        )
    return table


def fold_spread(table: pd.DataFrame, metric: str = "dice") -> float:
    """SD (ddof 1) over folds of each fold's mean per-patient ``metric``; NaN for one fold."""
    means = table.groupby("fold")[metric].mean()
    return float(means.std(ddof=1)) if len(means) > 1 else float("nan")


def pool_run(
    per_patient: Sequence[str | Path],
    *,
    per_patient_out: str | Path,
    summary_out: str | Path,
    run: str,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
    config: Any = None,
) -> dict[str, Any]:
    """Write ``run``'s pooled per-patient CSV (with ``fold``) and summary JSON (the metrics of
    :func:`mgi.metrics.summarise` plus ``dice_fold_sd`` and ``n_folds``); returns the summary."""
    table = stack_folds(per_patient)
    pooled = metrics.summarise(table, n_resamples=n_resamples, confidence=confidence, seed=seed)
    pooled |= {"dice_fold_sd": fold_spread(table), "n_folds": len(per_patient)}
    summary = {
        "run": run,
        "metrics": pooled,
        "definitions": DEFINITIONS
        | {"dice_fold_sd": "SD over folds of the folds' mean per-patient dice"},
        "settings": {
            "bootstrap_resamples": n_resamples,
            "confidence": confidence,
            "seed": seed,
        },
        "inputs": {"per_patient": [str(p) for p in per_patient]},
        "provenance": provenance(config, seed),
    }
    write_scores(table, per_patient_out, summary, summary_out)
    log.info(
        "%s: dice %.3f [%.3f, %.3f] over %d patients of %d folds (fold SD %.3f)",
        run,
        pooled["dice"],
        pooled["dice_ci_low"],
        pooled["dice_ci_high"],
        pooled["n_test_patients"],
        pooled["n_folds"],
        pooled["dice_fold_sd"],
    )
    return summary
