"""Snakemake adapter: one segmentation fine-tuning run (mgi.train.finetune)."""

from pathlib import Path

import torch

from mgi.logsetup import script_logging
from mgi.models.scan import set_mode
from mgi.train.finetune import Run, finetune
from mgi.train.specs import FinetuneSpec, Loop, Optim, from_mapping

script_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
set_mode(snakemake.config["model"]["genes"]["scan"])  # which scan: a runtime knob
cfg = snakemake.params.finetune  # what this run reads (its cache key: mgi.config.keys)
knobs = snakemake.config["finetune"]  # device, predict_batch, workers, checkpoints: no result
finetune(
    Path(snakemake.input.index).parent,  # the slice store folder
    snakemake.input.matrix,
    snakemake.input.zscore,
    snakemake.input.split,
    run=Run.parse(snakemake.wildcards.run, cfg.get("gene_encoder", "")),
    pretrained=snakemake.input.get("pretrained"),
    out_dir=Path(snakemake.output.model).parent,
    ckpt_dir=snakemake.params.ckpt_dir,
    spec=from_mapping(FinetuneSpec, cfg, predict_batch=knobs["predict_batch"]),
    opt=from_mapping(Optim, cfg, device=knobs["device"]),
    model=snakemake.params.model,
    resume=True,  # a rerun after SIGTERM (time limit, pre-emption) continues from the checkpoint
    loop=Loop.of_section(knobs, snakemake.log[0]),  # scheduler keys: they change no result
)
