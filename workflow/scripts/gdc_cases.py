"""Snakemake adapter: the project's clinical table from /cases (mgi.gdc.download_clinical)."""

from mgi.gdc import api_options, download_clinical
from mgi.logsetup import script_logging

script_logging(snakemake.log[0])
gdc = {**snakemake.config["gdc"], **snakemake.params.gdc}  # params: what is fetched
download_clinical(snakemake.output.clinical, **api_options(gdc))
