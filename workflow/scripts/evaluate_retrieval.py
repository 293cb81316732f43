"""Snakemake adapter: the image-gene retrieval table (mgi.tables.retrieval)."""

from pathlib import Path

from mgi.logsetup import script_logging
from mgi.tables import retrieval

script_logging(snakemake.log[0])
encoders = snakemake.params.encoders
files = snakemake.input.retrieval  # encoder by encoder, each encoder's folds within
per = len(files) // len(encoders)
retrieval(
    {e: list(files[i * per : (i + 1) * per]) for i, e in enumerate(encoders)},
    Path(snakemake.output.csv).with_suffix(""),
    config={"encoders": encoders},
)
