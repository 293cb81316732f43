"""Snakemake adapter: loss curves, one panel per run or encoder (mgi.report.loss_curves)."""

from mgi.logsetup import script_logging
from mgi.report import loss_curves

script_logging(snakemake.log[0])
loss_curves(
    dict(zip(snakemake.params.names, snakemake.input, strict=True)),
    snakemake.output[0],
    loss=snakemake.params.loss,
    title=snakemake.params.title,
)
