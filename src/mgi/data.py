"""Paired (FLAIR slice, expression vector) data for training: patients, datasets and samplers.

A :class:`Cohort` holds one side of the patient-level split: the slice-store rows of its
patients and one z-scored expression vector per patient (z-score statistics fitted on the
*training* patients by the expression stage and only applied here). :class:`SliceGeneDataset`
yields one slice with its patient's vector; :class:`DistinctPatientBatchSampler` builds batches
in which every patient appears at most once (two slices of one patient in a contrastive batch
would be false negatives).
"""

from __future__ import annotations

import logging
import mmap
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset, Sampler

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Cohort:
    """One split of the paired cohort.

    ``rows`` (N,) int64: slice-store rows (ascending, store order); ``patient`` (N,) int64: index
    of each row's patient into ``case_ids``/``genes``; ``genes`` (P, G) float32 z-scored.
    """

    case_ids: tuple[str, ...]
    rows: np.ndarray
    patient: np.ndarray
    genes: np.ndarray
    gene_ids: tuple[str, ...]

    @property
    def n_genes(self) -> int:
        return self.genes.shape[1]


def read_split(path: str | Path, split: str) -> list[str]:
    """Case barcodes of ``split`` (``train``/``val``/``test``) in ``split.tsv``, file order."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: split table missing")
    table = pd.read_csv(path, sep="\t")
    if not {"case_id", "split"} <= set(table.columns):
        raise ValueError(f"{path}: needs columns case_id and split, has {list(table.columns)}")
    cases = table.loc[table["split"] == split, "case_id"].astype(str).tolist()
    if not cases:
        raise ValueError(f"{path}: no patients in split {split!r}")
    return cases


def has_split(path: str | Path, split: str) -> bool:
    """Whether ``split.tsv`` lists any patient of ``split`` (e.g. ``val``)."""
    table = pd.read_csv(path, sep="\t")
    return bool((table.get("split") == split).any())


def zscore(matrix: pd.DataFrame, mean: pd.Series, std: pd.Series, *, eps: float = 1e-6):
    """``(x - mean) / std`` per gene with training-patient statistics; float32 DataFrame.

    Genes without statistics are an error (the matrix and the statistics must come from one run).
    """
    missing = matrix.columns.difference(mean.index)
    if len(missing):
        raise ValueError(f"z-score statistics lack {len(missing)} genes, e.g. {missing[0]}")
    mu = mean.reindex(matrix.columns).to_numpy(np.float32)
    sd = np.maximum(std.reindex(matrix.columns).to_numpy(np.float32), eps)
    out = (matrix.to_numpy(np.float32) - mu) / sd
    return pd.DataFrame(out, index=matrix.index, columns=matrix.columns)


def build_cohort(index: pd.DataFrame, expression: pd.DataFrame, case_ids: Sequence[str]) -> Cohort:
    """Pair the store ``index`` with z-scored ``expression`` for the patients ``case_ids``.

    Patients lacking images or expression are dropped with a warning (the cohort stage pairs
    them; this only guards against stale inputs). Rows come out in store order.
    """
    wanted = list(dict.fromkeys(case_ids))
    have = set(index["case_id"]) & set(expression.index)
    dropped = [c for c in wanted if c not in have]
    if dropped:
        log.warning("%d patients lack images or expression, skipped: %s", len(dropped), dropped)
    keep = [c for c in wanted if c in have]
    if not keep:
        raise ValueError("no patient has both images and expression")
    pos = {c: i for i, c in enumerate(keep)}
    rows = np.flatnonzero(index["case_id"].isin(pos).to_numpy()).astype(np.int64)
    patient = index["case_id"].to_numpy()[rows]
    patient = np.array([pos[c] for c in patient], dtype=np.int64)
    genes = expression.loc[keep].to_numpy(np.float32)
    if not np.isfinite(genes).all():
        raise ValueError("expression holds NaN/infinite values after z-scoring")
    return Cohort(tuple(keep), rows, patient, genes, tuple(map(str, expression.columns)))


def load_cohort(store, matrix: str | Path, zscore_path: str | Path, split_path, split: str):
    """:class:`Cohort` of ``split`` from the pipeline's files (store is a ``SliceStore``)."""
    from mgi.expression import read_matrix, read_zscore

    mean, std = read_zscore(zscore_path)
    expression = zscore(read_matrix(matrix), mean, std)
    cohort = build_cohort(store.index, expression, read_split(split_path, split))
    log.info(
        "%s cohort: %d patients, %d slices, %d genes",
        split,
        len(cohort.case_ids),
        len(cohort.rows),
        cohort.n_genes,
    )
    return cohort


