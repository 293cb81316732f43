"""Table 2's labels: one row per paired patient, each label with the table it came from.

Three sources, looked up in this order for each configured label name:

``gdc_markers``  the WHO glioma markers from the GDC API (``mgi gdc markers``: ``idh`` from
                 ``/ssm_occurrences``, ``codeletion_1p19q`` from gene-level copy number); the
                 demo writes the same file from its latent factors.
``kaggle_3m``    kaggle_3m's ``data.csv`` (RNASeqCluster, MethylationCluster, CNCluster,
                 histological_type, neoplasm_histologic_grade, ...; integer codes as written).
``gdc_clinical`` the GDC clinical table (``primary_diagnosis``, ``tumor_grade``, ...).

A label is used only when it can be scored: at least two classes with ``min_per_class``
patients each, and at most ``max_missing`` of the paired patients without a value ("Not
Reported", "Unknown", empty). Classes below ``min_per_class`` are dropped (their patients get no
value for that label) and the label is kept if two classes remain. Nothing is dropped silently:
``label_sources.tsv`` lists every configured label with its source, its class counts, whether it
is used and why not.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from mgi.atomic import atomic_path
from mgi.barcodes import case_barcode
from mgi.clinical import kaggle_3m_table, read_cases

log = logging.getLogger(__name__)

# Values that mean "no value" in the GDC and in data.csv (compared lower-case, stripped).
MISSING = {"not reported", "unknown", "not available", "na", "nan", "none", "--", "'--", ""}
SOURCE_COLUMNS = [
    "label",
    "source",
    "file",
    "status",
    "reason",
    "n_patients",
    "n_classes",
    "classes",
    "classes_used",
]


@dataclass(frozen=True)
class LabelRules:
    """When a label can be scored (config ``probe``)."""

    min_per_class: int = 10  # patients per class (classes below are dropped, listed)
    max_missing: float = 0.5  # share of paired patients without a value above which it is skipped


def _keyed(table: pd.DataFrame, key: str, path: str | Path) -> pd.DataFrame:
    """``table`` indexed by case barcode (from ``key``), one row per case."""
    if key not in table:
        raise ValueError(f"{path}: no {key} column")
    try:
        index = table[key].astype(str).map(case_barcode)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None
    table = table.drop(columns=[key]).set_axis(index, axis=0)
    if table.index.duplicated().any():
        dup = sorted(set(table.index[table.index.duplicated()]))
        raise ValueError(f"{path}: patients listed twice: {dup[:5]}")
    return table


def read_sources(
    *,
    clinical: str | Path | None = None,
    markers: str | Path | None = None,
    kaggle_3m: str | Path | None = None,
) -> dict[str, tuple[Path, pd.DataFrame]]:
    """The label tables by source name (lookup order), each indexed by case barcode."""
    out: dict[str, tuple[Path, pd.DataFrame]] = {}
    if markers:
        out["gdc_markers"] = (
            Path(markers),
            _keyed(read_cases(markers), "case_submitter_id", markers),
        )
    if kaggle_3m:
        out["kaggle_3m"] = (
            Path(kaggle_3m),
            _keyed(kaggle_3m_table(kaggle_3m), "case_submitter_id", kaggle_3m),
        )
    if clinical:
        out["gdc_clinical"] = (
            Path(clinical),
            _keyed(read_cases(clinical), "case_submitter_id", clinical),
        )
    return out


def clean(values: pd.Series) -> pd.Series:
    """Label values as strings; missing spellings become <NA>; integer codes stay ``"2"``."""

    def one(v):
        if v is None or (isinstance(v, float) and v != v) or v is pd.NA:
            return pd.NA
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        text = str(v).strip()
        return pd.NA if text.lower() in MISSING else text

    return values.map(one).astype("string")


def assess(values: pd.Series, rules: LabelRules) -> dict:
    """The label's row of ``label_sources.tsv``: used or skipped, and the classes kept."""
    n = len(values)
    counts = values.value_counts()
    rare = counts[counts < rules.min_per_class]
    kept_counts = counts.drop(rare.index)
    missing = float(values.isna().mean()) if n else 1.0
    classes = ", ".join(f"{k}: {v}" for k, v in counts.sort_index().items())
    reason = ""
    if missing > rules.max_missing:
        reason = f"{missing:.0%} of patients without a value (max {rules.max_missing:.0%})"
    elif len(kept_counts) < 2:
        reason = f"fewer than 2 classes with >= {rules.min_per_class} patients"
    elif len(rare):
        reason = f"classes with < {rules.min_per_class} patients dropped: " + ", ".join(
            f"{k} ({v})" for k, v in rare.items()
        )
    used = not reason or reason.startswith("classes")
    row = {
        "status": "used" if used else "skipped",
        "reason": reason,
        "n_patients": int(kept_counts.sum()) if used else 0,
        "n_classes": int(len(kept_counts)) if used else 0,
        "classes": classes,
        "classes_used": json.dumps(sorted(kept_counts.index)) if used else "[]",
    }
    return row


