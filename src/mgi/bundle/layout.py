"""Where things sit inside a bundle (a zip, MONAI bundle layout where it fits)::

    configs/metadata.json        inputs, outputs, licence, preprocessing, threshold, provenance
    configs/inference.json       how to run it (the command) and what it does, step by step
    models/<name>/model.pt       weights + the model's options (torch.load weights_only=True)
    models/<name>/config.json    that model's training config (run, fine-tuning, optimiser)
    models/<name>/genes.tsv      gene runs: the model's genes in input order (gene_id, ...)
    models/<name>/zscore.parquet gene runs: per-gene mean/std of its training patients
    docs/README.md               the model card
    LICENSE                      the data licence the weights inherit

``<name>`` is ``holdout`` (one model) or ``fold0`` ... ``fold<K-1>`` (an ensemble).
"""

from __future__ import annotations

FORMAT = "mgi-bundle/1"
METADATA = "configs/metadata.json"
INFERENCE = "configs/inference.json"
CARD = "docs/README.md"
LICENSE = "LICENSE"
ORIENTATION = (
    "NIfTI reoriented to the closest canonical orientation (RAS+), sliced axially from"
    " inferior to superior; each slice in the radiological display convention (row 0 anterior,"
    " column 0 the patient's right), as kaggle_3m's TIFFs hold it"
)


def model_dir(name: str) -> str:
    return f"models/{name}"
