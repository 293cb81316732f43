"""Snakemake adapter: Table 2's AUROC figure (mgi.report.auroc_plot)."""

from mgi.logsetup import script_logging
from mgi.report import auroc_plot

script_logging(snakemake.log[0])
auroc_plot(snakemake.input[0], snakemake.output[0])
