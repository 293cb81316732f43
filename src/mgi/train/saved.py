"""A fine-tuned model back from its ``model.pt``: the network, its run and what it was trained on.

``model.pt`` (:func:`mgi.train.outputs.save_run`) holds the weights beside everything needed to
rebuild the network: the run (``provenance.config.run``), the model options (``model_config``),
``n_genes``, ``img_size`` and ``no_genes_token`` (a run trained with ``finetune.gene_dropout``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

from mgi.train.finetune import Run, build_segmentation_model

log = logging.getLogger(__name__)


def read_checkpoint(path: str | Path, source=None, *, weights_only: bool = False) -> dict[str, Any]:
    """The saved dict of a fine-tuned ``model.pt`` (read from ``source``, a file object, when
    given; ``path`` then only names it); errors name the file. ``weights_only=True`` (bundles,
    which may come from elsewhere) unpickles tensors and plain containers only."""
    if source is None and not Path(path).is_file():
        raise FileNotFoundError(f"{path}: model file not found")
    try:
        src = source if source is not None else path
        saved = torch.load(src, map_location="cpu", weights_only=weights_only)
    except Exception as err:  # torch raises many types for a corrupt file
        raise ValueError(f"{path}: cannot read the model ({type(err).__name__}: {err})") from None
    need = {"state_dict", "provenance", "n_genes", "img_size", "model_config"}
    if not isinstance(saved, dict) or not need <= set(saved):
        raise ValueError(f"{path}: not a fine-tuned mgi model (needs {sorted(need)})")
    return saved


def run_of(saved: dict[str, Any]) -> Run:
    """The :class:`Run` a saved model was trained as."""
    return Run(**saved["provenance"]["config"]["run"])


def build_from(saved: dict[str, Any]) -> torch.nn.Module:
    """The network of a saved model with its weights loaded, in eval mode, on the CPU."""
    net = build_segmentation_model(
        run_of(saved),
        n_genes=int(saved["n_genes"]),
        img_size=int(saved["img_size"]),
        model=saved["model_config"],
        no_genes_token=bool(saved.get("no_genes_token", False)),
    )
    net.load_state_dict(saved["state_dict"], strict=True)
    return net.eval()


def load_segmenter(path: str | Path) -> tuple[torch.nn.Module, Run, dict[str, Any]]:
    """``(network, run, saved dict)`` of a fine-tuned ``model.pt``."""
    saved = read_checkpoint(path)
    return build_from(saved), run_of(saved), saved
