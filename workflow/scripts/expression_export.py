"""Snakemake adapter: expression matrix -> AnnData .h5ad (mgi.expression.export.write_h5ad)."""

from mgi.expression.export import write_h5ad
from mgi.logsetup import script_logging

script_logging(snakemake.log[0])
write_h5ad(
    snakemake.output.h5ad,
    snakemake.input.matrix,
    genes=snakemake.input.genes,
    clinical=snakemake.input.clinical,
)
