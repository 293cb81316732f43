"""Snakemake adapter: kaggle_3m from Kaggle, verified (mgi.imaging.kaggle_fetch.fetch_kaggle_3m)."""

from pathlib import Path

from mgi.gdc.client import RetryPolicy
from mgi.imaging.kaggle_fetch import KaggleSource, fetch_kaggle_3m
from mgi.logsetup import script_logging

script_logging(snakemake.log[0])
kaggle = {**snakemake.config["imaging"]["kaggle"], **snakemake.params.kaggle}  # params: what
source = KaggleSource(kaggle["dataset"], kaggle["version"], kaggle["patients"])
dest = Path(snakemake.output[0]).parent  # kaggle_3m/ and kagglehub's cache go here
fetch_kaggle_3m(dest, source, policy=RetryPolicy(tries=kaggle["retries"]))
