"""What a finished training run leaves behind: the model with its provenance, its result files,
and no checkpoints (shared by pre-training and fine-tuning)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict
from functools import partial
from pathlib import Path

import pandas as pd
import torch

from mgi.atomic import atomic_path
from mgi.provenance import provenance
from mgi.train import checkpoint
from mgi.train.specs import Optim


def fingerprint(*paths: str | Path) -> dict[str, list[int]]:
    """``{path: [size, mtime_ns]}``: regenerated inputs invalidate old checkpoints."""
    return {str(p): [Path(p).stat().st_size, Path(p).stat().st_mtime_ns] for p in paths}


def save_model(path: str | Path, net: torch.nn.Module, config: dict, seed: int, **meta) -> None:
    """``{"state_dict", "provenance", **meta}`` via torch.save, atomically."""
    state = {k: v.detach().cpu() for k, v in net.state_dict().items()}
    with atomic_path(path) as tmp:
        torch.save({"state_dict": state, "provenance": provenance(config, seed), **meta}, tmp)


def save_run(
    out_dir: str | Path,
    net: torch.nn.Module,
    *,
    config: dict,
    opt: Optim,
    ckpt_dir: str | Path,
    tables: Mapping[str, pd.DataFrame],
    files: Mapping[str, Callable[[Path], None]] | None = None,
    **meta,
) -> None:
    """``out_dir``/model.pt (config + optimiser settings as provenance, ``meta`` beside), each
    of ``tables`` as CSV (no index) and each of ``files`` (name -> writer of a path), all written
    atomically; then clear ``ckpt_dir``."""
    out_dir = Path(out_dir)
    save_model(out_dir / "model.pt", net, {**config, "optim": asdict(opt)}, opt.seed, **meta)
    writers = {name: partial(table.to_csv, index=False) for name, table in tables.items()}
    for name, write in {**writers, **(files or {})}.items():
        with atomic_path(out_dir / name) as tmp:
            write(tmp)
    checkpoint.clear(ckpt_dir)
