"""Snakemake adapter: download the project's open STAR-Counts files (mgi.gdc.download_project)."""

from pathlib import Path

from mgi.gdc import api_options, download_project
from mgi.logsetup import script_logging

script_logging(snakemake.log[0])
gdc = {**snakemake.config["gdc"], **snakemake.params.gdc}  # params: what is fetched
download_project(
    Path(snakemake.output.files).parent,  # files.tsv, manifest.tsv and <file_id>/ go here
    **api_options(gdc),
    processes=gdc["processes"],
)
