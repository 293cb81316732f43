"""Snakemake adapter: Table 2 from every fold's probe predictions (mgi.probe.table)."""

from mgi.logsetup import script_logging
from mgi.probe.table import write_table2

script_logging(snakemake.log[0])
stem = snakemake.output.csv.removesuffix(".csv")
write_table2(
    list(snakemake.input.predictions),
    snakemake.input.sources,
    stem,
    slices=snakemake.params.slices,
    features_order=snakemake.params.features,
    **snakemake.params.bootstrap,
    config=snakemake.config,
    model_seeds=snakemake.params.model_seeds,
    data_terms=snakemake.params.terms,
)
