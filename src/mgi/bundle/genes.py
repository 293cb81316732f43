"""A new patient's expression file onto a model's genes: Ensembl ids without the version,
``log2(x + 1)`` of the bundle's measure, z-scored with the model's training statistics.

Accepted files: a GDC STAR-Counts TSV (its ``measure`` column, e.g. ``tpm_unstranded``; the
``N_*`` rows dropped; raw ``unstranded`` counts become CPM over the file's genes, as in
training), or a two-column table ``gene_id`` + ``tpm`` (tab- or comma-separated; the second
column may also be named after the bundle's measure, e.g. ``fpkm_uq_unstranded``). Genes are
matched by Ensembl id with the version suffix removed (``ENSG00000141510.18`` = ``ENSG00000141510``;
``_PAR_Y`` kept). A model gene missing from the file takes its training mean (z = 0); if more
than ``max_missing`` of the model's genes are missing, the case stops.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

MAX_MISSING = 0.1  # default limit on the share of a model's genes a file may lack
_VERSION = re.compile(r"\.\d+(?=$|_)")


def strip_version(gene_id: str) -> str:
    """``ENSG00000141510.18`` -> ``ENSG00000141510``; ``ENSG….20_PAR_Y`` -> ``ENSG…_PAR_Y``."""
    return _VERSION.sub("", str(gene_id).strip())


def read_expression(path: str | Path, measure: str = "tpm_unstranded") -> pd.Series:
    """Values of ``measure`` per version-less gene id (float64, before the log)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: expression file not found")
    from mgi.expression.reader import _open_text

    try:
        with _open_text(path) as fh:
            head = [line for _, line in zip(range(16), fh, strict=False)]
    except (OSError, UnicodeDecodeError, EOFError) as err:
        raise ValueError(f"{path}: cannot read the expression file ({err})") from None
    header = next((h for h in head if h.strip() and not h.startswith("#")), "")
    if "gene_type" in header.split("\t"):
        ids, values = _star_counts(path, measure)
    else:
        ids, values = _two_columns(path, header, measure)
    series = pd.Series(values, index=[strip_version(g) for g in ids], dtype=np.float64)
    dup = series.index.duplicated()
    if dup.any():
        log.warning("%s: %d gene ids repeat without their version; first kept", path, dup.sum())
        series = series[~dup]
    return series


def _star_counts(path: Path, measure: str) -> tuple[np.ndarray, np.ndarray]:
    import pyarrow as pa

    from mgi.expression.reader import check_values, read_columns, sniff

    layout = sniff(path, measure)
    table = read_columns(path, layout, {"gene_id": pa.string(), measure: pa.float64()})
    ids = np.asarray(table.column("gene_id").to_pylist(), dtype=object)
    values = table.column(measure).to_numpy()
    check_values(path, layout, measure, values)
    keep = np.array([not g.startswith("N_") for g in ids])
    ids, values = ids[keep], values[keep]
    if measure == "unstranded":  # raw counts -> CPM over the genes, as the training matrix
        total = values.sum()
        if total <= 0:
            raise ValueError(f"{path}: column unstranded: all gene counts are zero")
        values = values * (1e6 / total)
    if not len(ids):
        raise ValueError(f"{path}: no gene rows")
    return ids, values


def _two_columns(path: Path, header: str, measure: str) -> tuple[np.ndarray, np.ndarray]:
    sep = "\t" if "\t" in header else ","
    try:
        table = pd.read_csv(path, sep=sep, comment="#", dtype={"gene_id": str})
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as err:
        raise ValueError(f"{path}: cannot read the expression table ({err})") from None
    value_col = next((c for c in ("tpm", measure) if c in table.columns), None)
    if "gene_id" not in table.columns or value_col is None:
        raise ValueError(
            f"{path}: neither a STAR-Counts file nor a two-column table with gene_id and tpm"
            f" (columns: {list(table.columns)[:6]})"
        )
    values = pd.to_numeric(table[value_col], errors="coerce").to_numpy(np.float64)
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{path}: line {i + 2}, column {value_col}: not a finite non-negative number"
            f" ({table[value_col].iloc[i]!r})"
        )
    if not len(values):
        raise ValueError(f"{path}: no gene rows")
    if measure == "unstranded":
        values = values * (1e6 / max(values.sum(), 1e-12))
    return table["gene_id"].astype(str).to_numpy(object), values


@dataclass(frozen=True)
class GeneMatch:
    """A file's values on a model's genes."""

    zscored: np.ndarray  # (G,) float32
    missing: float  # share of the model's genes absent from the file


def match_genes(
    values: pd.Series,
    gene_ids: list[str],
    mean: np.ndarray,
    std: np.ndarray,
    *,
    path: str | Path,
    max_missing: float = MAX_MISSING,
) -> GeneMatch:
    """z-scored ``log2(x + 1)`` on ``gene_ids`` (the model's order); missing genes -> 0.

    Raises ValueError naming ``path`` when more than ``max_missing`` of the genes are missing.
    """
    keys = [strip_version(g) for g in gene_ids]
    found = values.reindex(keys)
    absent = found.isna().to_numpy()
    share = float(absent.mean())
    if share > max_missing:
        raise ValueError(
            f"{path}: {absent.sum()} of the model's {len(keys)} genes ({share:.1%}) are missing,"
            f" more than the limit {max_missing:.0%} (e.g. {keys[int(np.flatnonzero(absent)[0])]})"
        )
    logged = np.log2(found.fillna(0.0).to_numpy(np.float64) + 1.0).astype(np.float32)
    mu, sd = np.asarray(mean, np.float32), np.maximum(np.asarray(std, np.float32), 1e-6)
    z = (logged - mu) / sd
    z[absent] = 0.0  # the training mean
    if share:
        log.warning(
            "%s: %.1f%% of the model's genes missing (set to their training mean)",
            path,
            100 * share,
        )
    return GeneMatch(z.astype(np.float32), share)
