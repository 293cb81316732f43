"""Snakemake adapter: Table 1 over an external cohort (mgi.bundle.external)."""

from pathlib import Path

from mgi.bundle.external import external_table1
from mgi.logsetup import script_logging

script_logging(snakemake.log[0])
runs = snakemake.params.runs
external_table1(
    snakemake.wildcards.name,
    dict(zip(runs, snakemake.input.summaries, strict=True)),
    dict(zip(runs, snakemake.input.per_patient, strict=True)),
    Path(snakemake.output.csv).with_suffix(""),
    bootstrap=snakemake.params.bootstrap,
    config={"runs": runs, "bootstrap": snakemake.params.bootstrap},
)
