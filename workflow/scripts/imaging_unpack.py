"""Snakemake adapter: BraTS-TCGA-LGG zip -> FLAIR + mask NIfTI sheet (mgi.imaging.brats)."""

from mgi.imaging.brats import brats_sheet
from mgi.logsetup import script_logging

script_logging(snakemake.log[0])
brats_sheet(
    snakemake.input.zip,
    snakemake.output.sheet,
    snakemake.output.cases,
    md5=snakemake.config["imaging"]["brats"]["md5"],  # a check of the input: not a cache key
)
