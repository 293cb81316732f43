"""The expression matrix on disk, and the public readers every later stage uses.

Layout (``matrix.parquet``): one row per case, two columns -- ``case_id`` (string) and
``values`` (large_binary: that case's ``n_genes`` float32 little-endian values) -- and the
ordered gene ids in the file's key-value metadata (``mgi.genes``, JSON) with provenance
(``mgi.provenance``). Why not the obvious wide table with one column per gene: Parquet keeps
per-column-chunk metadata, so 60,660 columns mean a multi-MB footer and per-column overhead that
dominates. Measured at 60,660 genes x 530 cases (benchmarks/expression_build.py ``--layouts``,
2 shared cores): wide 3.3 s to write and 6.3 s to read; fixed_size_list<float32> 0.20 s / 0.24 s
(repetition levels to decode); this layout 0.17 s / 0.12 s. The binary rows read as contiguous
buffers that numpy views without parsing, and the result is the same float32 DataFrame.
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

_DTYPE = np.dtype("<f4")


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
    offsets = pa.py_buffer(np.arange(n + 1, dtype=np.int64) * (g * _DTYPE.itemsize))
    blobs = pa.LargeBinaryArray.from_buffers(
        pa.large_binary(), n, [None, offsets, pa.py_buffer(values)]
    )
    meta = {"mgi.genes": json.dumps(list(gene_ids)), "mgi.layout": "row-binary-float32-le/1"}
    if provenance is not None:
        meta["mgi.provenance"] = json.dumps(provenance, default=str)
    table = pa.table({"case_id": pa.array(list(case_ids), pa.string()), "values": blobs})
    table = table.replace_schema_metadata(meta)
    with atomic_path(path) as tmp:
        # no dictionary/statistics on the 240 KB blobs: both cost time and bloat the footer;
        # row groups of ~16 MB so the writer never buffers a second copy of the whole matrix
        pq.write_table(
            table,
            tmp,
            row_group_size=max(1, (16 << 20) // max(1, values[0:1].nbytes)),
            compression="none",
            use_dictionary=False,
            write_statistics=["case_id"],
        )


def read_matrix(path: str | Path) -> pd.DataFrame:
    """The expression matrix: index ``case_id`` (case barcode), columns gene ids, float32.

    Values are ``log2(x + 1)`` of the configured measure over the kept genes.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: expression matrix not found")
    table = pq.read_table(path)
    meta = table.schema.metadata or {}
    if b"mgi.genes" not in meta or table.column_names != ["case_id", "values"]:
        raise ValueError(f"{path}: not an mgi expression matrix (no mgi.genes metadata)")
    genes = json.loads(meta[b"mgi.genes"])
    n, row_bytes = table.num_rows, len(genes) * _DTYPE.itemsize
    values = np.empty((n, len(genes)), dtype=_DTYPE)
    start = 0
    for chunk in table.column("values").chunks:
        offsets = np.frombuffer(chunk.buffers()[1], np.int64, len(chunk) + 1, chunk.offset * 8)
        if chunk.null_count or not np.all(np.diff(offsets) == row_bytes):
            raise ValueError(f"{path}: corrupt matrix: rows are not {len(genes)} float32 values")
        flat = np.frombuffer(chunk.buffers()[2], _DTYPE, len(chunk) * len(genes), offsets[0])
        values[start : start + len(chunk)] = flat.reshape(len(chunk), len(genes))
        start += len(chunk)
    index = pd.Index(table.column("case_id").to_pylist(), name="case_id")
    return pd.DataFrame(values, index=index, columns=pd.Index(genes, name="gene_id"), copy=False)


def read_provenance(path: str | Path) -> dict[str, Any] | None:
    """The provenance stored with a matrix (None if absent)."""
    meta = pq.read_schema(path).metadata or {}
    raw = meta.get(b"mgi.provenance")
    return json.loads(raw) if raw else None


def write_zscore(path: str | Path, gene_ids: Sequence[str], mean, std, n_train: int) -> None:
    """Per-gene z-score statistics (fitted on ``n_train`` training cases), atomically."""
    table = pa.table(
        {"gene_id": list(gene_ids), "mean": np.asarray(mean), "std": np.asarray(std)}
    ).replace_schema_metadata({"mgi.n_train": str(n_train)})
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
