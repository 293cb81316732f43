"""Tiny pipeline inputs for the data/training tests: a slice store, matrix, z-score and split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch


def make_inputs(
    root: Path,
    *,
    patients: int = 6,
    slices: int = 4,
    size: int = 16,
    genes: int = 20,
    n_test: int = 2,
    seed: int = 0,
) -> dict[str, Path]:
    """Write store/, matrix.parquet, zscore.parquet, split.tsv under ``root``; return paths.

    Patient ``i`` has a square tumour whose position follows its first gene, so a model can
    learn something in a few steps.
    """
    from mgi.expression.matrix_io import write_matrix, write_zscore

    rng = np.random.default_rng(seed)
    cases = [f"TCGA-TT-{i:04d}" for i in range(patients)]
    x = rng.normal(0, 1, (patients, genes)).astype(np.float32)
    images = rng.random((patients * slices, size, size)).astype(np.float16) * 0.5
    masks = np.zeros((patients * slices, size, size), np.uint8)
    for i in range(patients):
        c = int(np.clip(size / 2 + x[i, 0] * size / 6, 3, size - 4))
        masks[i * slices + 1 : (i + 1) * slices - 1, c - 2 : c + 2, c - 2 : c + 2] = 1
    images[masks == 1] += 0.3
    store = root / "store"
    store.mkdir(parents=True)
    np.save(store / "images.npy", images)
    np.save(store / "masks.npy", masks)
    pd.DataFrame(
        {
            "case_id": np.repeat(cases, slices),
            "slice": np.tile(np.arange(slices), patients),
            "tumour_pixels": masks.reshape(len(masks), -1).sum(1),
            "source": "test",
        }
    ).to_parquet(store / "index.parquet")
    gene_ids = [f"ENSG{i:011d}.1" for i in range(genes)]
    write_matrix(root / "matrix.parquet", x * 2 + 5, cases, gene_ids)
    train = cases[: patients - n_test]
    mean, std = (x[: patients - n_test] * 2 + 5).mean(0), (x[: patients - n_test] * 2).std(0)
    write_zscore(root / "zscore.parquet", gene_ids, mean, std, len(train))
    split = ["train"] * (patients - n_test) + ["test"] * n_test
    pd.DataFrame({"case_id": cases, "split": split, "fold": -1}).to_csv(
        root / "split.tsv", sep="\t", index=False
    )
    return {
        "store": store,
        "matrix": root / "matrix.parquet",
        "zscore": root / "zscore.parquet",
        "split": root / "split.tsv",
    }


class TinyPretrain(torch.nn.Module):
    """Stand-in for MGIPretrain: conv image encoder, linear gene encoder, logit_scale, dropout."""

    def __init__(self, n_genes: int, dim: int = 8) -> None:
        super().__init__()
        self.image = torch.nn.Sequential(
            torch.nn.Conv2d(1, 4, 3, padding=1),
            torch.nn.ReLU(),
            torch.nn.AdaptiveAvgPool2d(2),
            torch.nn.Flatten(),
            torch.nn.Dropout(0.2),
            torch.nn.Linear(16, dim),
        )
        self.gene = torch.nn.Sequential(torch.nn.Dropout(0.2), torch.nn.Linear(n_genes, dim))
        self.logit_scale = torch.nn.Parameter(torch.tensor(2.659))

    def forward(self, images, genes):
        f = torch.nn.functional.normalize
        return f(self.image(images), dim=-1), f(self.gene(genes), dim=-1)


class TinySegmenter(torch.nn.Module):
    """Stand-in for a segmentation model: one conv, genes added as a per-image bias."""

    def __init__(self, n_genes: int) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 1, 3, padding=1)
        self.gene = torch.nn.Linear(n_genes, 1)
        self.loaded = None

    def forward(self, images, genes=None):
        out = self.conv(images)
        return out if genes is None else out + self.gene(genes)[:, :, None, None]

    def load_pretrained(self, state_dict):
        self.loaded = state_dict
