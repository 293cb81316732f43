"""Table 1 from per-patient rows: seeds averaged per patient, bootstrap CIs, corrected tests.

Every method's input is one per-patient table per fine-tuning seed (the rows of
:func:`mgi.evaluate.per_patient`, pooled over folds by :func:`mgi.cv.pool_run`). Each patient's
metrics are averaged over the seeds first, so the bootstrap over patients and the paired
differences see one value per patient (seeds are repeats of one experiment, not more
patients). The comparisons -- every method against ``image_only`` and ``mgi`` against each
baseline -- are paired per patient; their two-sided p-values come from the same bootstrap as
the CIs (:func:`mgi.metrics.paired_test`) and are Holm-adjusted over all of the table's
comparisons (:func:`mgi.stats.holm`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mgi import latex, metrics
from mgi.stats import holm

REFERENCE_RUN = "image_only"
MGI_RUN = "mgi"
BASELINES = ("unet", "resunet", "deeplabv3plus", "attention_unet")
# What a per-patient table must hold (mgi.metrics.patient_metrics), and the metrics averaged.
PATIENT_COLUMNS = frozenset(
    {"case_id", "dice", "dice_slice", "dice_slice_all", "hd95", "n_slices", "n_tumour_slices"}
)
PATIENT_METRICS = ["dice", "dice_slice", "dice_slice_all", "hd95"]
SUMMARY_COLUMNS = (  # a run's summary columns, in Table 1's order (mgi.tables, bundle cards)
    "dice",
    "dice_ci_low",
    "dice_ci_high",
    "dice_slice",
    "dice_slice_all",
    "hd95",
    "n_test_patients",
)
VERSUS = f"dice_vs_{REFERENCE_RUN}"
GAIN = "mgi_gain"  # on a baseline's row: mgi's dice minus the baseline's, paired


def _read(item: Any, what: str) -> pd.DataFrame:
    if isinstance(item, pd.DataFrame):
        table = item
    else:
        path = Path(item)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: per-patient table missing ({what})")
        table = pd.read_csv(path)
    if not PATIENT_COLUMNS <= set(table.columns):
        raise ValueError(
            f"{item if not isinstance(item, pd.DataFrame) else what}: a per-patient table needs"
            f" columns {sorted(PATIENT_COLUMNS)}, has {list(table.columns)}"
        )
    if table.case_id.duplicated().any():
        twice = sorted(set(table.case_id[table.case_id.duplicated()]))[:5]
        raise ValueError(f"{what}: patients listed twice: {twice}")
    return table


def read_seeds(item: Any, what: str) -> list[pd.DataFrame]:
    """One method's per-patient tables, one per seed: a path or table, or a list of them."""
    items = list(item) if isinstance(item, (list, tuple)) else [item]
    if not items:
        raise ValueError(f"{what}: no per-patient table given")
    return [_read(x, f"{what}, seed {k}") for k, x in enumerate(items)]


def seed_mean(tables: Sequence[pd.DataFrame], what: str = "") -> pd.DataFrame:
    """One row per patient (the first seed's order): :data:`PATIENT_METRICS` averaged over the
    seeds' tables; slice counts and ``fold`` from the first. Every seed must hold the same
    patients (else ValueError naming ``what``)."""
    first = tables[0].set_index("case_id")
    for k, table in enumerate(tables[1:], start=1):
        if set(table.case_id) != set(first.index):
            diff = sorted(set(table.case_id) ^ set(first.index))[:5]
            raise ValueError(f"{what}: seed {k} holds other test patients than seed 0: {diff}")
    if len(tables) == 1:
        return tables[0].reset_index(drop=True)
    stacked = pd.concat([t.set_index("case_id")[PATIENT_METRICS] for t in tables])
    mean = stacked.groupby(level=0).mean().loc[first.index]
    return first.drop(columns=PATIENT_METRICS).join(mean).reset_index()


def fold_means(tables: Sequence[pd.DataFrame], seeds: Sequence[int]) -> pd.DataFrame:
    """Per seed and fold (``fold`` column; one split: fold 0): mean ``dice`` and patients."""
    rows = []
    for s, table in zip(seeds, tables, strict=True):
        fold = table["fold"] if "fold" in table else pd.Series(0, index=table.index)
        for k, part in table.groupby(fold, sort=True):
            rows.append({"fold": int(k), "seed": int(s), "dice": float(part.dice.mean()),
                         "n_patients": len(part)})  # fmt: skip
    return pd.DataFrame(rows)


def method_row(
    tables: Sequence[pd.DataFrame], *, n_resamples: int, confidence: float, seed: int, what=""
) -> dict[str, Any]:
    """A method's Table 1 values from its seeds' tables (see the module doc)."""
    from mgi.cv import fold_spread

    avg = seed_mean(tables, what)
    summary = metrics.summarise(avg, n_resamples=n_resamples, confidence=confidence, seed=seed)
    row = {k: summary[k] for k in SUMMARY_COLUMNS}
    if "fold" in avg:
        row |= {"dice_fold_sd": fold_spread(avg), "n_folds": int(avg.fold.nunique())}
    means = [float(t.dice.mean()) for t in tables]
    row["dice_seed_sd"] = float(np.std(means, ddof=1)) if len(means) > 1 else float("nan")
    row["n_seeds"] = len(tables)
    return row


