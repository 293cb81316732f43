"""Snakemake adapter: Table 1 from the per-run summaries and per-patient CSVs (mgi.tables)."""

from pathlib import Path

from mgi.logsetup import script_logging
from mgi.tables import table1

script_logging(snakemake.log[0])
runs = snakemake.params.runs
table1(
    dict(zip(runs, snakemake.input.summaries, strict=True)),
    Path(snakemake.output.csv).with_suffix(""),
    per_patient=dict(zip(runs, snakemake.input.per_patient, strict=True)),
    bootstrap=snakemake.params.bootstrap,
    config={"runs": runs, "bootstrap": snakemake.params.bootstrap},
    seed=snakemake.params.bootstrap["seed"],
)
