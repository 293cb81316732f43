"""Snakemake adapter: best/median/worst test-patient overlays (mgi.report.overlays)."""

from pathlib import Path

from mgi.logsetup import script_logging
from mgi.report import overlays

script_logging(snakemake.log[0])
overlays(
    snakemake.input.per_patient,
    snakemake.input.predictions,
    Path(snakemake.input.store[0]).parent,
    snakemake.output[0],
    threshold=snakemake.params.threshold,
)
