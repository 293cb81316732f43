"""Snakemake adapter: one run's bundle on an external cohort (mgi.bundle.predict)."""

from pathlib import Path

import torch

from mgi.bundle.predict import Options, predict_sheet
from mgi.logsetup import script_logging

script_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
knobs = snakemake.config["finetune"]  # device and predict_batch change no result
predict_sheet(
    snakemake.input.bundle,
    snakemake.input.sheet,
    Path(snakemake.output.predictions).parent,
    Options(batch_size=knobs["predict_batch"], device=knobs["device"]),
)
