"""Snakemake adapter: mgi's test patients predicted without genes (mgi.train.no_genes)."""

from pathlib import Path

import torch

from mgi.logsetup import script_logging
from mgi.train.no_genes import predict_test_without_genes

script_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
knobs = snakemake.config["finetune"]  # device and predict_batch change no result
predict_test_without_genes(
    snakemake.input.model,
    Path(snakemake.input.index).parent,  # the slice store folder
    snakemake.input.matrix,
    snakemake.input.zscore,
    snakemake.input.split,
    snakemake.output.predictions,
    batch_size=knobs["predict_batch"],
    device=knobs["device"],
    precision=knobs["precision"],
)
