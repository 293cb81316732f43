"""The clinical table: ``/cases`` with ``expand=demographic,diagnoses`` -> Parquet by case barcode.

A ``/cases`` hit looks like::

    {"case_id": ..., "submitter_id": "TCGA-CS-4941", "project": {"project_id": "TCGA-LGG"},
     "demographic": {"gender": "male", "vital_status": "Alive", ...},
     "diagnoses": [{"age_at_diagnosis": 18251, "primary_diagnosis": "Astrocytoma, NOS",
                    "tumor_grade": "G3", ...}, ...]}

Fields differ between data releases (``tumor_grade`` is "Not Reported" or absent in some): a
missing field becomes a null and is reported once, never fatal.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd

from mgi.atomic import atomic_path

log = logging.getLogger(__name__)

CASE_FIELDS = ["case_id", "submitter_id", "project.project_id"]
EXPAND = ["demographic", "diagnoses"]
DEMOGRAPHIC = ["gender", "race", "ethnicity", "vital_status", "days_to_death", "year_of_birth"]
DIAGNOSIS = [
    "age_at_diagnosis",
    "primary_diagnosis",
    "tumor_grade",
    "morphology",
    "tissue_or_organ_of_origin",
    "days_to_last_follow_up",
]
NUMERIC = ["days_to_death", "year_of_birth", "age_at_diagnosis", "days_to_last_follow_up"]
NOT_REPORTED = {"not reported", "unknown", "--", "'--", ""}


def project_filter(project: str) -> dict[str, Any]:
    """GDC filter for the cases of ``project``."""
    return {"op": "in", "content": {"field": "project.project_id", "value": [project]}}


def primary_diagnosis(diagnoses: list[dict[str, Any]] | None) -> dict[str, Any]:
    """The diagnosis of the primary disease (the first one if none is marked)."""
    diagnoses = diagnoses or []
    for d in diagnoses:
        if d.get("diagnosis_is_primary_disease") is True or d.get("classification_of_tumor") in (
            "primary",
            "Primary",
        ):
            return d
    return diagnoses[0] if diagnoses else {}


def case_row(hit: dict[str, Any], missing: Counter) -> dict[str, Any] | None:
    """One clinical row from a ``/cases`` hit; counts absent fields in ``missing``."""
    barcode = hit.get("submitter_id")
    if not barcode:
        log.warning("GDC /cases: hit %s has no submitter_id; skipped", hit.get("case_id"))
        return None
    row: dict[str, Any] = {
        "case_submitter_id": str(barcode),
        "case_id": hit.get("case_id"),
        "project_id": (hit.get("project") or {}).get("project_id"),
    }
    parts = (
        (hit.get("demographic") or {}, DEMOGRAPHIC),
        (primary_diagnosis(hit.get("diagnoses")), DIAGNOSIS),
    )
    for source, names in parts:
        for name in names:
            value = source.get(name)
            if value is None or str(value).strip().lower() in NOT_REPORTED:
                missing[name] += 1
                value = None
            row[name] = value
    return row


def clinical_table(client, project: str, *, page_size: int = 500) -> pd.DataFrame:
    """One row per case of ``project``, keyed by ``case_submitter_id`` (the TCGA barcode)."""
    missing: Counter = Counter()
    rows = []
    for hit in client.search(
        "cases",
        project_filter(project),
        CASE_FIELDS,
        sort="case_id:asc",
        expand=EXPAND,
        page_size=page_size,
    ):
        row = case_row(hit, missing)
        if row is not None:
            rows.append(row)
    if not rows:
        raise RuntimeError(f"GDC {client.api_url}: no cases for project {project}")
    table = pd.DataFrame(rows)
    dupes = table["case_submitter_id"].duplicated()
    if dupes.any():
        log.warning("GDC %s: %d duplicate case barcodes, keeping the first", project, dupes.sum())
        table = table[~dupes]
    if missing:
        report = ", ".join(f"{name} ({n})" for name, n in sorted(missing.items()))
        log.warning(
            "GDC %s: fields missing (null) in some of %d cases: %s", project, len(table), report
        )
    for name in NUMERIC:
        table[name] = pd.to_numeric(table[name], errors="coerce")
    text = [c for c in table.columns if c not in NUMERIC]
    table[text] = table[text].astype("string")
    log.info("GDC %s: clinical table of %d cases", project, len(table))
    return table.sort_values("case_submitter_id").reset_index(drop=True)


def write_clinical(table: pd.DataFrame, out: str | Path) -> Path:
    """Write the clinical table to Parquet, atomically."""
    out = Path(out)
    with atomic_path(out) as tmp:
        table.to_parquet(tmp, index=False)
    return out
