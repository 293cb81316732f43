"""Snakemake adapter: the z-scored expression as Table 2's `genes` features (mgi.probe.embed)."""

from mgi.logsetup import script_logging
from mgi.probe.embed import embed_genes

script_logging(snakemake.log[0])
embed_genes(
    snakemake.output[0],
    split=snakemake.input.split,
    matrix=snakemake.input.matrix,
    zscore=snakemake.input.zscore,
)
