# Config validation, the paths every stage shares, and input functions.
from pathlib import Path

import os

import mgi.config
from mgi.config import keys
from mgi.tables import data_terms

# Defaults and checks from the schema (src/mgi/config/config.schema.yaml): one source for the
# workflow and the `mgi` commands. A bad key stops here with a message naming it.
mgi.config.validate(config)
# The conda envs (envs/*.yaml) install this checkout with pip: `-e ${MGI_PIPELINE_ROOT}`.
os.environ.update(MGI_PIPELINE_ROOT=str(Path(workflow.basedir).resolve()))

DEMO = config["source"] == "demo"
# The GDC download (or the demo) writes files.tsv, manifest.tsv and <file_id>/<file_name> here.
GDC_DIR = "resources/demo/gdc" if DEMO else "resources/gdc/rnaseq"
CLINICAL = "resources/demo/cases.parquet" if DEMO else "resources/gdc/cases.parquet"
# IDH and 1p/19q per case (mgi gdc markers; the demo writes the same columns)
MARKERS = "resources/demo/markers.parquet" if DEMO else "resources/gdc/markers.parquet"
DEMO_SHEET = "resources/demo/imaging/sheet.tsv"
KAGGLE_3M = "resources/imaging/kaggle/kaggle_3m"  # imaging.source: kaggle
# imaging.source: brats_tcga_lgg -> sheet.tsv, cases/
BRATS_DIR = "resources/imaging/brats_tcga_lgg"
STORE = "results/imaging/store"  # images.npy, masks.npy, index.parquet
COHORT = "results/cohort"  # paired.tsv, unpaired.tsv, split.tsv (cv: fold{k}/split.tsv)
# split.scheme holdout: one split, today's paths. cv: every stage from the expression filters to
# the evaluation runs once per fold (wildcard {fold}) under results/cv/fold{fold}/, reading
# that fold's split; results/evaluate/ and the tables pool the folds (every patient once).
CV = config["split"]["scheme"] == "cv"
FOLDS = [str(k) for k in range(config["split"]["folds"])] if CV else []
FOLD_DIR = "results/cv/fold{fold}" if CV else "results"  # one fold's outputs
FOLD_LOGS = "logs/cv/fold{fold}" if CV else "logs"
SPLIT = f"{COHORT}/fold{{fold}}/split.tsv" if CV else f"{COHORT}/split.tsv"
MATRIX = f"{FOLD_DIR}/expression/matrix.parquet"
CONFIG_RECORD = "results/config.yaml"  # the effective config of the latest run

# Each rules/*.smk appends the outputs `rule all` builds.
TARGETS = []


def final_targets():
    return TARGETS


def per_fold(pattern, **wildcards):
    """``pattern`` expanded over ``wildcards`` and, with cv, every fold."""
    folds = {"fold": FOLDS} if CV else {}
    return expand(pattern, **folds, **wildcards, allow_missing=True)


def first_fold(pattern):
    """``pattern`` for one fold (cv: the first; figures that show one model's run)."""
    return pattern.replace("{fold}", FOLDS[0]) if CV else pattern


wildcard_constraints:
    fold="[0-9]+",


def imaging_source():
    """The imaging input: the fetched kaggle_3m folder or the sheet made from the BraTS zip
    (imaging.source); else kaggle_3m's root folder; for NIfTI the user's sample sheet, else the
    user's root folder (files found by imaging.patterns), else the demo's sheet. The keys
    were checked together by mgi.config.check (validate, above; `mgi config show` too).
    """
    im = config["imaging"]
    if im["source"] == "kaggle":
        return KAGGLE_3M
    if im["source"] == "brats_tcga_lgg":
        return f"{BRATS_DIR}/sheet.tsv"
    if im["format"] == "kaggle_3m":
        return im["root"]
    return im["sheet"] or im["root"] or DEMO_SHEET


def imaging_table():
    """kaggle_3m's folder (its data.csv joins the clinical table of the split), or nothing."""
    return KAGGLE_3M if config["imaging"]["source"] == "kaggle" else []
