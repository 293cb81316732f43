"""Snakemake adapter: per-patient QC montages + summary.tsv of the slice store (mgi.imaging)."""

from pathlib import Path

from mgi.imaging import write_qc
from mgi.logsetup import script_logging

script_logging(snakemake.log[0])
write_qc(
    Path(snakemake.input.images).parent, snakemake.output[0], max_slices=snakemake.params.max_slices
)
