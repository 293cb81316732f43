"""Table 1's ``mgi (no genes at test)``: a gene run trained with ``finetune.gene_dropout``
predicts its test patients through its learned "no genes" token, as for a patient without
RNA-seq. Same ``predictions.npz`` layout as fine-tuning's, so it is scored like any run."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from mgi.atomic import atomic_path
from mgi.data import SliceGeneDataset, load_cohort
from mgi.train.finetune import predict
from mgi.train.loop import pick_device
from mgi.train.saved import load_segmenter

log = logging.getLogger(__name__)


def predict_test_without_genes(
    model: str | Path,
    store: str | Path,
    matrix: str | Path,
    zscore: str | Path,
    split: str | Path,
    out: str | Path,
    *,
    batch_size: int = 64,
    device: str = "auto",
    precision: str = "bf16",
) -> Path:
    """Write ``out`` (``rows``, ``prob`` float16) for the test patients of ``split``, no genes.

    Raises ValueError naming ``model`` if it was trained without ``gene_dropout``.
    """
    from mgi.imaging import SliceStore

    net, run, _ = load_segmenter(model)
    if getattr(net, "no_genes", None) is None:
        raise ValueError(
            f"{model}: run {run.name} has no no-genes token (train it with"
            " finetune.gene_dropout > 0) and cannot predict without genes"
        )
    dev = pick_device(device)
    net.to(dev)
    store = SliceStore(store)
    test = load_cohort(store, matrix, zscore, split, "test")
    data = SliceGeneDataset(store.images, store.masks, test)
    with torch.no_grad():
        prob = predict(net, data, run, batch_size, precision, with_genes=False)
    with atomic_path(out) as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(fh, rows=test.rows.astype(np.int64), prob=prob)
    log.info("%s without genes: %d test slices -> %s", run.name, len(prob), out)
    return Path(out)
