"""Snakemake adapter: the gene-encoder ablation table (mgi.tables.ablation)."""

from pathlib import Path

from mgi.logsetup import script_logging
from mgi.tables import ablation

script_logging(snakemake.log[0])
encoders = snakemake.params.encoders
ablation(
    dict(zip(encoders, snakemake.input.summaries, strict=True)),
    dict(zip(encoders, snakemake.input.metrics, strict=True)),
    dict(zip(encoders, snakemake.input.retrieval, strict=True)),
    Path(snakemake.output.csv).with_suffix(""),
    config={"encoders": encoders},
)
