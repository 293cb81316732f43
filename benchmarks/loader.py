"""Training loader benchmark: items/s of the fine-tuning DataLoader with 0, 1 and 2 workers.

A real-size stand-in slice store (``--slices`` 3,929 slices of 256 x 256 like kaggle_3m, float16
images and uint8 masks, 110 patients, 1,373 slices with a tumour) is written to a temporary
folder and memory-mapped, as the training jobs read it; the training slices are augmented as
``configs/tcga-lgg.yaml`` does (Buda et al.: flips, rotation + scaling, intensity; MONAI). Each
worker count loads the same ``--items`` slices in batches of ``--batch`` through
:func:`mgi.train.loader.batch_loader` (the training loop's loader); the first batch, which
starts the workers, is not timed. Torch uses one thread in the main process (the workers
always do).

    .venv/bin/python benchmarks/loader.py                 # 3,929 slices, 1,024 loaded per row
    .venv/bin/python benchmarks/loader.py --items 256     # quick check

Prints a table and writes benchmarks/results/loader.csv.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from mgi.data import Cohort, SliceGeneDataset
from mgi.train.augment import augmented
from mgi.train.loader import batch_loader
from mgi.train.specs import Augment

RESULTS = Path(__file__).resolve().parent / "results"


def stand_in_store(folder: Path, slices: int, size: int, patients: int, tumour: int, genes: int):
    """images.npy / masks.npy in ``folder`` (memory-mapped back) and the dataset over them."""
    rng = np.random.default_rng(0)
    images = np.lib.format.open_memmap(
        folder / "images.npy", "w+", np.float16, (slices, size, size)
    )
    masks = np.lib.format.open_memmap(folder / "masks.npy", "w+", np.uint8, (slices, size, size))
    yy, xx = np.mgrid[:size, :size] / size - 0.5
    brain = (yy / 0.42) ** 2 + (xx / 0.36) ** 2 <= 1
    with_tumour = set(rng.choice(slices, size=tumour, replace=False).tolist())
    for i in range(slices):
        img = rng.random((size, size), dtype=np.float32) * 0.1
        img[brain] += 0.5
        images[i] = img
        if i in with_tumour:
            cy, cx, r = rng.uniform(-0.15, 0.15, 3) * [1, 1, 0.5] + [0, 0, 0.1]
            masks[i] = (yy - cy) ** 2 + (xx - cx) ** 2 <= r**2
    images.flush()
    masks.flush()
    del images, masks
    images = np.load(folder / "images.npy", mmap_mode="r")
    masks = np.load(folder / "masks.npy", mmap_mode="r")
    cohort = Cohort(
        case_ids=tuple(f"P{p:03d}" for p in range(patients)),
        rows=np.arange(slices, dtype=np.int64),
        patient=(np.arange(slices) * patients // slices).astype(np.int64),
        genes=rng.standard_normal((patients, genes), dtype=np.float32),
        gene_ids=tuple(f"G{g}" for g in range(genes)),
    )
    return SliceGeneDataset(images, masks, cohort)


def items_per_s(dataset, workers: int, items: int, batch: int) -> tuple[float, float]:
    """(items/s, seconds) loading ``items`` random slices in batches with ``workers``."""
    order = np.random.default_rng(1).permutation(len(dataset))[: items + batch].tolist()
    batches = [order[i : i + batch] for i in range(0, len(order), batch)]
    loader, keys = batch_loader(dataset, workers, torch.device("cpu"))
    keys.set(0, batches)
    n, tic = 0, None
    for i, b in enumerate(loader):
        if i == 0:
            tic = time.perf_counter()
            continue
        n += len(b["image"])
    seconds = time.perf_counter() - tic
    return n / seconds, seconds


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--slices", type=int, default=3929)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--items", type=int, default=1024, help="slices loaded per worker count")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    args = p.parse_args()
    torch.set_num_threads(1)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        data = stand_in_store(Path(tmp), args.slices, args.size, 110, round(args.slices * 0.3495),
                              genes=64)  # fmt: skip
        train = augmented(data, Augment(), seed=0, size=args.size)  # tcga-lgg's augmentation
        for workers in args.workers:
            rate, seconds = items_per_s(train, workers, args.items, args.batch)
            rows.append({"workers": workers, "items": args.items, "batch": args.batch,
                         "size": args.size, "seconds": round(seconds, 2),
                         "items_per_s": round(rate, 1), "ms_per_item": round(1000 / rate, 2),
                         "cpu_count": os.cpu_count()})  # fmt: skip
            print(f"workers {workers}: {rate:8.1f} items/s ({1000 / rate:.2f} ms/item)")
    table = pd.DataFrame(rows)
    RESULTS.mkdir(exist_ok=True)
    table.to_csv(RESULTS / "loader.csv", index=False)
    print(table.to_string(index=False))


if __name__ == "__main__":
    main()
