"""The bundle's model card (``docs/README.md``): what the model is, what it was trained on, how
well it did (its Table 1 row), what it is for, and its licence."""

from __future__ import annotations

import math
from typing import Any

from mgi.table1 import SUMMARY_COLUMNS


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.3f}"
    return str(value)


def _cap(text: str) -> str:
    """``text`` with its first letter upper-case (the rest kept: FLAIR, MRI)."""
    return text[:1].upper() + text[1:]


def _row(metrics: dict[str, Any] | None) -> str:
    if not metrics:
        return "Not evaluated when this bundle was exported.\n"
    cols = list(SUMMARY_COLUMNS)
    head = "| " + " | ".join(cols) + " |\n|" + "|".join(" --- " for _ in cols) + "|\n"
    return head + "| " + " | ".join(_fmt(metrics.get(c, "")) for c in cols) + " |\n"


def model_card(meta: dict[str, Any], metrics: dict[str, Any] | None) -> str:
    """Markdown text of the card from the bundle's metadata and evaluation summary."""
    m = meta["mgi"]
    lic = meta["data_license"]
    cohort = m["cohort"]
    prep = m["preprocessing"]
    models = m["models"]
    if m["needs_genes"]:
        genes = (
            "**Needs RNA-seq.** Every case needs an `expression` file (GDC STAR-Counts or a"
            " `gene_id, tpm` table); a case without one stops with a message. It was never"
            " trained without genes."
        )
    elif m["uses_genes"]:
        genes = (
            "Reads RNA-seq when a case has it; trained with gene dropout, so a case without"
            ' `expression` is predicted through its learned "no genes" token'
            " (`genes_used` false in `predictions.tsv`)."
        )
    else:
        genes = "Reads the FLAIR only (an `expression` column is ignored)."
    kind = (
        f"an ensemble of {len(models)} cross-validation fold models (mean probability)"
        if len(models) > 1
        else "one model (holdout split)"
    )
    encoder = f", gene encoder {m['gene_encoder']}" if m["uses_genes"] else ""
    project = f", project {cohort['project']}" if cohort["project"] else ""
    return f"""# {meta["name"]}

{_cap(meta["task"])}: run `{m["run"]}` of mgi-pipeline ({m["method"]}{encoder}), {kind}.

## Intended use

{_cap(meta["intended_use"])}. {genes} Outputs a tumour mask per FLAIR, on the FLAIR's own
grid and affine.

```bash
mgi predict --bundle THIS.zip --sheet cases.tsv --out predictions
```

## Training cohort

- source: `{cohort["source"]}`, images: `{cohort["imaging_source"]}`{project}; split:
  `{cohort["split"]}`
- training patients per model: {", ".join(map(str, cohort["n_train_patients"]))}
- images: {lic["images"]["data"]}

## Performance (its Table 1 row, test patients of its own split)

{_row(metrics)}
`dice`: per-patient 3-D Dice, mean over test patients, 95 % bootstrap CI; `hd95` in slice-store
voxels. Numbers on a different cohort will differ: validate on your own patients
(`mgi predict` with a `mask` column reports `dice` and `hd95` per case).

## Preprocessing (applied by `mgi predict`)

- orientation: {prep["orientation"]}
- intensity: {prep["intensity"]} (clip percentiles {prep["clip_percentiles"]})
- size: {prep["size"]} x {prep["size"]}; {prep["resize"]}
- slices: trained on `{prep["slices_trained"]}`, every slice is predicted
- threshold: {m["threshold"]}

## Licence

**{lic["name"]}.** {_cap(lic["images"]["terms"])}
{("Licence text: " + lic["images"]["url"]) if lic["images"]["url"] else ""}

## Provenance

config hash `{m["provenance"]["config_hash"]}`, git `{m["provenance"]["git_commit"]}`,
trained {m["provenance"]["created"]}; package versions in `configs/metadata.json`.
"""
