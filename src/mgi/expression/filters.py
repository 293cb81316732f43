"""Gene filters and per-gene statistics; every data-driven one is fitted on training rows only.

Statistics are computed in column blocks (float64 accumulation) so the temporaries stay a few
tens of MB at 60,660 genes x 530 cases instead of a float64 copy of the whole matrix.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

_BLOCK = 4096  # genes per block


def gene_type_mask(genes: pd.DataFrame, gene_types: Sequence[str]) -> np.ndarray:
    """Genes whose ``gene_type`` is listed (all genes when ``gene_types`` is empty)."""
    if not gene_types:
        return np.ones(len(genes), dtype=bool)
    unknown = sorted(set(gene_types) - set(genes.gene_type))
    if unknown:
        log.warning("expression.gene_types not present in the files: %s", unknown)
    return genes.gene_type.isin(list(gene_types)).to_numpy().copy()  # writable


def min_expression_mask(
    values: np.ndarray, rows: np.ndarray, min_expression: float, min_fraction: float
) -> np.ndarray:
    """Genes with ``values >= min_expression`` in at least ``min_fraction`` of ``rows``.

    Args:
        values: ``(n_cases, n_genes)``; ``min_expression`` is on the same scale.
        rows: indices of the training cases.
    """
    if min_fraction <= 0:
        return np.ones(values.shape[1], dtype=bool)
    keep = np.empty(values.shape[1], dtype=bool)
    for s in range(0, values.shape[1], _BLOCK):
        block = values[rows, s : s + _BLOCK]
        keep[s : s + _BLOCK] = (block >= min_expression).mean(axis=0) >= min_fraction
    return keep


def mean_std(values: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-gene mean and (population) std over ``rows``, each ``(n_genes,)`` float64."""
    if len(rows) == 0:
        raise ValueError("no training cases to fit gene statistics on")
    mean = np.empty(values.shape[1])
    std = np.empty(values.shape[1])
    for s in range(0, values.shape[1], _BLOCK):
        block = values[rows, s : s + _BLOCK].astype(np.float64)
        mean[s : s + _BLOCK] = block.mean(axis=0)
        std[s : s + _BLOCK] = block.std(axis=0)
    return mean, std


def top_variance_mask(values: np.ndarray, rows: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` genes of highest variance over ``rows`` (ties: earlier gene first)."""
    if k < 1:
        raise ValueError(f"expression.top_k_variance must be >= 1, got {k}")
    _, std = mean_std(values, rows)
    keep = np.zeros(values.shape[1], dtype=bool)
    keep[np.argsort(-std, kind="stable")[:k]] = True
    return keep


def zscore_stats(values: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std for z-scoring; genes constant over ``rows`` get std 1 (so z = x - mean)."""
    mean, std = mean_std(values, rows)
    flat = std <= 1e-8
    if flat.any():
        log.info("%d genes are constant over the training cases: std set to 1", int(flat.sum()))
    std[flat] = 1.0
    return mean, std
