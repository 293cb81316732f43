"""Table 2: per label and feature set, the probe's AUROC on test patients with a bootstrap CI.

With ``split.scheme: cv`` every paired patient is a test patient once, scored by the probe and
encoders of its own fold. AUROC is computed *per fold* on that fold's test patients and averaged
over the folds, weighted by their test patients (holdout: the one split's AUROC): each fold's
probe is calibrated on its own, so ranking one fold's probabilities against another's would mix
calibrations (and push an uninformative feature set's AUROC below 0.5: a fold whose training
patients lean to one class predicts it for its test patients, who lean to the other). The
bootstrap resamples patients within each fold and averages the folds likewise; the paired
difference to ``image_pretrained_random`` (the same ViT without pre-training) uses the same
resamples for both feature sets. Balanced accuracy is over all test patients' predicted classes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from mgi.probe.fit import PREDICTION_COLUMNS
from mgi.probe.scores import (
    auroc,
    balanced_accuracy,
    bootstrap_auroc,
    percentile_ci,
    resample_weights,
)
from mgi.stats import bootstrap_p, holm

log = logging.getLogger(__name__)

REFERENCE = "image_pretrained_random"
COLUMNS = [
    "label",
    "features",
    "auroc",
    "auroc_ci_low",
    "auroc_ci_high",
    "balanced_accuracy",
    "n_patients",
    "n_classes",
    f"auroc_vs_{REFERENCE}",
    f"auroc_vs_{REFERENCE}_ci_low",
    f"auroc_vs_{REFERENCE}_ci_high",
    "p",
    "p_holm",
    "source",
    "slices",
]


def read_predictions(paths: Sequence[str | Path]) -> pd.DataFrame:
    """The folds' prediction tables stacked; a patient tested twice for one (label, features)
    is an error naming the files."""
    parts = []
    for path in paths:
        table = pd.read_csv(path, dtype={"y_true": str, "y_pred": str, "case_id": str})
        missing = set(PREDICTION_COLUMNS) - set(table.columns)
        if missing:
            raise ValueError(f"{path}: not a probe predictions table (lacks {sorted(missing)})")
        parts.append(table)
    table = pd.concat(parts, ignore_index=True)
    dup = table.duplicated(["label", "features", "case_id"])
    if dup.any():
        who = table.loc[dup, ["label", "features", "case_id"]].head(3).to_dict("records")
        raise ValueError(f"{', '.join(map(str, paths))}: patients tested twice: {who}")
    return table


def _arrays(group: pd.DataFrame):
    classes = group["classes"].iloc[0].split("|")
    if (group["classes"] != group["classes"].iloc[0]).any():  # folds saw different classes
        classes = sorted({c for cs in group["classes"] for c in cs.split("|")})
    proba = np.zeros((len(group), len(classes)))
    for i, (cs, ps) in enumerate(zip(group["classes"], group["proba"], strict=True)):
        for c, p in zip(cs.split("|"), ps.split("|"), strict=True):
            proba[i, classes.index(c)] = float(p)
    return group["y_true"].to_numpy(str), proba, classes


def fold_mean(values: np.ndarray, size: np.ndarray) -> np.ndarray:
    """(B,) mean over the folds (columns of ``values`` (B, F)) weighted by their test patients
    ``size`` (F,), leaving out a fold's NaN; NaN where every fold is NaN."""
    w = np.where(np.isfinite(values), size[None, :], 0.0)
    total = w.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, np.nansum(values * w, axis=1) / total, np.nan)


