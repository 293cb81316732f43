"""Table 2 as LaTeX (:func:`mgi.latex.table_env`): per label, each feature set's AUROC with its
CI (the label's best in bold), balanced accuracy, the paired difference to the untrained ViT
with its CI and Holm-adjusted p."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from mgi import latex
from mgi.probe.table import REFERENCE


def table2_tex(
    table: pd.DataFrame,
    *,
    n_folds: int,
    confidence: float,
    model_seeds: Mapping[str, int] | None = None,
    data_terms: str = "",
) -> str:
    vs = f"auroc_vs_{REFERENCE}"
    header = ["Label", "Features", rf"AUROC [{confidence:.0%} CI]".replace("%", r"\%"),
              "Bal.\\ acc.", rf"$\Delta$AUROC vs untrained ViT [{confidence:.0%} CI]"
              .replace("%", r"\%"), r"$p_\mathrm{Holm}$"]  # fmt: skip
    best = table.groupby("label", sort=False)["auroc"].max()
    rows, groups, last = [], [], None
    for i, r in enumerate(table.itertuples(index=False)):
        if r.label != last:
            groups.append(i)
        rows.append(
            [
                latex.escape(r.label) if r.label != last else "",
                latex.escape(r.features),
                latex.with_ci(
                    r.auroc, r.auroc_ci_low, r.auroc_ci_high, bold=r.auroc == best[r.label]
                ),  # fmt: skip
                latex.num(r.balanced_accuracy),
                latex.with_ci(
                    getattr(r, vs),
                    getattr(r, f"{vs}_ci_low"),
                    getattr(r, f"{vs}_ci_high"),
                    sign=True,
                ),  # fmt: skip
                latex.pvalue(r.p_holm),
            ]
        )
        last = r.label
    n = int(table.n_patients.max()) if len(table) else 0
    m = int(table.p.notna().sum())
    seeds = model_seeds or {}
    note = (
        "AUROC of a logistic-regression probe on frozen patient embeddings (no genes at test"
        " time but for the genes row), one-vs-rest macro for several classes, on"
        f" {n} test patients"
        + (
            f"; {n_folds}-fold cross-validation, AUROC per fold averaged over the folds"
            if n_folds > 1
            else "; one train/test split"
        )  # fmt: skip
        + (
            f"; the models of pre-training seed {seeds['pretrain']} and fine-tuning seed"
            f" {seeds['finetune']}"
            if seeds
            else ""
        )  # fmt: skip
        + f". {confidence:.0%}".replace("%", r"\%")
        + r" percentile bootstrap CIs over patients; $\Delta$AUROC: paired difference to"
        f" {latex.escape(REFERENCE)} (the same ViT, untrained) on the same resamples;"
        r" $p_\mathrm{Holm}$: its two-sided bootstrap p-value, Holm-adjusted over the"
        f" table's {m} comparisons (labels $\\times$ feature sets). Chance is 0.5."
        + (f" Data: {latex.escape(data_terms)}" if data_terms else "")
    )
    return latex.table_env(
        header,
        rows,
        align="llrrrr",
        caption="Table 2: what the image encoders know of each label (linear probe)",
        label="tab:table2",
        note=note,
        groups=groups,
    )
