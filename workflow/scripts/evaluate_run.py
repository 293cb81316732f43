"""Snakemake adapter: score one fine-tuning run (mgi.evaluate.evaluate_run)."""

from pathlib import Path

from mgi.evaluate import evaluate_run
from mgi.logsetup import script_logging

script_logging(snakemake.log[0])
cfg = snakemake.params.evaluate
evaluate_run(
    snakemake.input.predictions,
    Path(snakemake.input.store[0]).parent,
    snakemake.input.split,
    per_patient_out=snakemake.output.per_patient,
    summary_out=snakemake.output.summary,
    run=snakemake.wildcards.run,
    threshold=cfg["threshold"],
    n_resamples=cfg["bootstrap"],
    confidence=cfg["confidence"],
    seed=cfg["seed"],
    config=cfg,
)
