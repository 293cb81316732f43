"""Augmentation of fine-tuning slices with MONAI dictionary transforms, image and mask jointly.

Left-right flips, a random rotation + scaling (one affine resampling: bilinear for the image,
nearest for the mask), intensity shift and scaling (image only) and an optional elastic
deformation, each with its probability (:class:`mgi.train.specs.Augment`).

Replay: an item's random draws depend only on ``(seed, epoch, store row)`` — the transforms are
re-seeded per item — so the batch order, a worker's history or a resume from a checkpoint never
change what an item looks like (:mod:`mgi.train.loop`'s exact-replay guarantee).
"""

from __future__ import annotations

import logging
import math

import numpy as np
import torch
from torch.utils.data import Dataset

from mgi.train.specs import Augment

log = logging.getLogger(__name__)

KEYS = ("image", "mask")


def build_transform(spec: Augment, size: int):
    """The MONAI ``Compose`` of ``spec`` for (1, size, size) tensors, or ``None`` if all is off."""
    from monai.transforms import (
        Compose,
        Rand2DElasticd,
        RandAffined,
        RandFlipd,
        RandScaleIntensityd,
        RandShiftIntensityd,
    )

    modes = ("bilinear", "nearest")  # image, mask: the mask stays binary
    steps = []
    if spec.flip_lr > 0:  # spatial axis 1 = the store's columns: the patient's right/left
        steps.append(RandFlipd(KEYS, prob=spec.flip_lr, spatial_axis=1))
    if spec.affine > 0:
        steps.append(
            RandAffined(
                KEYS,
                prob=spec.affine,
                rotate_range=math.radians(spec.rotate),
                scale_range=(spec.zoom, spec.zoom),
                mode=modes,
                padding_mode="zeros",
            )
        )
    if spec.elastic > 0:  # control points every size/8 pixels, moved by 1-2 of them
        spacing = max(4, size // 8)
        steps.append(
            Rand2DElasticd(
                KEYS,
                spacing=(spacing, spacing),
                magnitude_range=(1.0, 2.0),
                prob=spec.elastic,
                mode=modes,
                padding_mode="zeros",
            )
        )
    if spec.intensity > 0:
        steps.append(RandShiftIntensityd("image", offsets=spec.shift, prob=spec.intensity))
        steps.append(RandScaleIntensityd("image", factors=spec.scale, prob=spec.intensity))
    return Compose(steps) if steps else None


def item_seed(seed: int, epoch: int, row: int) -> int:
    """The seed of one item's draws: a function of ``(seed, epoch, row)`` only."""
    return int(np.random.SeedSequence([seed, epoch, row]).generate_state(1)[0])


class AugmentedDataset(Dataset):
    """``dataset`` (items with ``image``, ``mask`` (1, H, W) and ``row``) with ``transform``
    applied to image and mask jointly; call :meth:`set_epoch` before each epoch.

    Other keys pass through; ``image``/``mask`` come back as plain float32 tensors.
    """

    def __init__(self, dataset: Dataset, transform, seed: int) -> None:
        self.dataset, self.transform, self.seed, self.epoch = dataset, transform, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        item = dict(self.dataset[i])
        self.transform.set_random_state(item_seed(self.seed, self.epoch, int(item["row"])))
        out = self.transform({k: item[k] for k in KEYS})
        for k in KEYS:
            value = out[k]
            value = value.as_tensor() if hasattr(value, "as_tensor") else value  # MetaTensor
            item[k] = value.to(torch.float32).contiguous()
        return item


def augmented(dataset: Dataset, spec: Augment, seed: int, size: int) -> Dataset:
    """``dataset`` wrapped in :class:`AugmentedDataset`, or itself when ``spec`` is all off."""
    transform = build_transform(spec, size) if spec.active else None
    if transform is None:
        return dataset
    log.info("augmentation: %s", spec)
    return AugmentedDataset(dataset, transform, seed)
