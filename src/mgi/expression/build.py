"""The expression stage: a GDC folder of STAR-Counts files -> one log2(x+1) matrix on disk.

Steps: one aliquot per case (``aliquots``), parse every chosen file and take ``log2(x + 1)``
in parallel (``load``), gene filters (type; minimum expression; optional top-k variance),
per-gene z-score statistics. Every data-driven choice (minimum-expression fraction, top-k variance,
z-score mean/std) is fitted on the *training* patients of the split only.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mgi.atomic import atomic_path
from mgi.expression import filters
from mgi.expression.aliquots import DEFAULT_SAMPLE_TYPES, choose_aliquots, read_files_table
from mgi.expression.load import load_matrix
from mgi.expression.matrix_io import write_matrix, write_zscore
from mgi.provenance import provenance

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExpressionOptions:
    """What the matrix holds (mirrors config.yaml ``expression:``)."""

    measure: str = "tpm_unstranded"  # tpm_unstranded | fpkm_uq_unstranded | unstranded (-> CPM)
    sample_types: tuple[str, ...] = DEFAULT_SAMPLE_TYPES  # aliquot priority per case
    gene_types: tuple[str, ...] = ()  # GENCODE gene types kept; empty: all
    min_expression: float = 0.0  # a gene is kept if >= this (measure scale, before log) ...
    min_fraction: float = 0.0  # ... in at least this share of training cases (0: no filter)
    top_k_variance: int | None = None  # keep the k most variable genes (training cases); None: all
    workers: int | None = None  # parallel file parsers (None: min(8, CPUs))


def training_rows(case_ids: Sequence[str], split: str | Path | None) -> np.ndarray:
    """Row indices of the split's training patients among ``case_ids`` (all rows if no split)."""
    if split is None:
        return np.arange(len(case_ids))
    table = pd.read_csv(split, sep="\t", dtype=str)
    if not {"case_id", "split"} <= set(table.columns):
        raise ValueError(f"{split}: expected columns case_id, split")
    train = set(table.case_id[table.split == "train"])
    missing = sorted(train - set(case_ids))
    if missing:
        raise ValueError(f"{split}: training patients without RNA-seq: {missing[:5]}")
    rows = np.flatnonzero(pd.Index(case_ids).isin(train))
    if len(rows) == 0:
        raise ValueError(f"{split}: no training patients")
    return rows


def select_genes(
    genes: pd.DataFrame, values: np.ndarray, rows: np.ndarray, opts: ExpressionOptions
) -> np.ndarray:
    """Mask of kept genes: type, then minimum expression over training rows.

    ``values`` are log2(x + 1); ``x >= m`` is tested as ``log2(x + 1) >= log2(m + 1)``.
    """
    keep = filters.gene_type_mask(genes, opts.gene_types)
    log.info("gene types: %d of %d genes kept", keep.sum(), len(keep))
    if opts.min_fraction > 0:
        threshold = np.float32(np.log2(opts.min_expression + 1.0))  # as the values are rounded
        keep &= filters.min_expression_mask(values, rows, threshold, opts.min_fraction)
        log.info(
            "minimum expression (>= %g in >= %.0f%% of %d training cases): %d genes kept",
            opts.min_expression,
            100 * opts.min_fraction,
            len(rows),
            keep.sum(),
        )
    if not keep.any():
        raise ValueError("expression gene filters removed every gene")
    return keep


def transform(
    genes: pd.DataFrame, values: np.ndarray, rows: np.ndarray, opts: ExpressionOptions
) -> tuple[pd.DataFrame, np.ndarray]:
    """Filter genes (type, minimum expression, optional top-k variance over training ``rows``).

    Args:
        values: ``(n_cases, n_genes)`` float32 ``log2(x + 1)`` values.

    Returns:
        The kept genes (with ``order``) and their ``(n_cases, n_kept)`` float32 log values.
    """
    keep = select_genes(genes, values, rows, opts)
    if not keep.all():  # copy only when genes are dropped (the full matrix is freed here)
        values, genes = values[:, keep], genes[keep].reset_index(drop=True)
    if opts.top_k_variance and opts.top_k_variance < len(genes):
        top = filters.top_variance_mask(values, rows, opts.top_k_variance)
        values, genes = values[:, top], genes[top].reset_index(drop=True)
        log.info("top-%d variance genes over %d training cases", top.sum(), len(rows))
    genes = genes.assign(order=np.arange(len(genes)))
    return genes, values


def _load(gdc_dir, options: ExpressionOptions, split):
    """The chosen aliquots, their training rows and the (genes, log2(x+1) values) of their files."""
    chosen = choose_aliquots(read_files_table(gdc_dir), options.sample_types)
    rows = training_rows(list(chosen.case_id), split)
    genes, values = load_matrix(
        list(chosen.path), options.measure, log2p1=True, workers=options.workers
    )
    return genes, values, chosen, rows


def build_matrix(
    gdc_dir: str | Path,
    out: str | Path,
    *,
    options: ExpressionOptions = ExpressionOptions(),  # noqa: B008 - frozen dataclass
    split: str | Path | None = None,
    genes_out: str | Path | None = None,
    zscore_out: str | Path | None = None,
    aliquots_out: str | Path | None = None,
) -> pd.DataFrame:
    """Build the matrix of ``gdc_dir`` and write it (and the side tables) atomically.

    Everything is computed before the first output is written, so a bad input leaves no output.

    Args:
        gdc_dir: folder with ``files.tsv`` and ``<file_id>/<file_name>``.
        out: the matrix (``read_matrix``): ``(n_cases, n_kept_genes)`` float32, log2(x+1).
        split: ``split.tsv`` (case_id, split); statistics use ``split == train`` rows. Required
            for ``top_k_variance`` and ``zscore_out``; without it filters use every case.
        genes_out: genes table (gene_id, gene_name, gene_type, order).
        zscore_out: per-gene mean/std over training cases (``read_zscore``).
        aliquots_out: the chosen file per case.

    Returns:
        The genes table of the kept genes.
    """
    if split is None and (options.top_k_variance or zscore_out):
        raise ValueError("top-k variance and z-score statistics need a split (training cases)")
    if split is None and options.min_fraction > 0:
        log.warning("no split given: the minimum-expression filter uses every case")
    # provenance runs git and reads package metadata: overlap it with the parsing
    with ThreadPoolExecutor(1) as pool:
        prov_job = pool.submit(provenance, {"gdc_dir": str(gdc_dir), **asdict(options)}, None)
        genes, values, chosen, rows = _load(gdc_dir, options, split)
        prov = prov_job.result()
    genes, values = transform(genes, values, rows, options)
    stats = filters.zscore_stats(values, rows) if zscore_out else None
    write_matrix(out, values, list(chosen.case_id), list(genes.gene_id), prov)
    if genes_out:
        with atomic_path(genes_out) as tmp:
            genes.to_csv(tmp, sep="\t", index=False)
    if zscore_out:
        write_zscore(zscore_out, genes.gene_id, *stats, len(rows), prov)
    if aliquots_out:
        cols = ["case_id", "file_id", "file_name", "sample_submitter_id", "sample_type"]
        with atomic_path(aliquots_out) as tmp:
            chosen[[*cols, "n_aliquots"]].to_csv(tmp, sep="\t", index=False)
    log.info("expression matrix %d cases x %d genes -> %s", len(chosen), len(genes), out)
    return genes
