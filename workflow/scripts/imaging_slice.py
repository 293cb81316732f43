"""Snakemake adapter: NIfTI sheet or kaggle_3m folder -> slice store (mgi.imaging.build_store)."""

from pathlib import Path

from mgi.imaging import SliceOptions, build_store
from mgi.logsetup import script_logging

script_logging(snakemake.log[0])
cfg = snakemake.params.imaging
opts = SliceOptions(
    size=cfg["size"],
    slices=cfg["slices"],
    margin=cfg.get("margin", 0),  # read only with slices: tumour
    clip_percentiles=tuple(cfg["clip_percentiles"]),
    empty_masks=cfg["empty_masks"],
)
out = Path(snakemake.output.images).parent
build_store(cfg["format"], snakemake.input.source, out, opts, patterns=cfg.get("patterns"))
