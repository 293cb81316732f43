"""Settings of the training stages as dataclasses (no torch import: the CLI builds its options
from these fields, and ``mgi --help`` stays fast)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Optim:
    """Optimiser, schedule and loop settings."""

    epochs: int = 10  # passes over the training slices
    lr: float = 3e-4  # peak learning rate (AdamW)
    weight_decay: float = 0.05  # AdamW decoupled weight decay
    warmup_epochs: float = 1.0  # linear warm-up before the cosine decay
    min_lr_ratio: float = 0.05  # the cosine ends at lr * min_lr_ratio
    grad_clip: float = 1.0  # max global gradient norm (0: no clipping)
    seed: int = 0  # model initialisation, batch order, dropout
    device: str = "auto"  # auto (cuda if present), cpu or cuda
    precision: str = "bf16"  # bf16 | fp16 (with a grad scaler) | fp32; autocast on CUDA only


@dataclass(frozen=True)
class Loop:
    """Runtime knobs of the training loop: they change no result, so they are neither in a
    checkpoint's key nor in a job's cache key (scheduler keys of ``pretrain:`` / ``finetune:``)."""

    workers: int = 0  # DataLoader worker processes (0: load in the training process)
    checkpoint_minutes: float = 10.0  # checkpoint this often (0: every epoch); + signals, end
    check_every: int = 50  # steps between non-finite loss checks (the only host syncs)
    tensorboard: str = ""  # folder for TensorBoard event files ("": none)

    @classmethod
    def of_section(cls, section: Mapping[str, Any], log: str | Path) -> Loop:
        """The knobs of a ``pretrain:`` / ``finetune:`` config section; TensorBoard files go
        beside the job's ``log`` (``<log stem>.tensorboard``) where the section turns them on."""
        board = str(Path(log).with_suffix(".tensorboard")) if section["tensorboard"] else ""
        return cls(section["workers"], section["checkpoint_minutes"], tensorboard=board)


@dataclass(frozen=True)
class PretrainSpec:
    """What one pre-training run is."""

    gene_encoder: str = "mamba"  # mamba, transformer, mlp or group_attention
    loss: str = "clip"  # clip (symmetric InfoNCE) or mgi_eq1 (the paper's eq. 1, negated)
    batch_size: int = 16  # slices per batch, each from a different patient
    tumour_only: bool = True  # train on tumour slices; retrieve on test brain slices (no masks)


@dataclass(frozen=True)
class Augment:
    """Random augmentation of training slices, image and mask alike (probabilities per slice).

    Defaults: Buda et al. 2019's U-Net training on kaggle_3m (left-right flips, rotations of
    up to 15 degrees, 5 % scaling), plus small intensity changes; elastic deformation off.
    """

    flip_lr: float = 0.5  # probability of a left-right flip (the store's columns)
    affine: float = 0.5  # probability of a random rotation + scaling (one resampling)
    rotate: float = 15.0  # largest rotation, degrees either way
    zoom: float = 0.05  # largest scaling, fraction either way (per axis)
    intensity: float = 0.5  # probability of an intensity shift, and (apart) of a scaling
    shift: float = 0.1  # largest intensity offset (intensities are in [0, 1])
    scale: float = 0.1  # largest intensity factor change, fraction either way
    elastic: float = 0.0  # probability of an elastic deformation (a dense resampling)

    @property
    def active(self) -> bool:
        """True if any transform can happen."""
        return max(self.flip_lr, self.affine, self.intensity, self.elastic) > 0


@dataclass(frozen=True)
class FinetuneSpec:
    """Batch and control settings shared by every run."""

    batch_size: int = 16  # slices per batch
    empty_ratio: float = 1.0  # tumour-free slices drawn per tumour slice each epoch (<0: all)
    gene_noise: float = 0.0  # std of Gaussian noise added to z-scored genes in training
    gene_dropout: float = 0.0  # per item: gene tokens -> a learned no-genes token
    ce_weight: float = 1.0  # weight of the BCE term beside Dice (MONAI DiceCELoss lambda_ce)
    head_lr_mult: float = 1.0  # lr multiplier of the parts not pre-trained (decoder, pooling)
    shuffle_seed: int = 1  # the derangement of mgi_shuffled
    predict_batch: int = 64  # slices per forward pass when predicting the test patients
    select: str = "last"  # the model kept: the last epoch's, or the best by validation Dice
    augment: Augment = Augment()  # augmentation of training slices (a mapping is converted)

    def __post_init__(self) -> None:
        if not isinstance(self.augment, Augment):  # a config section: a mapping
            object.__setattr__(self, "augment", from_mapping(Augment, dict(self.augment)))


def from_mapping(cls, mapping: dict[str, Any], **override):
    """Dataclass ``cls`` from the keys of ``mapping`` it has (a config section), plus overrides."""
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in mapping.items() if k in names}, **override)
