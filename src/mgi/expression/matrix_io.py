"""The expression matrix on disk, and the public readers every later stage uses.

Layout (``matrix.parquet``, ``mgi.layout = fixed-size-list-float32/2``): one row per case, two
typed columns -- ``case_id`` (string) and ``values`` (``fixed_size_list<float32>[n_genes]``: that
case's log2(x+1) values in gene order) -- so pandas, polars, pyarrow, DuckDB and R's arrow read
real numbers, not bytes. The gene order is in the file's key-value metadata (``mgi.genes``, a
JSON list; DuckDB: ``parquet_kv_metadata``) and in the companion ``genes.tsv`` (``gene_id``,
``gene_name``, ``gene_type``, 0-based ``order``: the position in ``values``); provenance is in
``mgi.provenance``.

Why this layout, measured at 530 cases x 60,660 genes on 2 shared cores (medians of 3,
benchmarks/expression_build.py ``--layouts`` -> benchmarks/results/expression_layouts.csv):
``fixed_size_list<float32>`` 0.19 s write / 0.15 s ``read_matrix``, 132 MB -- the flattened
child array is one contiguous float32 buffer numpy views without a copy; a long table
``case_id, gene_id, value`` (dictionary-encoded, 32 M rows) 1.1 s / 0.86 s, 210 MB; the wide table
(one column per gene) 3.2 s / 2.9 s (per-column-chunk metadata); the previous opaque row-binary
layout (``row-binary-float32-le/1``, ``large_binary`` blobs) 0.09 s / 0.04 s, but readable only
by mgi: ``read_matrix`` refuses it with a clear error, and the build rule's ``layout`` param makes
the workflow rebuild it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from mgi.atomic import atomic_path

LAYOUT = "fixed-size-list-float32/2"
OLD_LAYOUTS = ("row-binary-float32-le/1",)
_DTYPE = np.dtype("float32")


def write_matrix(
    path: str | Path,
    values: np.ndarray,
    case_ids: Sequence[str],
    gene_ids: Sequence[str],
    provenance: dict[str, Any] | None = None,
) -> None:
    """Write ``values`` ``(n_cases, n_genes)`` float32 atomically in the layout above."""
    values = np.ascontiguousarray(values, dtype=_DTYPE)
    n, g = values.shape
    if n != len(case_ids) or g != len(gene_ids):
        raise ValueError(f"matrix {values.shape} vs {len(case_ids)} cases, {len(gene_ids)} genes")
    if g == 0:
        raise ValueError("matrix without genes")
    flat = pa.array(values.reshape(-1), pa.float32())  # zero-copy view of the numpy buffer
    column = pa.FixedSizeListArray.from_arrays(flat, g)
    meta = {"mgi.genes": json.dumps(list(gene_ids)), "mgi.layout": LAYOUT}
    if provenance is not None:
        meta["mgi.provenance"] = json.dumps(provenance, default=str)
    table = pa.table({"case_id": pa.array(list(case_ids), pa.string()), "values": column})
    table = table.replace_schema_metadata(meta)
    with atomic_path(path) as tmp:
        # no dictionary/statistics/compression on the float values: all cost time for little
        # gain on log-expression; row groups of ~16 MB so the writer never buffers a second copy
        pq.write_table(
            table,
            tmp,
            row_group_size=max(1, (16 << 20) // max(1, g * _DTYPE.itemsize)),
            compression="none",
            use_dictionary=["case_id"],
            write_statistics=["case_id"],
        )


def _check_layout(path: Path, schema: pa.Schema) -> list[str]:
    """The gene ids of an mgi matrix; a clear error for the previous or a foreign layout."""
    meta = schema.metadata or {}
    layout = meta.get(b"mgi.layout", b"").decode()
    if layout in OLD_LAYOUTS:
        raise ValueError(
            f"{path}: expression matrix in the previous layout {layout!r} (opaque binary rows); "
            f"rebuild it (`snakemake --forcerun expression_build` or `mgi expression build`)"
        )
    if b"mgi.genes" not in meta or schema.names != ["case_id", "values"]:
        raise ValueError(f"{path}: not an mgi expression matrix (no mgi.genes metadata)")
    genes = json.loads(meta[b"mgi.genes"])
    vtype = schema.field("values").type
    if (
        layout != LAYOUT
        or not pa.types.is_fixed_size_list(vtype)
        or vtype.value_type != pa.float32()
        or vtype.list_size != len(genes)
    ):
        raise ValueError(
            f"{path}: unknown expression matrix layout {layout!r} ({vtype}); "
            f"expected {LAYOUT} with {len(genes)} float32 values per case"
        )
    return genes


def read_matrix(path: str | Path) -> pd.DataFrame:
    """The expression matrix: index ``case_id`` (case barcode), columns gene ids, float32.

    Values are ``log2(x + 1)`` of the configured measure over the kept genes.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: expression matrix not found")
    genes = _check_layout(path, pq.read_schema(path))
    table = pq.read_table(path)
    g = len(genes)
    values = np.empty((table.num_rows, g), dtype=_DTYPE)
    start = 0
    for chunk in table.column("values").chunks:
        flat = chunk.flatten()  # zero-copy slice of the child buffer
        if chunk.null_count or flat.null_count:
            raise ValueError(f"{path}: corrupt matrix: missing values")
        values[start : start + len(chunk)] = flat.to_numpy().reshape(len(chunk), g)
        start += len(chunk)
    index = pd.Index(table.column("case_id").to_pylist(), name="case_id")
    return pd.DataFrame(values, index=index, columns=pd.Index(genes, name="gene_id"), copy=False)


def read_provenance(path: str | Path) -> dict[str, Any] | None:
    """The provenance stored with a matrix (None if absent)."""
    meta = pq.read_schema(path).metadata or {}
    raw = meta.get(b"mgi.provenance")
    return json.loads(raw) if raw else None


def write_zscore(
    path: str | Path,
    gene_ids: Sequence[str],
    mean,
    std,
    n_train: int,
    provenance: dict[str, Any] | None = None,
) -> None:
    """Per-gene z-score statistics (fitted on ``n_train`` training cases), atomically.

    A plain typed table (``gene_id`` string, ``mean``/``std`` floats) any Parquet reader opens.
    """
    meta = {"mgi.n_train": str(n_train), "mgi.layout": "zscore/2"}
    if provenance is not None:
        meta["mgi.provenance"] = json.dumps(provenance, default=str)
    table = pa.table(
        {
            "gene_id": pa.array(list(gene_ids), pa.string()),
            "mean": pa.array(np.asarray(mean)),
            "std": pa.array(np.asarray(std)),
        }
    ).replace_schema_metadata(meta)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def read_zscore(path: str | Path) -> tuple[pd.Series, pd.Series]:
    """``(mean, std)`` per gene (index: gene id) fitted on training patients only."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: z-score statistics not found")
    frame = pq.read_table(path).to_pandas()
    if not {"gene_id", "mean", "std"} <= set(frame.columns):
        raise ValueError(f"{path}: expected columns gene_id, mean, std")
    frame = frame.set_index("gene_id")
    return frame["mean"].rename("mean"), frame["std"].rename("std")
