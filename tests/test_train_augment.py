"""Augmentation of fine-tuning slices: image and mask move together, draws replay exactly, the
demo keeps left-right flips off, test slices are never augmented."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import Dataset
from train_inputs import make_inputs

import mgi.config
from mgi.data import SliceGeneDataset, load_cohort
from mgi.imaging import SliceStore
from mgi.train import finetune as ft
from mgi.train.augment import AugmentedDataset, augmented, build_transform
from mgi.train.specs import Augment, FinetuneSpec

OFF = Augment(flip_lr=0, affine=0, intensity=0, elastic=0)


class Blobs(Dataset):
    """Items whose image is the mask (an off-centre rectangle) plus 0.5: geometry is shared."""

    def __init__(self, n: int = 8, size: int = 32) -> None:
        self.size, self.n = size, n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):
        mask = torch.zeros(1, self.size, self.size)
        mask[:, 4 + i : 12 + i, 3:9] = 1.0  # left of the midline
        return {
            "image": mask * 0.5,
            "mask": mask,
            "row": torch.tensor(100 + i),
            "genes": torch.ones(3),
        }


def test_flip_moves_image_and_mask_together_along_the_columns():
    data = AugmentedDataset(Blobs(), build_transform(Augment(flip_lr=1.0, affine=0,
                                                             intensity=0), 32), seed=0)  # fmt: skip
    item, raw = data[2], Blobs()[2]
    torch.testing.assert_close(item["mask"], raw["mask"].flip(-1))  # right/left swapped
    torch.testing.assert_close(item["image"], raw["image"].flip(-1))
    assert torch.equal(item["genes"], raw["genes"]) and int(item["row"]) == 102


def test_affine_and_intensity_keep_image_and_mask_aligned_and_the_mask_binary():
    spec = Augment(flip_lr=0.5, affine=1.0, rotate=15, zoom=0.05, intensity=1.0, elastic=1.0)
    data = AugmentedDataset(Blobs(), build_transform(spec, 32), seed=3)
    changed = 0
    for epoch in range(3):
        data.set_epoch(epoch)
        for i in range(len(data)):
            item, raw = data[i], Blobs()[i]
            assert item["image"].dtype == item["mask"].dtype == torch.float32
            assert set(item["mask"].unique().tolist()) <= {0.0, 1.0}  # nearest: still binary
            background = item["image"][item["mask"] == 0]
            tumour = item["image"][item["mask"] == 1]
            # intensity shift/scale moves both alike; the blob is where the mask is
            assert tumour.min() > background.max() - 0.3 and tumour.numel() > 0
            changed += not torch.equal(item["mask"], raw["mask"])
    assert changed > 12  # the geometry did change


def test_draws_depend_on_seed_epoch_and_row_only():
    spec = Augment(affine=1.0, intensity=1.0)
    a = AugmentedDataset(Blobs(), build_transform(spec, 32), seed=0)
    b = AugmentedDataset(Blobs(), build_transform(spec, 32), seed=0)
    a.set_epoch(4)
    b.set_epoch(4)
    forward = [a[i]["image"] for i in range(8)]
    backward = [b[i]["image"] for i in reversed(range(8))][::-1]  # another order, another history
    for x, y in zip(forward, backward, strict=True):
        assert torch.equal(x, y)
    b.set_epoch(5)
    assert not torch.equal(b[0]["image"], forward[0])  # a new epoch draws anew
    c = AugmentedDataset(Blobs(), build_transform(spec, 32), seed=1)
    c.set_epoch(4)
    assert not torch.equal(c[0]["image"], forward[0])  # the seed counts


def test_all_off_leaves_the_dataset_alone():
    raw = Blobs()
    assert augmented(raw, OFF, seed=0, size=32) is raw
    assert not OFF.active and Augment().active


def test_spec_from_config_mapping():
    spec = FinetuneSpec(augment={"flip_lr": 0.0, "rotate": 5.0})
    assert spec.augment == Augment(flip_lr=0.0, rotate=5.0)


def test_demo_keeps_left_right_flips_off_and_the_paper_run_has_them(repo):
    demo = mgi.config.load([], workdir=repo)
    paper = mgi.config.load([repo / "configs/tcga-lgg.yaml"])
    assert demo["finetune"]["augment"]["flip_lr"] == 0.0  # the planted signal is the side
    assert paper["finetune"]["augment"]["flip_lr"] > 0
    assert paper["finetune"]["augment"] == mgi.config.defaults("finetune")["augment"]
    defaults = FinetuneSpec(augment=paper["finetune"]["augment"]).augment
    assert defaults == Augment()  # one set of paper values: schema = dataclass


def test_finetuning_augments_training_slices_only(tmp_path):
    inputs = make_inputs(tmp_path)
    store = SliceStore(inputs["store"])
    args = (store, inputs["matrix"], inputs["zscore"], inputs["split"])
    train = SliceGeneDataset(store.images, store.masks, load_cohort(*args, "train"))
    run = ft.Run.parse("unet", "mamba")
    task = ft.segmentation_task(train, run, FinetuneSpec(batch_size=4), seed=0)
    assert isinstance(task.dataset, AugmentedDataset) and task.start_epoch is not None
    plain = ft.segmentation_task(train, run, FinetuneSpec(batch_size=4, augment=OFF), seed=0)
    assert plain.dataset is train and plain.start_epoch is None
    differs = [not np.array_equal(task.dataset[i]["image"], train[i]["image"]) for i in range(8)]
    assert any(differs)


@pytest.mark.parametrize("size", [16, 64])
def test_elastic_builds_for_small_and_large_slices(size):
    transform = build_transform(Augment(flip_lr=0, affine=0, intensity=0, elastic=1.0), size)
    x = torch.rand(1, size, size)
    transform.set_random_state(0)
    out = transform({"image": x, "mask": (x > 0.5).float()})
    assert out["image"].shape == (1, size, size)
