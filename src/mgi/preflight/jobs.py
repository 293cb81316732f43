"""The distinct training jobs of a run's DAG and how many optimiser steps each takes.

Jobs mirror ``rules/training.smk``: one pre-training per ``pretrain.gene_encoders``, the seven
Table-1 fine-tunings and ``mgi-<encoder>`` for every other encoder; with ``split.scheme: cv``
each runs once per fold (the same shapes: measured once, counted ``folds`` times).

Steps need the cohort's size. The slice store's index is read where it exists (``--store``);
without one the counts are those of the configured source: the demo generator's settings, or
kaggle_3m's published 110 patients, 3,929 slices, 1,373 with tumour (Buda et al. 2019), whose
per-patient shares stand in for other sources.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

BASELINES = ("unet", "resunet", "deeplabv3plus", "attention_unet")
KAGGLE_3M = {"patients": 110, "slices": 3929, "tumour_slices": 1373}
DEMO_TUMOUR_SHARE = KAGGLE_3M["tumour_slices"] / KAGGLE_3M["slices"]  # (no store: assumed)


@dataclass(frozen=True)
class Job:
    """One distinct training job: ``stage`` pretrain or finetune, ``name`` encoder or run."""

    stage: str
    name: str

    @property
    def label(self) -> str:
        return f"{self.stage} {self.name}"


def training_jobs(config: dict[str, Any]) -> list[Job]:
    """Every distinct training job of ``config``'s DAG, pre-trainings first."""
    encoders = list(config["pretrain"]["gene_encoders"])
    default = config["finetune"]["gene_encoder"]
    runs = [*BASELINES, "image_only", "mgi", "mgi_shuffled"]
    runs += [f"mgi-{e}" for e in encoders if e != default]
    return [Job("pretrain", e) for e in encoders] + [Job("finetune", r) for r in runs]


def cohort(config: dict[str, Any], store: str | Path | None = None) -> dict[str, Any]:
    """Patients, slices and tumour slices of the run's cohort, and where the counts come from."""
    index = Path(store) / "index.parquet" if store else None
    if index is not None and index.is_file():
        table = pd.read_parquet(index, columns=["case_id", "tumour_pixels"])
        return {
            "patients": int(table["case_id"].nunique()),
            "slices": len(table),
            "tumour_slices": int((table["tumour_pixels"] > 0).sum()),
            "source": f"slice store {index}",
        }
    if config["source"] == "demo":
        demo = config["demo"]
        slices = demo["patients"] * demo["slices"]
        return {
            "patients": demo["patients"],
            "slices": slices,
            "tumour_slices": round(slices * DEMO_TUMOUR_SHARE),
            "source": "demo generator settings (tumour share assumed as kaggle_3m's)",
        }
    patients = config["imaging"]["kaggle"].get("patients") or KAGGLE_3M["patients"]
    scale = patients / KAGGLE_3M["patients"]
    return {
        "patients": patients,
        "slices": round(KAGGLE_3M["slices"] * scale),
        "tumour_slices": round(KAGGLE_3M["tumour_slices"] * scale),
        "source": "kaggle_3m's published counts (no slice store yet)",
    }


def training_share(config: dict[str, Any]) -> tuple[float, int]:
    """(share of the cohort that trains in one fold, number of folds run)."""
    sp = config["split"]
    if sp["scheme"] == "cv":
        return (sp["folds"] - 1) / sp["folds"] * (1 - sp["val_fraction"]), sp["folds"]
    return (1 - sp["test_fraction"]) * (1 - sp["val_fraction"]), 1


def repeats(job: Job, config: dict[str, Any]) -> int:
    """Runs of ``job`` per fold: one per seed where the stage lists several (``seeds``)."""
    seeds = config[job.stage].get("seeds")
    return len(seeds) if isinstance(seeds, list) and seeds else 1


def n_genes(config: dict[str, Any]) -> int:
    """Genes the models read: ``top_k_variance`` where set, else every gene of the files."""
    top = config["expression"]["top_k_variance"]
    if top:
        return int(top)
    return int(config["demo"]["genes"]) if config["source"] == "demo" else 60660


def steps(job: Job, config: dict[str, Any], sizes: dict[str, Any]) -> int:
    """Optimiser steps of one run of ``job`` (one fold) from the cohort ``sizes``."""
    share, _ = training_share(config)
    tumour = sizes["tumour_slices"] * share
    empty = (sizes["slices"] - sizes["tumour_slices"]) * share
    section = config[job.stage]
    if job.stage == "pretrain":
        per_epoch = tumour if section["tumour_only"] else tumour + empty
    else:
        ratio = section["empty_ratio"]
        per_epoch = tumour + (empty if ratio < 0 else min(empty, ratio * tumour))
    return section["epochs"] * max(1, math.ceil(per_epoch / section["batch_size"]))