def subset(cohort: Cohort, keep: np.ndarray) -> Cohort:
    """The cohort restricted to the rows where ``keep`` (N,) is true (patients unchanged)."""
    keep = np.asarray(keep, dtype=bool)
    if not keep.any():
        raise ValueError("no slice left after selection")
    return Cohort(cohort.case_ids, cohort.rows[keep], cohort.patient[keep], cohort.genes,
                  cohort.gene_ids)  # fmt: skip


def tumour_slices(cohort: Cohort, index: pd.DataFrame) -> Cohort:
    """Only the slices that show tumour (``tumour_pixels > 0`` in the store index)."""
    return subset(cohort, index["tumour_pixels"].to_numpy()[cohort.rows] > 0)


def brain_slices(cohort: Cohort, images: np.ndarray, *, share: float = 0.5) -> Cohort:
    """Each patient's slices whose brain area (nonzero pixels of ``images``, the store's (N, H, W)
    array) is at least ``share`` of that patient's largest: the brain's middle, where gliomas
    sit, picked from the images alone (for test patients, whose masks must choose nothing)."""
    rows = StoreRows(images, cohort.rows)
    area = np.empty(len(rows), dtype=np.int64)
    for start in range(0, len(rows), 256):  # chunks: no copy of the cohort in memory
        chunk = rows[start : start + 256]
        area[start : start + len(chunk)] = (chunk.reshape(len(chunk), -1) > 0).sum(axis=1)
    largest = np.zeros(len(cohort.case_ids), dtype=np.int64)
    np.maximum.at(largest, cohort.patient, area)
    return subset(cohort, (area > 0) & (area >= share * largest[cohort.patient]))


def permute_patients(cohort: Cohort, seed: int) -> Cohort:
    """The negative control: each patient gets another patient's vector (seeded derangement)."""
    n = len(cohort.case_ids)
    if n < 2:
        raise ValueError("shuffling genes needs at least two patients")
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n)
    while np.any(perm == np.arange(n)):  # a derangement: nobody keeps their own genes
        perm = rng.permutation(n)
    return Cohort(cohort.case_ids, cohort.rows, cohort.patient, cohort.genes[perm], cohort.gene_ids)


