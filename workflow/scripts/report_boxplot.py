"""Snakemake adapter: per-patient Dice box plot per method (mgi.report.dice_boxplot)."""

from mgi.logsetup import script_logging
from mgi.report import dice_boxplot

script_logging(snakemake.log[0])
dice_boxplot(
    dict(zip(snakemake.params.runs, snakemake.input, strict=True)),
    snakemake.output[0],
    metric=snakemake.params.metric,
)
