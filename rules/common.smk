# Config validation, the paths every stage shares, and input functions.
from pathlib import Path

from snakemake.utils import validate

validate(config, "../workflow/schemas/config.schema.yaml", set_default=True)

DEMO = config["source"] == "demo"
# The GDC download (or the demo) writes files.tsv, manifest.tsv and <file_id>/<file_name> here.
GDC_DIR = "resources/demo/gdc" if DEMO else "resources/gdc/rnaseq"
CLINICAL = "resources/demo/cases.parquet" if DEMO else "resources/gdc/cases.parquet"
DEMO_SHEET = "resources/demo/imaging/sheet.tsv"
STORE = "results/imaging/store"  # images.npy, masks.npy, index.parquet
COHORT = "results/cohort"  # paired.tsv, unpaired.tsv, split.tsv
SPLIT = f"{COHORT}/split.tsv"
MATRIX = "results/expression/matrix.parquet"

# Each rules/*.smk appends the outputs `rule all` builds.
TARGETS = []


def final_targets():
    return TARGETS


def imaging_sheet():
    """The NIfTI sample sheet: the demo's, or the user's imaging.sheet."""
    if config["imaging"]["format"] != "nifti":
        return []
    if config["imaging"]["sheet"]:
        return config["imaging"]["sheet"]
    if DEMO:
        return DEMO_SHEET
    raise ValueError(
        "config: imaging.sheet is required with source: gdc and format: nifti"
    )
