"""Training checkpoints: model, optimiser, scheduler and RNG states, written atomically.

One file per save in a checkpoint folder, ``epoch-<completed epochs>-step-<batches into the
next epoch>.pt``; the newest ``keep`` files are kept. A checkpoint records the hash of the
training configuration it belongs to, and :func:`latest` only returns one with the same hash,
so a changed configuration starts afresh instead of resuming someone else's run.
"""

from __future__ import annotations

import logging
import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mgi.atomic import atomic_path

log = logging.getLogger(__name__)

PATTERN = re.compile(r"epoch-(\d+)-step-(\d+)\.pt$")


def rng_state() -> dict[str, Any]:
    """The global RNG states of python, numpy, torch (and CUDA where present)."""
    state = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` returned."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _files(folder: Path) -> list[tuple[tuple[int, int], Path]]:
    found = []
    for path in folder.glob("epoch-*-step-*.pt"):
        m = PATTERN.search(path.name)
        if m:
            found.append(((int(m[1]), int(m[2])), path))
    return sorted(found)


def save(folder: str | Path, state: dict[str, Any], *, keep: int = 2) -> Path:
    """Write ``state`` (needs ``epoch``, ``step``, ``config_hash``) atomically; prune old files."""
    folder = Path(folder)
    path = folder / f"epoch-{state['epoch']:04d}-step-{state['step']:06d}.pt"
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    for _, old in _files(folder)[:-keep]:
        old.unlink(missing_ok=True)
    log.debug("checkpoint %s", path)
    return path


def latest(folder: str | Path, config_hash: str) -> dict[str, Any] | None:
    """The newest checkpoint in ``folder`` written for ``config_hash``, or ``None``."""
    folder = Path(folder)
    if not folder.is_dir():
        return None
    for _, path in reversed(_files(folder)):
        try:
            state = torch.load(path, map_location="cpu", weights_only=False)  # our own files
        except (RuntimeError, EOFError, OSError) as err:
            log.warning("%s: unreadable checkpoint skipped (%s)", path, err)
            continue
        if state.get("config_hash") == config_hash:
            log.info("resuming from %s", path)
            return state
        log.info("%s belongs to another configuration; not resumed", path)
    return None


def clear(folder: str | Path) -> None:
    """Remove the checkpoints of ``folder`` (after the final outputs are written)."""
    folder = Path(folder)
    for _, path in _files(folder) if folder.is_dir() else []:
        path.unlink(missing_ok=True)
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
