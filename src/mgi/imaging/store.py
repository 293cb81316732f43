"""The slice store: memory-mappable arrays + an index, what a DataLoader reads with no decoding.

Layout of the store folder (written atomically as a whole):

``images.npy``  (N, H, W) float16, intensity normalised per volume to [0, 1]
``masks.npy``   (N, H, W) uint8 in {0, 1}
``index.parquet`` one row per array row: ``case_id, slice, tumour_pixels, source, format``
``store.json``  the options used, provenance, per case its files, native grid and orientation
``skipped.tsv`` patients left out (``case_id, source, reason``; only with empty_masks: skip)

Slices of one patient are contiguous and in source order.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from mgi.atomic import atomic_path
from mgi.imaging.volume import Case, normalise, resize_stack, select_slices
from mgi.provenance import provenance

log = logging.getLogger(__name__)

FORMATS = ("nifti", "kaggle_3m")


@dataclass(frozen=True)
class SliceOptions:
    """How volumes become store slices."""

    size: int = 64  # slices are resized to size x size (image bilinear, mask nearest)
    slices: str = "all"  # "all" or "tumour" (tumour slices plus margin either side)
    margin: int = 2  # extra slices either side of the tumour with slices="tumour"
    clip_percentiles: tuple[float, float] = (0.5, 99.5)  # intensity clip inside the brain
    empty_masks: str = "error"  # a patient with no tumour voxel: "error", or "skip" (listed)

    def __post_init__(self) -> None:
        lo, hi = self.clip_percentiles
        if not 0 <= lo < hi <= 100:
            raise ValueError(f"clip_percentiles must satisfy 0 <= lo < hi <= 100: {lo}, {hi}")
        if (
            self.size < 1
            or self.margin < 0
            or self.slices not in ("all", "tumour")
            or self.empty_masks not in ("error", "skip")
        ):
            raise ValueError(f"invalid slice options: {self}")


class SliceStore:
    """Read access to a slice store folder: ``.images``/``.masks`` memory-mapped, ``.index``."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        for name in ("images.npy", "masks.npy", "index.parquet"):
            if not (self.path / name).is_file():
                raise FileNotFoundError(f"{self.path / name}: slice store file missing")
        self.images = np.load(self.path / "images.npy", mmap_mode="r")  # (N, H, W) float16
        self.masks = np.load(self.path / "masks.npy", mmap_mode="r")  # (N, H, W) uint8
        self.index = pd.read_parquet(self.path / "index.parquet")
        if not len(self.images) == len(self.masks) == len(self.index):
            raise ValueError(f"{self.path}: images, masks and index differ in length")
        meta = self.path / "store.json"
        self.meta = json.loads(meta.read_text()) if meta.is_file() else {}

    def __len__(self) -> int:
        return len(self.index)

    @property
    def case_ids(self) -> list[str]:
        """Patients in store order."""
        return list(dict.fromkeys(self.index["case_id"]))

    def rows(self, case_ids: Iterable[str]) -> np.ndarray:
        """Array rows (int64, ascending) of all slices of ``case_ids``."""
        wanted = set(case_ids)
        return np.flatnonzero(self.index["case_id"].isin(wanted).to_numpy())

    def __getitem__(self, i: int | Sequence[int] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(image, mask)`` of row(s) ``i`` as in-memory arrays (image float16)."""
        return np.asarray(self.images[i]), np.asarray(self.masks[i])


def _slice_case(case: Case, opts: SliceOptions) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """One patient's store rows: images ``(S', size, size)`` float16, masks uint8, index rows."""
    keep = select_slices(case.mask, opts.slices, opts.margin)
    image = normalise(case.image, opts.clip_percentiles)[keep]
    size = (opts.size, opts.size)
    image = resize_stack(image, size, mode="bilinear").astype(np.float16)
    mask = resize_stack(case.mask[keep], size, mode="nearest").astype(np.uint8)
    rows = pd.DataFrame(
        {
            "case_id": case.case_id,
            "slice": case.slice_numbers[keep].astype(np.int64),
            "tumour_pixels": mask.reshape(len(keep), -1).sum(axis=1).astype(np.int64),
            "source": [case.sources[k] for k in keep],
            "format": case.meta["format"],
        }
    )
    return image, mask, rows


def _empty_mask(case: Case, policy: str, skipped: list[dict]) -> bool:
    """True if ``case`` has no tumour voxel and is skipped; raises with ``policy="error"``."""
    if case.mask.any():
        return False
    if policy == "error":
        raise ValueError(f"{case.mask_source}: empty mask (no tumour voxel)")
    log.warning("%s: empty mask; patient %s skipped", case.mask_source, case.case_id)
    skipped.append({"case_id": case.case_id, "source": case.mask_source, "reason": "empty mask"})
    return True


def _write_arrays(tmp: Path, name: str, parts: list[np.ndarray], n: int) -> None:
    """Concatenate ``parts`` straight into ``tmp/name`` (.npy), without a second copy in memory."""
    arr = np.lib.format.open_memmap(
        tmp / name, mode="w+", dtype=parts[0].dtype, shape=(n, *parts[0].shape[1:])
    )
    np.concatenate(parts, out=arr)
    arr.flush()
    del arr


def write_store(
    cases: Iterable[Case], out: str | Path, opts: SliceOptions, *, total: int | None = None, **extra
) -> Path:
    """Slice, normalise and resize every case into a store folder at ``out`` (atomic).

    ``total`` sizes the progress bar; ``extra`` (e.g. the input path) is recorded in
    ``store.json``. Patients skipped for an empty mask are listed in ``skipped.tsv``.
    """
    images, masks, tables, meta, skipped = [], [], [], {}, []
    for case in tqdm(cases, desc="imaging", unit="case", total=total):
        if case.case_id in meta:
            raise ValueError(f"{case.mask_source}: patient {case.case_id} appears twice")
        if _empty_mask(case, opts.empty_masks, skipped):
            continue
        image, mask, rows = _slice_case(case, opts)
        images.append(image)
        masks.append(mask)
        tables.append(rows)
        meta[case.case_id] = case.meta
    if not tables:
        raise ValueError(f"no cases to write to {out}")
    index = pd.concat(tables, ignore_index=True)
    with atomic_path(out, directory=True) as tmp:
        _write_arrays(tmp, "images.npy", images, len(index))
        _write_arrays(tmp, "masks.npy", masks, len(index))
        index.to_parquet(tmp / "index.parquet", index=False)
        pd.DataFrame(skipped, columns=["case_id", "source", "reason"]).to_csv(
            tmp / "skipped.tsv", sep="\t", index=False
        )
        options = {**asdict(opts), **{k: str(v) for k, v in extra.items()}}
        info = {"options": options, "provenance": provenance(options), "cases": meta}
        (tmp / "store.json").write_text(json.dumps(info, indent=1))
    log.info(
        "slice store: %d slices of %d patients (%d skipped) -> %s",
        len(index),
        len(meta),
        len(skipped),
        out,
    )
    return Path(out)


def build_store(
    fmt: str,
    source: str | Path,
    out: str | Path,
    opts: SliceOptions,
    patterns: tuple[str, str] | None = None,
) -> Path:
    """Build a store from NIfTI (a sample sheet, or a folder + ``patterns``) or kaggle_3m."""
    if fmt == "nifti":
        from mgi.imaging.nifti import DEFAULT_PATTERNS, case_loaders

        loaders = case_loaders(source, tuple(patterns or DEFAULT_PATTERNS))
    elif fmt == "kaggle_3m":
        from mgi.imaging.kaggle import case_loaders

        loaders = case_loaders(source)
    else:
        raise ValueError(f"imaging format must be one of {FORMATS}, not {fmt!r}")
    cases = (load() for load in loaders)
    return write_store(cases, out, opts, total=len(loaders), format=fmt, input=source)