def table2(
    predictions: pd.DataFrame,
    sources: pd.DataFrame | None = None,
    *,
    slices: str = "",
    features_order: Sequence[str] = (),
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Table 2 rows (:data:`COLUMNS`), labels in ``sources`` order, features in
    ``features_order``."""
    source_of = {} if sources is None else dict(zip(sources.label, sources.source, strict=True))
    rows = []
    diff_cols = COLUMNS[8:12]  # the difference, its CI and p (p_holm: over the whole table)
    for label, by_label in predictions.groupby("label", sort=False):
        folds = sorted(by_label.fold.unique())
        cases = {k: sorted(set(by_label.case_id[by_label.fold == k])) for k in folds}
        size = np.array([len(cases[k]) for k in folds], float)
        weights = {k: resample_weights(len(cases[k]), n_resamples, seed + i)
                   for i, k in enumerate(folds)}  # fmt: skip
        boot, label_rows = {}, []
        for features, group in by_label.groupby("features", sort=False):
            point, resampled, y_all, pred_all = [], [], [], []
            for k in folds:
                part = group[group.fold == k]
                if part.empty:  # this fold's probe was not fitted (too few training patients)
                    point.append(np.nan)
                    resampled.append(np.full(n_resamples, np.nan))
                    continue
                part = part.set_index("case_id").loc[cases[k]].reset_index()  # one order
                y, proba, classes = _arrays(part)
                point.append(auroc(y, proba, classes))
                resampled.append(bootstrap_auroc(y, proba, classes, weights[k]))
                y_all.append(y)
                pred_all.append(part["y_pred"].to_numpy(str))
            boot[features] = fold_mean(np.stack(resampled, axis=1), size)
            low, high = percentile_ci(boot[features], confidence, f"{label} / {features}")
            y, pred = np.concatenate(y_all), np.concatenate(pred_all)
            label_rows.append(
                {
                    "label": label,
                    "features": features,
                    "auroc": float(fold_mean(np.array(point)[None, :], size)[0]),
                    "auroc_ci_low": low,
                    "auroc_ci_high": high,
                    "balanced_accuracy": balanced_accuracy(y, pred),
                    "n_patients": len(y),
                    "n_classes": len(set(y)),
                    "source": source_of.get(label, ""),
                    "slices": "" if features == "genes" else slices,
                }
            )
        ref = next((r["auroc"] for r in label_rows if r["features"] == REFERENCE), None)
        for row in label_rows:
            diff = (np.nan,) * 4
            if ref is not None and row["features"] != REFERENCE:
                d = boot[row["features"]] - boot[REFERENCE]
                what = f"{label} / {row['features']} - {REFERENCE}"
                ci = percentile_ci(d, confidence, what)
                p = bootstrap_p(d) if np.isfinite(ci).all() else np.nan  # none without a CI
                diff = (row["auroc"] - ref, *ci, p)
            row.update(zip(diff_cols, diff, strict=True))
        rows += label_rows
    table = pd.DataFrame(rows, columns=COLUMNS)
    table["p_holm"] = holm(table["p"].to_numpy(float))  # family: every label x feature set
    label_order = list(source_of) + [x for x in table.label.unique() if x not in source_of]
    feat_order = list(features_order) + [f for f in table.features.unique()
                                         if f not in features_order]  # fmt: skip
    table["_l"] = table.label.map(label_order.index)
    table["_f"] = table.features.map(feat_order.index)
    return table.sort_values(["_l", "_f"]).drop(columns=["_l", "_f"]).reset_index(drop=True)


def write_table2(
    predictions: Sequence[str | Path],
    sources: str | Path,
    stem: str | Path,
    *,
    slices: str,
    features_order: Sequence[str] = (),
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
    config=None,
    model_seeds=None,
    data_terms: str = "",
) -> pd.DataFrame:
    """Table 2 from the folds' predictions -> ``stem``.csv/.md/.json/.tex
    (mgi.tables.write_table, mgi.probe.tex); ``model_seeds`` (pretrain, finetune: the seeds of
    the models probed) and ``data_terms`` (the data's licence) go under the table."""
    from mgi.probe.labels import SOURCE_COLUMNS
    from mgi.probe.tex import table2_tex
    from mgi.tables import write_table

    report = pd.read_csv(sources, sep="\t", keep_default_na=False)
    if not set(SOURCE_COLUMNS) <= set(report.columns):
        raise ValueError(f"{sources}: not a label_sources table")
    used = report[report.status == "used"]
    stacked = read_predictions(predictions)
    table = table2(
        stacked,
        used,
        slices=slices,
        features_order=features_order,
        n_resamples=n_resamples,
        confidence=confidence,
        seed=seed,
    )
    skipped = report[report.status != "used"]
    note = (
        "AUROC of a logistic-regression probe (C chosen by cross-validation inside the training"
        " patients) on frozen patient embeddings, scored on test patients (one-vs-rest macro for"
        " several classes; with cross-validation, per fold and averaged over the folds);"
        f" {confidence:.0%} bootstrap CIs over patients ({n_resamples} resamples)."
        f" `auroc_vs_{REFERENCE}`: paired difference to the same ViT without pre-training;"
        " `p`: its two-sided p-value from the same resamples; `p_holm`: Holm-adjusted over the"
        f" table's {int(table.p.notna().sum())} comparisons (every label x feature set)."
        " Chance is 0.5."
    )
    if len(skipped):
        note += (
            " Skipped labels: "
            + "; ".join(f"{r.label} ({r.reason})" for r in skipped.itertuples())
            + "."
        )
    if data_terms:
        note += f" Data: {data_terms}"
    files = {f"predictions_{k}": str(p) for k, p in enumerate(predictions)}
    write_table(
        table,
        stem,
        title="Table 2: what the image encoders know of each label (linear probe)",
        note=note,
        sources={**files, "label_sources": str(sources)},
        config=config,
        seed=seed,
        tex=table2_tex(
            table,
            n_folds=int(stacked.fold.nunique()) if "fold" in stacked else 1,
            confidence=confidence,
            model_seeds=model_seeds,
            data_terms=data_terms,
        ),
    )
    return table
