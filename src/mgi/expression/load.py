"""Parse many STAR-Counts files in parallel into one preallocated float32 matrix.

Threads, not processes: pyarrow's CSV parser releases the GIL, so threads parse files truly in
parallel with no pickling; each thread holds one file's two columns at a time and writes its row
straight into the preallocated ``(n_files, n_genes)`` float32 matrix, so peak memory is the
matrix plus ``workers`` small tables whatever the number of files.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from tqdm import tqdm

from mgi.expression.reader import ANNOTATION, MEASURES, check_values, read_columns, sniff

log = logging.getLogger(__name__)


def read_genes(path: str | Path, measure: str) -> tuple[pd.DataFrame, np.ndarray, pa.Array]:
    """Gene annotation of the reference file.

    Returns:
        ``genes`` (gene_id, gene_name, gene_type; ``N_*`` rows dropped), ``keep`` (bool mask
        over the file's gene rows; False for any ``N_*`` row outside the leading block) and the
        raw gene-id column (binary) every other file must equal.
    """
    path = Path(path)
    layout = sniff(path, measure)
    table = read_columns(path, layout, {c: pa.string() for c in ANNOTATION})
    if table.num_rows == 0:
        raise ValueError(f"{path}: truncated: no gene rows")
    ids = table.column("gene_id").combine_chunks()
    keep = ~pc.starts_with(ids, "N_").to_numpy(zero_copy_only=False)
    genes = table.to_pandas()[keep].reset_index(drop=True)
    dup = genes.gene_id[genes.gene_id.duplicated()]
    if len(dup):
        raise ValueError(f"{path}: duplicated gene ids, e.g. {dup.iloc[0]!r}")
    return genes, keep, ids.cast(pa.binary())


def read_measure(path: str | Path, measure: str, ref_ids: pa.Array, keep: np.ndarray) -> np.ndarray:
    """One file's ``measure`` over the reference genes, ``(n_genes,)`` float64 (CPM for counts).

    Raises:
        ValueError: naming the file and the first differing gene row, or the line and column of
        the first non-numeric / negative / NaN value, or a truncated file.
    """
    path = Path(path)
    layout = sniff(path, measure)
    table = read_columns(path, layout, {"gene_id": pa.binary(), measure: pa.float64()})
    ids = table.column("gene_id")
    if not ids.equals(pa.chunked_array([ref_ids])):
        raise ValueError(f"{path}: {_first_difference(ids.combine_chunks(), ref_ids, layout)}")
    values = table.column(measure).to_numpy()
    check_values(path, layout, measure, values)
    values = values[keep]
    if measure == "unstranded":  # raw counts -> counts per million over the genes
        total = values.sum()
        if total <= 0:
            raise ValueError(f"{path}: column unstranded: all gene counts are zero")
        values = values * (1e6 / total)
    return values


def _prefetch(path: Path) -> None:
    """Ask the kernel to start reading ``path`` into the page cache (returns at once)."""
    if not hasattr(os, "posix_fadvise"):  # not on macOS/Windows: nothing to overlap
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_WILLNEED)
    finally:
        os.close(fd)


def _first_difference(ids: pa.Array, ref: pa.Array, layout) -> str:
    n = min(len(ids), len(ref))
    diff = pc.not_equal(ids[:n], ref[:n]).to_numpy(zero_copy_only=False)
    if diff.any():
        i = int(np.flatnonzero(diff)[0])
        return (
            f"gene list differs from the first file at line {layout.skip_rows + i + 1}: "
            f"{ids[i].as_py().decode()!r} instead of {ref[i].as_py().decode()!r}"
        )
    return (
        f"truncated: {len(ids)} gene rows, expected {len(ref)} (as in the first file)"
        if len(ids) < len(ref)
        else f"{len(ids)} gene rows, expected {len(ref)} (is the first file truncated?): extra "
        f"rows from line {layout.skip_rows + n + 1}"
    )


def load_matrix(
    paths: list[Path],
    measure: str = "tpm_unstranded",
    *,
    log2p1: bool = False,
    workers: int | None = None,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Read ``measure`` from every file.

    Args:
        log2p1: return ``log2(x + 1)``, computed in the parallel workers (float64, then cast).

    Returns:
        ``genes`` (gene_id, gene_name, gene_type, in file order) and ``values``
        ``(len(paths), n_genes)`` float32, row i from ``paths[i]`` (CPM when measure is
        ``unstranded``).
    """
    if measure not in MEASURES:
        raise ValueError(f"expression measure must be one of {MEASURES}, got {measure!r}")
    if not paths:
        raise ValueError("no STAR-Counts files to read")
    for p in paths:
        if not Path(p).is_file():
            raise FileNotFoundError(f"STAR-Counts file not found: {p}")
    genes, keep, ref_ids = read_genes(paths[0], measure)
    values = np.empty((len(paths), len(genes)), dtype=np.float32)

    def task(i: int) -> None:
        if i + workers < len(paths):  # overlap the disk read of a later file with this parse
            _prefetch(paths[i + workers])
        row = read_measure(paths[i], measure, ref_ids, keep)
        values[i] = np.log2(row + 1.0) if log2p1 else row

    workers = workers or min(8, os.cpu_count() or 1)
    with ThreadPoolExecutor(workers) as pool:
        futures = [pool.submit(task, i) for i in range(len(paths))]
        with tqdm(total=len(paths), desc="STAR-Counts", unit="file") as bar:
            pending = set(futures)
            while pending:
                done, pending = wait(pending, timeout=0.5, return_when=FIRST_EXCEPTION)
                bar.update(len(done))
                for fut in done:
                    if fut.exception() is not None:
                        for other in pending:
                            other.cancel()
                        raise fut.exception()
    log.info("read %s of %d genes from %d files", measure, len(genes), len(paths))
    return genes, values
