"""Snakemake adapter: Dice per method over folds x seeds (mgi.report.fold_boxplot)."""

from mgi.logsetup import script_logging
from mgi.report import fold_boxplot

script_logging(snakemake.log[0])
fold_boxplot(snakemake.input[0], snakemake.output[0])
