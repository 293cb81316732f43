"""Open a bundle: its metadata and, per model, the network with its genes and z-score
statistics. Weights are read with ``torch.load(weights_only=True)``: a bundle from elsewhere
can hold tensors and plain values, never code."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import torch

from mgi.bundle import layout
from mgi.train.finetune import Run
from mgi.train.saved import build_from, read_checkpoint, run_of


@dataclass
class BundleModel:
    """One model of a bundle."""

    name: str
    net: torch.nn.Module
    run: Run
    gene_ids: list[str] | None  # the model's genes in input order (gene runs)
    mean: np.ndarray | None  # (G,) training mean of log2(x + 1)
    std: np.ndarray | None


@dataclass
class Bundle:
    """A bundle's metadata (``configs/metadata.json``) and models."""

    path: Path
    meta: dict[str, Any]
    models: list[BundleModel]

    @property
    def mgi(self) -> dict[str, Any]:
        return self.meta["mgi"]


def open_bundle(path: str | Path) -> Bundle:
    """Read ``path``; errors name it and what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: bundle not found")
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as err:
        raise ValueError(f"{path}: not a bundle zip ({err})") from None
    with zf:
        names = set(zf.namelist())
        if layout.METADATA not in names:
            raise ValueError(f"{path}: not an mgi bundle ({layout.METADATA} missing)")
        meta = json.loads(zf.read(layout.METADATA))
        if meta.get("format") != layout.FORMAT:
            raise ValueError(
                f"{path}: bundle format {meta.get('format')!r}, expected {layout.FORMAT}"
            )
        models = []
        for info in meta["mgi"]["models"]:
            where = f"{path}:{info['path']}"
            if info["path"] not in names:
                raise ValueError(f"{where}: missing from the bundle")
            saved = read_checkpoint(where, io.BytesIO(zf.read(info["path"])), weights_only=True)
            run = run_of(saved)
            gene_ids = mean = std = None
            if run.uses_genes:
                genes = pd.read_csv(io.BytesIO(zf.read(info["genes"])), sep="\t", dtype=str)
                stats = pq.read_table(io.BytesIO(zf.read(info["zscore"]))).to_pandas()
                stats = stats.set_index("gene_id")
                gene_ids = genes["gene_id"].tolist()
                if len(gene_ids) != int(saved["n_genes"]) or set(gene_ids) - set(stats.index):
                    raise ValueError(f"{path}: {info['name']}: genes and z-score statistics differ")
                mean = stats["mean"].reindex(gene_ids).to_numpy(np.float32)
                std = stats["std"].reindex(gene_ids).to_numpy(np.float32)
            models.append(BundleModel(info["name"], build_from(saved), run, gene_ids, mean, std))
    return Bundle(path, meta, models)
