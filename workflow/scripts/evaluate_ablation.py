"""Snakemake adapter: the gene-encoder ablation table (mgi.tables.ablation)."""

from pathlib import Path

from mgi.logsetup import script_logging
from mgi.tables import ablation

script_logging(snakemake.log[0])
encoders = snakemake.params.encoders


def by_encoder(files):
    """encoder -> its folds' files (the input lists them encoder by encoder, folds within)."""
    per = len(files) // len(encoders)
    return {e: list(files[i * per : (i + 1) * per]) for i, e in enumerate(encoders)}


ablation(
    dict(zip(encoders, snakemake.input.summaries, strict=True)),
    by_encoder(snakemake.input.metrics),
    by_encoder(snakemake.input.retrieval),
    Path(snakemake.output.csv).with_suffix(""),
    config={"encoders": encoders},
)
