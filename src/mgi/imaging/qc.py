"""Quality control of a slice store: one PNG montage per patient and a summary table.

Each montage shows up to ``max_slices`` of the patient's slices (the tumour slices first, spread
evenly) as grey FLAIR with the mask outline in red; ``summary.tsv`` lists per patient the slice
count, tumour slices, tumour pixels and intensity percentiles, so odd patients stand out, and
the patients the store skipped (``status``).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from mgi.atomic import atomic_path
from mgi.imaging.store import SliceStore

log = logging.getLogger(__name__)


def pick_rows(tumour_pixels: np.ndarray, max_slices: int) -> np.ndarray:
    """Positions (into one patient's rows) to show: evenly spread, tumour slices preferred."""
    pool = np.flatnonzero(tumour_pixels > 0)
    if len(pool) == 0:
        pool = np.arange(len(tumour_pixels))
    if len(pool) <= max_slices:
        return pool
    return pool[np.linspace(0, len(pool) - 1, max_slices).round().astype(int)]


def montage(images: np.ndarray, masks: np.ndarray, labels: list[str], title: str, path: Path):
    """Save a grid of ``(K, H, W)`` images with mask outlines to ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = min(len(images), 6)
    rows = math.ceil(len(images) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2 * cols, 2.3 * rows + 0.4), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, img, msk, label in zip(axes.flat, images, masks, labels, strict=False):
        ax.imshow(img.astype(np.float32), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        if msk.any():
            ax.contour(msk, levels=[0.5], colors="red", linewidths=0.8)
        ax.set_title(label, fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=80)
    plt.close(fig)


def case_summary(store: SliceStore, case_id: str, rows: np.ndarray) -> dict:
    """Per-patient QC figures."""
    images = np.asarray(store.images[rows], dtype=np.float32)
    tumour = store.index["tumour_pixels"].to_numpy()[rows]
    brain = images[images > 0]
    p1, p50, p99 = np.percentile(brain, [1, 50, 99]) if brain.size else (0.0, 0.0, 0.0)
    return {
        "case_id": case_id,
        "status": "ok",
        "slices": len(rows),
        "tumour_slices": int((tumour > 0).sum()),
        "tumour_pixels": int(tumour.sum()),
        "brain_p01": round(float(p1), 4),
        "brain_p50": round(float(p50), 4),
        "brain_p99": round(float(p99), 4),
    }


def write_qc(store_path: str | Path, out_dir: str | Path, *, max_slices: int = 12) -> Path:
    """Write ``<out_dir>/<case_id>.png`` per patient and ``<out_dir>/summary.tsv`` (atomic)."""
    store = SliceStore(store_path)
    summary = []
    with atomic_path(out_dir, directory=True) as tmp:
        for case_id in tqdm(store.case_ids, desc="imaging QC", unit="case"):
            rows = store.rows([case_id])
            show = rows[pick_rows(store.index["tumour_pixels"].to_numpy()[rows], max_slices)]
            labels = [f"slice {s}" for s in store.index["slice"].to_numpy()[show]]
            montage(store.images[show], store.masks[show], labels, case_id, tmp / f"{case_id}.png")
            summary.append(case_summary(store, case_id, rows))
        skipped = store.path / "skipped.tsv"
        if skipped.is_file():  # patients left out of the store, with the reason
            for row in pd.read_csv(skipped, sep="\t").itertuples():
                summary.append({"case_id": row.case_id, "status": f"skipped: {row.reason}"})
        pd.DataFrame(summary).to_csv(tmp / "summary.tsv", sep="\t", index=False)
    log.info("imaging QC: %d montages -> %s", len(summary), out_dir)
    return Path(out_dir)
