"""Slice store benchmark: build time from a kaggle_3m-sized cohort, random-access read speed.

Generates ``--patients`` synthetic patients in the kaggle_3m layout (``--slices`` 256 x 256 x 3
uint8 TIFFs + masks each, written with tifffile into a temporary folder), times
``mgi.imaging.build_store`` on them (one thread), then times random-access reads from the store
on one core: single slices (image + mask, copied out of the memory map) and batches of 32
(sorted random rows, one fancy-index read per array). The page cache is warm (the store was just
written), as it is for a training loop after its first epoch.

    .venv/bin/python benchmarks/slice_store.py            # 110 patients x 36 slices, 256^2
    .venv/bin/python benchmarks/slice_store.py --patients 4 --slices 8   # quick check

Prints a table and writes benchmarks/results/slice_store.csv. Target: >= 20,000 slices/s.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import tifffile  # noqa: E402
import torch  # noqa: E402

from mgi.imaging import SliceOptions, SliceStore, build_store  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def synth_patient(root: Path, i: int, n_slices: int, size: int, rng: np.random.Generator) -> None:
    """One kaggle_3m patient folder: an elliptical 'brain' with noise and a round 'tumour'."""
    folder = f"TCGA_BM_{i:04d}_20000101"
    (root / folder).mkdir()
    yy, xx = np.mgrid[:size, :size] / size - 0.5
    brain = (yy / 0.42) ** 2 + (xx / 0.36) ** 2 <= 1
    cy, cx, r = rng.uniform(-0.15, 0.15), rng.uniform(-0.15, 0.15), rng.uniform(0.05, 0.12)
    for n in range(1, n_slices + 1):
        img = rng.integers(0, 12, size=(size, size, 3), dtype=np.uint8)
        img[brain] += rng.integers(60, 140, size=(int(brain.sum()), 3), dtype=np.uint8)
        z = (n - n_slices / 2) / n_slices
        tumour = (yy - cy) ** 2 + (xx - cx) ** 2 + z**2 <= r**2
        img[tumour, 1] = 220
        tifffile.imwrite(root / folder / f"{folder}_{n}.tif", img)
        tifffile.imwrite(root / folder / f"{folder}_{n}_mask.tif", tumour.astype(np.uint8) * 255)


def read_single(store: SliceStore, n: int, rng: np.random.Generator) -> float:
    """Slices/s reading one random slice (image + mask) at a time."""
    rows = rng.integers(0, len(store), size=n)
    t = time.perf_counter()
    for i in rows:
        np.array(store.images[i])
        np.array(store.masks[i])
    return n / (time.perf_counter() - t)


def read_batches(store: SliceStore, n: int, batch: int, rng: np.random.Generator) -> float:
    """Slices/s reading random batches (sorted rows, one fancy-index read per array)."""
    batches = n // batch
    rows = [np.sort(rng.choice(len(store), size=batch, replace=False)) for _ in range(batches)]
    t = time.perf_counter()
    for r in rows:
        store.images[r]
        store.masks[r]
    return batches * batch / (time.perf_counter() - t)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--patients", type=int, default=110)
    p.add_argument("--slices", type=int, default=36)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--reads", type=int, default=20_000)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(args.seed)
    rows = []
    with tempfile.TemporaryDirectory(prefix="mgi-bench-") as tmp:
        root = Path(tmp) / "kaggle_3m"
        root.mkdir()
        t = time.perf_counter()
        for i in range(args.patients):
            synth_patient(root, i, args.slices, args.size, rng)
        rows.append(("generate TIFFs", time.perf_counter() - t, "s"))
        t = time.perf_counter()
        out = build_store("kaggle_3m", root, Path(tmp) / "store", SliceOptions(size=args.size))
        build_s = time.perf_counter() - t
        store = SliceStore(out)
        n = len(store)
        rows.append((f"build store ({args.patients} patients, {n} slices)", build_s, "s"))
        rows.append(("build store per slice", 1e3 * build_s / n, "ms"))
        read_single(store, 1000, rng)  # warm-up
        rows.append(("random single-slice reads", read_single(store, args.reads, rng), "slices/s"))
        rows.append(("random batch-32 reads", read_batches(store, args.reads, 32, rng), "slices/s"))
    table = pd.DataFrame(rows, columns=["measure", "value", "unit"])
    table.insert(1, "size", args.size)
    RESULTS.mkdir(parents=True, exist_ok=True)
    table.to_csv(RESULTS / "slice_store.csv", index=False)
    with pd.option_context("display.float_format", "{:,.2f}".format, "display.width", 120):
        print(table.to_string(index=False))
    print("target: >= 20,000 slices/s (one core, 256^2)")


if __name__ == "__main__":
    main()
