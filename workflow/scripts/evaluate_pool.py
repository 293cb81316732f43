"""Snakemake adapter: one run's folds joined over all patients (mgi.cv.pool_run)."""

from mgi.cv import pool_run
from mgi.logsetup import script_logging

script_logging(snakemake.log[0])
cfg = snakemake.params.evaluate
pool_run(
    list(snakemake.input.per_patient),  # fold 0, 1, ... in order
    per_patient_out=snakemake.output.per_patient,
    summary_out=snakemake.output.summary,
    run=snakemake.wildcards.run,
    n_resamples=cfg["bootstrap"],
    confidence=cfg["confidence"],
    seed=cfg["seed"],
    config=cfg,
)
