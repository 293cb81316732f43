"""Snakemake adapter: the probe on one split's embeddings (mgi.probe.fit.probe_fold)."""

from mgi.logsetup import script_logging
from mgi.probe.fit import probe_fold

script_logging(snakemake.log[0])
cfg = snakemake.params.probe
probe_fold(
    dict(zip(snakemake.params.features, snakemake.input.embeddings, strict=True)),
    snakemake.input.labels,
    snakemake.input.sources,
    snakemake.input.split,
    snakemake.output[0],
    fold=int(snakemake.wildcards.get("fold", 0)),
    inner_folds=cfg["inner_folds"],
    c_grid=tuple(cfg["c_grid"]),
    seed=cfg["seed"],
)
