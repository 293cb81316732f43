"""Snakemake adapter: an external cohort's predictions scored (mgi.bundle.external)."""

from mgi.bundle.external import evaluate_predictions
from mgi.logsetup import script_logging

script_logging(snakemake.log[0])
evaluate_predictions(
    snakemake.input.predictions,
    per_patient_out=snakemake.output.per_patient,
    summary_out=snakemake.output.summary,
    run=snakemake.wildcards.run,
    **snakemake.params.bootstrap,
)
