"""Snakemake adapter: the image-gene retrieval table (mgi.tables.retrieval)."""

from pathlib import Path

from mgi.logsetup import script_logging
from mgi.tables import retrieval

script_logging(snakemake.log[0])
retrieval(
    dict(zip(snakemake.params.encoders, snakemake.input.retrieval, strict=True)),
    Path(snakemake.output.csv).with_suffix(""),
    config={"encoders": snakemake.params.encoders},
)
