"""External validation: every run's bundle predicts an external cohort (``config external``);
with masks the cohort gets its own Table 1 (:func:`mgi.tables.table1`: same columns, bootstrap
CIs and paired differences to ``image_only``)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from mgi import metrics
from mgi.evaluate import DEFINITIONS, write_scores

log = logging.getLogger(__name__)


def evaluate_predictions(
    predictions: str | Path,
    *,
    per_patient_out: str | Path,
    summary_out: str | Path,
    run: str,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, Any]:
    """``mgi predict``'s ``predictions.tsv`` -> the per-patient CSV and summary JSON that
    :func:`mgi.evaluate.evaluate_run` writes (the cases with a mask only)."""
    table = pd.read_csv(predictions, sep="\t")
    if "dice" not in table:
        raise ValueError(f"{predictions}: no case has a mask: nothing to score")
    table = table[table["dice"].notna()].reset_index(drop=True)
    summary = {
        "run": run,
        "metrics": metrics.summarise(
            table, n_resamples=n_resamples, confidence=confidence, seed=seed
        ),
        "definitions": DEFINITIONS,
        "settings": {"bootstrap_resamples": n_resamples, "confidence": confidence, "seed": seed},
        "inputs": {"predictions": str(predictions)},
    }
    write_scores(table, per_patient_out, summary, summary_out)
    log.info(
        "%s on %s: dice %.3f (%d patients)",
        run,
        predictions,
        summary["metrics"]["dice"],
        len(table),
    )
    return summary


def external_table1(
    name: str,
    summaries: Mapping[str, str | Path],
    per_patient: Mapping[str, str | Path],
    stem: str | Path,
    *,
    bootstrap: Mapping[str, Any] | None = None,
    config: Any = None,
) -> pd.DataFrame:
    """Table 1 over external cohort ``name`` (``stem``.csv/.md/.json)."""
    from mgi.tables import table1

    return table1(
        summaries,
        stem,
        per_patient=per_patient,
        bootstrap=bootstrap,
        config=config,
        seed=(bootstrap or {}).get("seed"),
        title=f"External cohort {name}: segmentation by each run's bundle",
        cohort=f"the external cohort {name}, predicted by each run's bundle (mgi predict)",
    )