def build_labels(
    cases: Sequence[str],
    names: Sequence[str],
    sources: dict[str, tuple[Path, pd.DataFrame]],
    rules: LabelRules = LabelRules(),
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Labels of ``cases`` (barcodes): ``(labels, label_sources)``.

    ``labels`` has ``case_id`` and one string column per label found in a source (every class,
    skipped labels too: the table describes the cohort); ``label_sources`` one row per configured
    name (:data:`SOURCE_COLUMNS`), used or skipped, in config order, with the classes the probe
    uses (``classes_used``, JSON).
    """
    cases = [case_barcode(c) for c in cases]
    labels = pd.DataFrame({"case_id": cases})
    rows = []
    for name in dict.fromkeys(names):
        found = next(((s, p, t) for s, (p, t) in sources.items() if name in t.columns), None)
        if found is None:
            have = ", ".join(f"{s} ({p})" for s, (p, _) in sources.items()) or "no label table"
            rows.append(
                {
                    "label": name,
                    "source": "",
                    "file": "",
                    "status": "skipped",
                    "reason": f"in none of: {have}",
                    "n_patients": 0,
                    "n_classes": 0,
                    "classes": "",
                    "classes_used": "[]",
                }
            )
            continue
        source, path, table = found
        values = clean(table[name].reindex(cases)).reset_index(drop=True)
        row = assess(values, rules)
        rows.append({"label": name, "source": source, "file": str(path), **row})
        labels[name] = values.to_numpy()
    report = pd.DataFrame(rows, columns=SOURCE_COLUMNS)
    for r in report.itertuples():
        level = logging.INFO if r.status == "used" and not r.reason else logging.WARNING
        log.log(
            level, "label %s (%s): %s %s [%s]", r.label, r.source, r.status, r.reason, r.classes
        )
    return labels, report


def read_paired(path: str | Path) -> list[str]:
    """The paired patients (``paired.tsv`` of the cohort stage)."""
    table = pd.read_csv(path, sep="\t")
    if "case_id" not in table:
        raise ValueError(f"{path}: no case_id column")
    return table["case_id"].astype(str).tolist()


def write_labels(labels: pd.DataFrame, report: pd.DataFrame, out: str | Path, sources_out) -> None:
    """``labels.tsv`` and ``label_sources.tsv``, atomically (labels last: it is the target)."""
    with atomic_path(sources_out) as tmp:
        report.to_csv(tmp, sep="\t", index=False)
    with atomic_path(out) as tmp:
        labels.to_csv(tmp, sep="\t", index=False)


def read_labels(path: str | Path, sources: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``labels.tsv`` and ``label_sources.tsv`` (its used labels), values as strings, and each
    used label's values outside its ``classes_used`` (rare classes) set to missing."""
    labels = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, na_values=[""])
    if "case_id" not in labels:
        raise ValueError(f"{path}: no case_id column")
    report = pd.read_csv(sources, sep="\t", keep_default_na=False)
    missing = set(SOURCE_COLUMNS) - set(report.columns)
    if missing:
        raise ValueError(f"{sources}: lacks columns {sorted(missing)}")
    used = report[report.status == "used"]
    absent = set(used.label) - set(labels.columns)
    if absent:
        raise ValueError(f"{path}: used labels {sorted(absent)} have no column")
    for row in used.itertuples():
        keep = labels[row.label].isin(json.loads(row.classes_used))
        labels[row.label] = labels[row.label].where(keep)
    return labels, used


def labels_stage(
    paired: str | Path,
    out: str | Path,
    sources_out: str | Path,
    *,
    names: Sequence[str],
    clinical: str | Path | None = None,
    markers: str | Path | None = None,
    kaggle_3m: str | Path | None = None,
    rules: LabelRules = LabelRules(),
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``labels.tsv`` + ``label_sources.tsv`` for the paired patients of ``paired``."""
    tables = read_sources(clinical=clinical, markers=markers, kaggle_3m=kaggle_3m)
    labels, report = build_labels(read_paired(paired), names, tables, rules)
    write_labels(labels, report, out, sources_out)
    used = int((report.status == "used").sum())
    log.info("labels: %d of %d used for %d patients -> %s", used, len(report), len(labels), out)
    return labels, report
