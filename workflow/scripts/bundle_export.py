"""Snakemake adapter: one fine-tuned run as a bundle (mgi.bundle.export)."""

from mgi.bundle.export import ModelFiles, export_bundle
from mgi.logsetup import script_logging

script_logging(snakemake.log[0])
inp = snakemake.input
models = [
    ModelFiles(name, model, genes, zscore)
    for name, model, genes, zscore in zip(
        snakemake.params.folds, inp.models, inp.genes, inp.zscore, strict=True
    )
]
export_bundle(
    snakemake.output[0],
    run=snakemake.wildcards.run,
    models=models,
    store_meta=inp.store_meta,
    config=snakemake.config,  # the whole effective config: its hash is the bundle's provenance
    summary=inp.summary,
)
