"""Figures for the report (PNG): training curves, Dice box plots, best/median/worst overlays.

Drawn with matplotlib's object API (``matplotlib.figure.Figure``), so no GUI backend or global
pyplot state is involved; every PNG is written atomically.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from mgi.atomic import atomic_path
from mgi.tables import read_csv_columns

log = logging.getLogger(__name__)


def _save(fig: Figure, out: str | Path) -> Path:
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    log.info("figure -> %s", out)
    return Path(out)


def loss_curves(
    files: Mapping[str, str | Path], out: str | Path, *, loss: str = "train_loss", title: str = ""
) -> Path:
    """One panel per run: ``loss`` (and any ``val_*`` columns) against ``epoch``."""
    n = len(files)
    if n == 0:
        raise ValueError(f"{out}: no training histories to plot")
    cols = min(4, n)
    fig = Figure(figsize=(3.2 * cols, 2.6 * math.ceil(n / cols)), layout="constrained")
    axes = fig.subplots(math.ceil(n / cols), cols, squeeze=False).ravel()
    for ax, (run, path) in zip(axes, files.items(), strict=False):
        table = read_csv_columns(path, {"epoch", loss})
        ax.plot(table["epoch"], table[loss], marker=".", label=loss)
        for col in (c for c in table.columns if c.startswith("val_")):
            ax.plot(table["epoch"], table[col], marker=".", label=col)
        ax.set(title=run, xlabel="epoch", ylabel="loss")
        ax.legend(fontsize="x-small")
    for ax in axes[n:]:
        ax.set_axis_off()
    if title:
        fig.suptitle(title)
    return _save(fig, out)


def dice_boxplot(
    per_patient: Mapping[str, str | Path], out: str | Path, *, metric: str = "dice"
) -> Path:
    """Box plot of per-patient ``metric`` per method (in mapping order), patients as dots."""
    data = {
        run: read_csv_columns(p, {metric})[metric].dropna().to_numpy()
        for run, p in per_patient.items()
    }
    fig = Figure(figsize=(1.1 * len(data) + 2, 3.6), layout="constrained")
    ax = fig.subplots()
    ax.boxplot(list(data.values()), showfliers=False)
    ax.set_xticks(range(1, len(data) + 1), list(data), rotation=30, ha="right")
    jitter = np.random.default_rng(0)  # fixed: the figure is reproducible
    for i, values in enumerate(data.values(), start=1):
        ax.plot(i + jitter.uniform(-0.12, 0.12, len(values)), values, ".", color="k", alpha=0.6)
    ax.set(ylabel=f"{metric} per test patient")
    if metric.startswith("dice"):
        ax.set_ylim(-0.02, 1.02)
    ax.set_title(f"{metric}: per-patient distribution (test patients)")
    return _save(fig, out)


def fold_boxplot(folds_csv: str | Path, out: str | Path) -> Path:
    """Box plot per method of its fold x seed mean Dice (``table1_folds.csv``), one dot each,
    the seeds told apart by marker."""
    table = read_csv_columns(folds_csv, {"method", "fold", "seed", "dice"})
    if table.empty:
        raise ValueError(f"{folds_csv}: no method x fold x seed row to plot")
    methods = list(dict.fromkeys(table["method"]))
    fig = Figure(figsize=(1.1 * len(methods) + 2, 3.6), layout="constrained")
    ax = fig.subplots()
    ax.boxplot([table.dice[table.method == m].to_numpy() for m in methods], showfliers=False)
    ax.set_xticks(range(1, len(methods) + 1), methods, rotation=30, ha="right")
    jitter = np.random.default_rng(0)  # fixed: the figure is reproducible
    seeds = sorted(table.seed.unique())
    for k, s in enumerate(seeds):
        part = table[table.seed == s]
        x = part.method.map({m: i for i, m in enumerate(methods, start=1)}).to_numpy(float)
        ax.plot(x + jitter.uniform(-0.15, 0.15, len(x)), part.dice, "os^vD"[k % 5], color="k",
                alpha=0.6, label=f"seed {s}")  # fmt: skip
    folds = table.fold.nunique()
    ax.set(ylabel="mean dice of a fold's test patients", ylim=(-0.02, 1.02),
           title=f"dice per fold ({folds}) x seed ({len(seeds)})")  # fmt: skip
    if len(seeds) > 1:
        ax.legend(fontsize="x-small")
    return _save(fig, out)


def pick_patients(per_patient: pd.DataFrame, metric: str = "dice") -> dict[str, str]:
    """``{"best", "median", "worst"}`` -> case_id by ``metric`` (median: the middle-ranked)."""
    ranked = per_patient.sort_values([metric, "case_id"], ascending=[False, True])
    ids = ranked["case_id"].tolist()
    return {"best": ids[0], "median": ids[len(ids) // 2], "worst": ids[-1]}


def overlays(
    per_patient_csv: str | Path,
    predictions: str | Path,
    store_path: str | Path,
    out: str | Path,
    *,
    threshold: float = 0.5,
) -> Path:
    """Best/median/worst test patient (by ``dice``): the slice with the most tumour, FLAIR in
    grey, ground truth contour green, prediction contour red."""
    from mgi.imaging import SliceStore

    store = SliceStore(store_path)
    table = read_csv_columns(per_patient_csv, {"case_id", "dice"})
    with np.load(predictions) as npz:
        rows, prob = npz["rows"], npz["prob"]
    cases = store.index["case_id"].to_numpy()[rows]
    fig = Figure(figsize=(9, 3.4), layout="constrained")
    for ax, (label, case) in zip(fig.subplots(1, 3), pick_patients(table).items(), strict=True):
        sel = np.flatnonzero(cases == case)
        area = np.asarray(store.masks[rows[sel]]).reshape(len(sel), -1).sum(1)
        if area.max() == 0:  # no tumour: show the slice with the most predicted tumour
            area = (prob[sel] >= threshold).reshape(len(sel), -1).sum(1)
        k = sel[int(np.argmax(area))]
        ax.imshow(np.asarray(store.images[rows[k]], dtype=np.float32), cmap="gray")
        ax.contour(np.asarray(store.masks[rows[k]]), levels=[0.5], colors="lime", linewidths=1)
        if (prob[k] >= threshold).any():
            ax.contour(prob[k].astype(np.float32), levels=[threshold], colors="red", linewidths=1)
        dice = float(table.set_index("case_id").loc[case, "dice"])
        ax.set_title(f"{label}: {case}\nDice {dice:.3f}", fontsize="small")
        ax.set_axis_off()
    fig.suptitle("mgi: ground truth (green) vs prediction (red)")
    return _save(fig, out)


def auroc_plot(table2: str | Path, out: str | Path) -> Path:
    """Table 2 as a figure: per label, each feature set's AUROC with its CI (chance at 0.5)."""
    table = read_csv_columns(
        table2, {"label", "features", "auroc", "auroc_ci_low", "auroc_ci_high"}
    )
    if table.empty:  # a cohort too small for any label: said in the figure, not an error
        log.warning("%s: no label was scorable (see label_sources.tsv); empty figure", table2)
        fig = Figure(figsize=(5.0, 2.0), layout="constrained")
        ax = fig.subplots()
        ax.set_axis_off()
        ax.text(0.5, 0.5, "Table 2: no label was scorable\n(see results/cohort/label_sources.tsv)",
                ha="center", va="center")  # fmt: skip
        return _save(fig, out)
    labels = list(dict.fromkeys(table["label"]))
    features = list(dict.fromkeys(table["features"]))
    fig = Figure(figsize=(max(5.0, 1.3 * len(labels) + 2), 3.6), layout="constrained")
    ax = fig.subplots()
    width = 0.8 / len(features)
    for k, feat in enumerate(features):
        rows = table[table["features"] == feat].set_index("label").reindex(labels)
        x = np.arange(len(labels)) + (k - (len(features) - 1) / 2) * width
        err = np.vstack(
            [rows["auroc"] - rows["auroc_ci_low"], rows["auroc_ci_high"] - rows["auroc"]]
        )
        ax.errorbar(x, rows["auroc"], yerr=np.nan_to_num(err), fmt="o", capsize=2, label=feat)
    ax.axhline(0.5, color="grey", lw=0.8, ls="--")
    ax.set_xticks(np.arange(len(labels)), labels, rotation=20, ha="right")
    ax.set(ylim=(0, 1.02), ylabel="AUROC on test patients (95 % CI)",
           title="Table 2: linear probe of frozen features")  # fmt: skip
    ax.legend(fontsize="x-small", loc="lower left", ncols=2)
    return _save(fig, out)
