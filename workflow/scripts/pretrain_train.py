"""Snakemake adapter: contrastive pre-training of one gene encoder (mgi.train.pretrain)."""

from pathlib import Path

import torch

from mgi.logsetup import script_logging
from mgi.models.scan import set_mode
from mgi.train.pretrain import pretrain
from mgi.train.specs import Loop, Optim, PretrainSpec, from_mapping

script_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
set_mode(snakemake.config["model"]["genes"]["scan"])  # which scan: a runtime knob
cfg = snakemake.params.pretrain
knobs = snakemake.config["pretrain"]  # device, workers, checkpoints: change no result
pretrain(
    Path(snakemake.input.index).parent,  # the slice store folder
    snakemake.input.matrix,
    snakemake.input.zscore,
    snakemake.input.split,
    out_dir=Path(snakemake.output.model).parent,
    ckpt_dir=snakemake.params.ckpt_dir,
    spec=from_mapping(PretrainSpec, cfg, gene_encoder=snakemake.wildcards.encoder),
    opt=from_mapping(Optim, cfg, device=knobs["device"]),
    model=snakemake.params.model,
    resume=True,  # a rerun after SIGTERM (time limit, pre-emption) continues from the checkpoint
    loop=Loop.of_section(knobs, snakemake.log[0]),  # scheduler keys: they change no result
)
