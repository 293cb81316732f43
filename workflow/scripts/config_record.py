"""Snakemake adapter: write the run's effective config to results/config.yaml (mgi.config)."""

from mgi.config import record
from mgi.logsetup import script_logging

script_logging(snakemake.log[0])
record(snakemake.output[0], snakemake.params.config, snakemake.params.configfiles)