def read_rows(array: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``array[rows]`` as an in-memory array of ``array``'s dtype (a float16 store stays float16).

    From a whole-file memory map (a :class:`~mgi.imaging.SliceStore` array) the rows are read
    with plain file reads, one per run of consecutive rows: indexing the map would map the
    store's pages into this process, where they would count in its RSS, up to the whole store.
    """
    rows = np.asarray(rows, dtype=np.int64)
    whole_file = (
        isinstance(array, np.memmap)
        and isinstance(array.base, mmap.mmap)  # not a view: offset/filename describe ``array``
        and array.flags.c_contiguous
        and array.filename is not None
    )
    if not whole_file or not len(rows):
        return np.array(array[rows])
    if rows.min() < -len(array) or rows.max() >= len(array):
        raise IndexError(f"rows out of range for {len(array)} rows of {array.filename}")
    rows = rows % len(array)
    out = np.empty((len(rows), *array.shape[1:]), dtype=array.dtype)
    row_bytes = out[0].nbytes
    cuts = np.flatnonzero(np.diff(rows) != 1) + 1
    with open(array.filename, "rb", buffering=0) as fh:
        for a, b in zip([0, *cuts], [*cuts, len(rows)], strict=True):
            view = memoryview(out[a:b].reshape(-1).view(np.uint8))
            fh.seek(array.offset + int(rows[a]) * row_bytes)
            done = 0
            while done < len(view):
                n = fh.readinto(view[done:])
                if not n:
                    raise EOFError(f"{array.filename}: ends before row {rows[b - 1]}")
                done += n
    return out


class StoreRows:
    """Rows ``rows`` of a slice-store array (N, H, W), read on demand in the array's dtype.

    ``x[i]`` (an int, a slice or an index array into ``rows``) -> ``array[rows[i]]`` in memory:
    float16 images stay float16, uint8 masks uint8. Nothing is held but the map and the rows.
    """

    def __init__(self, array: np.ndarray, rows: np.ndarray) -> None:
        self.array, self.rows = array, np.asarray(rows, dtype=np.int64)
        self.shape = (len(self.rows), *array.shape[1:])
        self.dtype = array.dtype

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i) -> np.ndarray:
        sel = self.rows[i]
        if np.ndim(sel) == 0:
            return read_rows(self.array, sel[None])[0]
        return read_rows(self.array, sel)


class SliceGeneDataset(Dataset):
    """Item ``i``: ``image`` (1, H, W) float32, ``mask`` (1, H, W) float32, ``genes`` (G,)
    float32, ``patient`` int, ``row`` int (the slice-store row).

    ``images``/``masks`` (:class:`StoreRows`) read the cohort's slices from the store one item at
    a time, in the store's dtypes (float16, uint8), converted to float32 per item: exactly
    (float16 -> float32 loses nothing), and no copy of the cohort stays in memory.
    """

    def __init__(self, images: np.ndarray, masks: np.ndarray, cohort: Cohort) -> None:
        self.images = StoreRows(images, cohort.rows)
        self.masks = StoreRows(masks, cohort.rows)
        self.genes = torch.from_numpy(np.array(cohort.genes, dtype=np.float32))
        self.patient = torch.from_numpy(cohort.patient)
        self.rows = torch.from_numpy(cohort.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        p = self.patient[i]
        return {
            "image": torch.from_numpy(self.images[i].astype(np.float32)).unsqueeze(0),
            "mask": torch.from_numpy(self.masks[i].astype(np.float32)).unsqueeze(0),
            "genes": self.genes[p],
            "patient": p,
            "row": self.rows[i],
        }

    def has_tumour(self, chunk: int = 256) -> np.ndarray:
        """(N,) bool: items whose mask has a tumour pixel (masks read ``chunk`` rows at a time)."""
        out = np.zeros(len(self), dtype=bool)
        for start in range(0, len(self), chunk):
            masks = self.masks[start : start + chunk]
            out[start : start + len(masks)] = masks.reshape(len(masks), -1).any(axis=1)
        return out


class DistinctPatientBatchSampler(Sampler[list[int]]):
    """Batches of dataset indices in which no patient appears twice; every item once per epoch.

    Each step takes one slice from each of the ``batch_size`` patients with the most slices left
    (random tie-break), so patients run out together and few short batches remain at the end.
    The order depends only on ``(seed, epoch)``: call :meth:`set_epoch` before iterating, and a
    resumed run sees exactly the batches an uninterrupted one would.
    """

    def __init__(
        self,
        patient: Sequence[int] | np.ndarray,
        batch_size: int,
        *,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        self.patient = np.asarray(patient, dtype=np.int64)
        n_patients = len(np.unique(self.patient))
        if batch_size < 2:
            raise ValueError(f"batch_size must be >= 2, got {batch_size}")
        if batch_size > n_patients:
            log.warning(
                "batch_size %d > %d patients: batches hold %d", batch_size, n_patients, n_patients
            )
        self.batch_size = min(batch_size, n_patients)
        self.seed, self.drop_last, self.epoch = seed, drop_last, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def batches(self) -> list[list[int]]:
        """All batches of the current epoch, in order."""
        rng = np.random.default_rng([self.seed, self.epoch])
        pools = {
            p: list(rng.permutation(np.flatnonzero(self.patient == p)))
            for p in np.unique(self.patient)
        }
        out: list[list[int]] = []
        while pools:
            keys = list(pools)
            tie = rng.random(len(keys))
            order = sorted(range(len(keys)), key=lambda k: (-len(pools[keys[k]]), tie[k]))
            chosen = [keys[k] for k in order[: self.batch_size]]
            if len(chosen) < 2 or (self.drop_last and len(chosen) < self.batch_size):
                break  # a one-patient batch has no negatives
            out.append([int(pools[p].pop()) for p in chosen])
            pools = {p: v for p, v in pools.items() if v}
        return [out[i] for i in rng.permutation(len(out))]

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self.batches())

    def __len__(self) -> int:
        return len(self.batches())
