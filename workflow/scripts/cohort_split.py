"""Snakemake adapter: pair by case barcode and split by patient (mgi.cohort.build)."""

from pathlib import Path

from mgi.cohort import build
from mgi.logsetup import script_logging

script_logging(snakemake.log[0])
cfg = snakemake.params.split
table = snakemake.input.get("kaggle_3m")  # imaging.source: kaggle: its data.csv joins
build(
    snakemake.input.files,
    snakemake.input.index,
    paired_out=snakemake.output.paired,
    unpaired_out=snakemake.output.unpaired,
    split_outs=list(snakemake.output.splits),  # one per fold (holdout: one)
    scheme=cfg["scheme"],
    test_fraction=cfg.get("test_fraction", 0.0),  # holdout only
    val_fraction=cfg["val_fraction"],
    seed=cfg["seed"],
    clinical=snakemake.input.clinical,
    stratify=cfg["stratify"],
    imaging_table=Path(table, "data.csv") if table else None,
)
