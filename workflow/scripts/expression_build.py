"""Snakemake adapter: STAR-Counts files -> expression matrix (mgi.expression.build_matrix)."""

from pathlib import Path

from mgi.expression import ExpressionOptions, build_matrix
from mgi.logsetup import script_logging

script_logging(snakemake.log[0])
cfg = snakemake.params.expression
build_matrix(
    Path(snakemake.input.files).parent,  # the GDC folder: files.tsv + <file_id>/<file_name>
    snakemake.output.matrix,
    options=ExpressionOptions(
        measure=cfg["measure"],
        sample_types=tuple(cfg["sample_types"]),
        gene_types=tuple(cfg["gene_types"]),
        min_expression=cfg["min_expression"],
        min_fraction=cfg["min_fraction"],
        top_k_variance=cfg["top_k_variance"],
        workers=snakemake.threads,
    ),
    split=snakemake.input.split,
    genes_out=snakemake.output.genes,
    zscore_out=snakemake.output.zscore,
    aliquots_out=snakemake.output.aliquots,
)
