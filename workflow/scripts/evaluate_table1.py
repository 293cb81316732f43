"""Snakemake adapter: Table 1 from the per-run summaries (mgi.tables.table1)."""

from pathlib import Path

from mgi.logsetup import script_logging
from mgi.tables import table1

script_logging(snakemake.log[0])
table1(
    dict(zip(snakemake.params.runs, snakemake.input.summaries, strict=True)),
    Path(snakemake.output.csv).with_suffix(""),
    config=snakemake.params.config,
    seed=snakemake.params.seed,
)
