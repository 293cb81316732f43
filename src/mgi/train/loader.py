"""A ``torch.utils.data.DataLoader`` over the training loop's own batch lists.

The loop decides the batches (:class:`mgi.data.DistinctPatientBatchSampler`, the fine-tuning
draw): each is one key ``(epoch, indices)`` handed to the loader's sampler, and
:class:`BatchItems` turns a key into the collated batch, setting the dataset's epoch first
(the augmentation draws depend on ``(seed, epoch, store row)`` only, in whichever process).
So what a step sees does not depend on ``workers``: 0 loads in the training process, N > 0 in
persistent worker processes that prefetch while the device computes. The loader draws its
worker seeds from a private generator, leaving the global RNG (gene noise, dropout) exactly as
a loader-less loop leaves it. Pinned memory on CUDA lets ``non_blocking`` copies overlap.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import DataLoader, Dataset, Sampler, default_collate

Batch = dict[str, torch.Tensor]
Key = tuple[int, tuple[int, ...]]


class BatchItems(Dataset):
    """Key ``(epoch, indices)`` -> the default-collated items ``indices`` of ``dataset``."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __getitem__(self, key: Key) -> Batch:
        epoch, indices = key
        set_epoch = getattr(self.dataset, "set_epoch", None)
        if set_epoch is not None:  # a worker's copy of the dataset learns the epoch here
            set_epoch(epoch)
        return default_collate([self.dataset[i] for i in indices])


class EpochBatches(Sampler):
    """The keys of one epoch from batch ``first`` on (set before each pass over the loader)."""

    def __init__(self) -> None:
        self.epoch, self.batches, self.first = 0, [], 0

    def set(self, epoch: int, batches: Sequence[Sequence[int]], first: int = 0) -> None:
        self.epoch, self.batches, self.first = epoch, batches, first

    def __iter__(self) -> Iterator[Key]:
        return ((self.epoch, tuple(b)) for b in self.batches[self.first :])

    def __len__(self) -> int:
        return max(0, len(self.batches) - self.first)


def batch_loader(
    dataset: Dataset, workers: int, device: torch.device, prefetch: int = 4
) -> tuple[DataLoader, EpochBatches]:
    """The loader of ``dataset`` and the sampler to :meth:`EpochBatches.set` before each epoch."""
    keys = EpochBatches()
    extra = {"persistent_workers": True, "prefetch_factor": prefetch} if workers > 0 else {}
    loader = DataLoader(
        BatchItems(dataset),
        batch_size=None,  # the keys are whole batches
        sampler=keys,
        num_workers=workers,
        pin_memory=device.type == "cuda",
        generator=torch.Generator().manual_seed(0),  # worker seeds; the global RNG untouched
        **extra,
    )
    return loader, keys


def to_device(batch: Batch, device: torch.device) -> Batch:
    """``batch`` on ``device`` (asynchronous from pinned memory)."""
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}