def paired(a: pd.DataFrame, b: pd.DataFrame, what: str, **bootstrap) -> tuple[float, ...]:
    """``(diff, ci_low, ci_high, p)`` of per-patient ``dice`` a - b over the same patients."""
    x, y = a.set_index("case_id").dice, b.set_index("case_id").dice
    if set(x.index) != set(y.index):
        raise ValueError(f"{what}: the runs hold different test patients:"
                         f" {sorted(set(x.index) ^ set(y.index))[:5]}")  # fmt: skip
    return metrics.paired_test((x - y.loc[x.index]).to_numpy(float), **bootstrap)


def table1_frame(
    per_patient: Mapping[str, Any],
    *,
    seeds: Sequence[int] | None = None,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(table, folds)``: one Table 1 row per method (mapping order) and the method x fold x
    seed mean Dice. ``per_patient``: method -> its per-patient table(s), one per seed
    (``seeds`` labels them; default 0, 1, ...)."""
    boot = {"n_resamples": n_resamples, "confidence": confidence, "seed": seed}
    data = {run: read_seeds(item, run) for run, item in per_patient.items()}
    count = max(len(v) for v in data.values())  # a method may have fewer (its first seeds)
    labels = list(seeds) if seeds is not None else list(range(count))
    if len(labels) < count:
        raise ValueError(f"Table 1: {len(labels)} seed labels for {count} tables per method")
    table = pd.DataFrame([{"method": r, **method_row(t, what=r, **boot)} for r, t in data.items()])
    avg = {r: seed_mean(t, r) for r, t in data.items()}
    tests = []  # (row, column prefix, result): the table's family of comparisons
    if REFERENCE_RUN in avg:
        for run in avg:
            if run != REFERENCE_RUN:
                res = paired(avg[run], avg[REFERENCE_RUN], f"{run} vs {REFERENCE_RUN}", **boot)
                tests.append((run, VERSUS, res))
    if MGI_RUN in avg:
        for run in (b for b in BASELINES if b in avg):
            tests.append((run, GAIN, paired(avg[MGI_RUN], avg[run], f"mgi vs {run}", **boot)))
    adjusted = holm([res[3] for *_, res in tests]) if tests else []
    cols = {
        VERSUS: [VERSUS, f"{VERSUS}_ci_low", f"{VERSUS}_ci_high", "p", "p_holm"],
        GAIN: [GAIN, f"{GAIN}_ci_low", f"{GAIN}_ci_high", f"{GAIN}_p", f"{GAIN}_p_holm"],
    }
    for name in (VERSUS, GAIN):
        for col in cols[name]:
            table[col] = float("nan")
    index = {r: i for i, r in enumerate(table.method)}
    for (run, name, res), p_holm in zip(tests, adjusted, strict=True):
        table.loc[index[run], cols[name]] = [*res, p_holm]
    if not any(name == GAIN for _, name, _ in tests):
        table = table.drop(columns=cols[GAIN])
    folds = pd.concat(
        [fold_means(t, labels[: len(t)]).assign(method=r) for r, t in data.items()],
        ignore_index=True,
    )
    return table, folds[["method", "fold", "seed", "dice", "n_patients"]]


def _count(table: pd.DataFrame, column: str, default: int = 1) -> int:
    return int(table[column].max()) if column in table and table[column].notna().any() else default


def table1_note(table: pd.DataFrame, *, cohort: str, compared: bool, data_terms: str = "") -> str:
    """The Markdown note under Table 1: what every column means, which family Holm covers."""
    folds = (
        " With cross-validation every patient is a test patient once, scored by the models of"
        " its own fold; the columns pool all patients; `dice_fold_sd` is the SD over folds of"
        " the folds' mean `dice`, `n_folds` their number."
        if "n_folds" in table
        else ""
    )
    seeds = (
        " `n_seeds` fine-tuning seeds per method: each patient's metrics are averaged over the"
        " seeds before the bootstrap; `dice_seed_sd` is the SD over seeds of the method's mean"
        " `dice` (blank for one seed)."
        if "n_seeds" in table
        else ""
    )
    tests = ""
    if compared:
        m = int(table["p"].notna().sum()) + (
            int(table[f"{GAIN}_p"].notna().sum()) if f"{GAIN}_p" in table else 0
        )
        tests = (
            f" `{VERSUS}`: mean per-patient difference in `dice` to `{REFERENCE_RUN}` on the"
            " same patients (seed-averaged), with its paired bootstrap CI; `p`: its two-sided"
            " p-value from the same resamples; `p_holm`: Holm-adjusted over the table's"
            f" {m} comparisons (each method vs `{REFERENCE_RUN}`, and `mgi` vs each baseline:"
            f" `{GAIN}` = mgi's `dice` minus the baseline's, with `{GAIN}_p`,"
            f" `{GAIN}_p_holm`)."
        )
    return (
        f"Our columns come from {cohort} (95 % bootstrap CI over patients)."
        + folds
        + seeds
        + " `dice`: per-patient 3-D Dice, mean over patients; `dice_slice`: per-slice Dice over"
        " tumour slices; `dice_slice_all`: per-slice Dice over all slices, empty-vs-empty = 1;"
        " `hd95` in store voxels."
        + tests
        + " `paper_dice` is the paper's Table 1 (TCGA-LGG, Dice definition not stated), for"
        " reference only: a different cohort, split and possibly definition."
        + (f" Data: {data_terms}" if data_terms else "")
    )


def _best(values: pd.Series, low: bool = False) -> float:
    values = values.dropna()
    return float("nan") if values.empty else float(values.min() if low else values.max())


def table1_tex(table: pd.DataFrame, *, title: str, cohort: str, data_terms: str = "") -> str:
    """Table 1 as a LaTeX ``table`` (:func:`mgi.latex.table_env`): Dice with its CI, slice
    Dice, HD95, (the SD over seeds), the paired difference to image_only with its CI and
    Holm-adjusted p, the paper's Dice; the best of each of our metrics in bold."""
    seeds = _count(table, "n_seeds")
    compared = "p_holm" in table
    header = ["Method", r"Dice [95\% CI]", "Slice Dice (all)", "HD95"]
    header += [r"SD over seeds"] if seeds > 1 else []
    header += [rf"$\Delta$Dice vs {latex.escape(REFERENCE_RUN)} [95\% CI]",
               r"$p_\mathrm{Holm}$"] if compared else []  # fmt: skip
    header += ["Paper Dice"]
    best = {"dice": _best(table.dice), "dice_slice_all": _best(table.dice_slice_all),
            "hd95": _best(table.hd95, low=True)}  # fmt: skip
    rows = []
    for r in table.itertuples(index=False):
        row = [
            latex.escape(r.method),
            latex.with_ci(r.dice, r.dice_ci_low, r.dice_ci_high, bold=r.dice == best["dice"]),
            latex.with_ci(
                r.dice_slice_all,
                math.nan,
                math.nan,
                bold=r.dice_slice_all == best["dice_slice_all"],
            ),  # fmt: skip
            latex.with_ci(r.hd95, math.nan, math.nan, 2, bold=r.hd95 == best["hd95"]),
        ]
        row += [latex.num(r.dice_seed_sd)] if seeds > 1 else []
        if compared:
            row += [
                latex.with_ci(
                    getattr(r, VERSUS),
                    getattr(r, f"{VERSUS}_ci_low"),
                    getattr(r, f"{VERSUS}_ci_high"),
                    sign=True,
                ),  # fmt: skip
                latex.pvalue(r.p_holm),
            ]
        row += [latex.num(r.paper_dice)]
        rows.append(row)
    n = _count(table, "n_test_patients", 0)
    folds = _count(table, "n_folds")
    note = (
        "Dice: per-patient 3-D Dice over all of a patient's slices, averaged over the"
        f" {n} test patients ({latex.escape(cohort)})"
        + (
            f"; {folds}-fold cross-validation, every patient tested once by its fold's models"
            if folds > 1
            else "; one train/test split"
        )  # fmt: skip
        + f"; {seeds} fine-tuning seed{'s' if seeds > 1 else ''}"
        + (
            ", each patient's Dice averaged over the seeds before the bootstrap"
            if seeds > 1
            else ""
        )  # fmt: skip
        + r". 95\% percentile bootstrap CIs over patients. Slice Dice (all): per-slice Dice over"
        " all slices, empty-vs-empty = 1. HD95 in voxels of the slice store."
    )
    if compared:
        m = int(table["p"].notna().sum()) + (
            int(table[f"{GAIN}_p"].notna().sum()) if f"{GAIN}_p" in table else 0
        )
        note += (
            rf" $\Delta$Dice: paired per-patient difference to {latex.escape(REFERENCE_RUN)};"
            r" $p_\mathrm{Holm}$: two-sided paired-bootstrap p-value, Holm-adjusted over the"
            f" table's {m} comparisons (each method vs {latex.escape(REFERENCE_RUN)}; mgi vs"
            " each baseline"
        )
        if f"{GAIN}_p_holm" in table:
            gains = [
                f"{latex.escape(r.method)} {latex.num(getattr(r, GAIN), sign=True)},"
                f" $p_\\mathrm{{Holm}}$ {latex.pvalue(getattr(r, f'{GAIN}_p_holm'))}"
                for r in table.itertuples(index=False)
                if not math.isnan(getattr(r, f"{GAIN}_p_holm"))
            ]
            note += ": " + "; ".join(gains)
        note += ")."
    note += (
        " Paper Dice: the MGI paper's Table 1 (TCGA-LGG; definition not stated), another"
        " cohort and split, for reference only."
        + (f" Data: {latex.escape(data_terms)}" if data_terms else "")
    )
    return latex.table_env(
        header,
        rows,
        align="l" + "r" * (len(header) - 1),
        caption=latex.escape(title),
        label="tab:table1",
        note=note,
    )
