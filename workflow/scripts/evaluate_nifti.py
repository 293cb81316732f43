"""Snakemake adapter: a run's predicted masks back onto each FLAIR's grid (mgi.evaluate)."""

from pathlib import Path

from mgi.evaluate import write_back
from mgi.logsetup import script_logging

script_logging(snakemake.log[0])
write_back(
    snakemake.input.predictions,
    Path(snakemake.input.store[0]).parent,
    snakemake.input.split,
    snakemake.output[0],
    threshold=snakemake.params.threshold,
)
