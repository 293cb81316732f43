"""Snakemake adapter: the project's IDH and 1p/19q markers (mgi.gdc.download_markers)."""

from mgi.gdc import api_options, download_markers
from mgi.logsetup import script_logging

script_logging(snakemake.log[0])
gdc = {**snakemake.config["gdc"], **snakemake.params.gdc}  # params: what is fetched
download_markers(
    snakemake.output.markers,
    **api_options(gdc),
    threshold=snakemake.params.threshold,  # share of an arm's genes lost to call it deleted
)
