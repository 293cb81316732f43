"""Snakemake adapter: every image feature set's patient embeddings (mgi.probe.embed)."""

from pathlib import Path

import torch

from mgi.logsetup import script_logging
from mgi.probe.embed import embed_images
from mgi.train.loop import pick_device

script_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
cfg = snakemake.params.probe
features = snakemake.params.features
embed_images(
    dict(zip(features, snakemake.output, strict=True)),
    split=snakemake.input.split,
    store=Path(snakemake.input.store[0]).parent,
    models={f: snakemake.input[f] for f in features if f in snakemake.input.keys()},
    image=cfg.get("image"),
    seed=cfg.get("seed", 0),
    pool=cfg["pool"],
    brain_share=cfg["brain_share"],
    batch_size=snakemake.config["probe"]["batch_size"],  # the same numbers at any batch size
    device=pick_device(snakemake.config["probe"]["device"]),
    config=cfg,
)
