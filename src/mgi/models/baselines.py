"""Segmentation baselines from the field's libraries (MONAI, segmentation_models_pytorch), built
as their papers built them:

- U-Net (Ronneberger et al. 2015; Buda et al. 2019 on kaggle_3m): two 3x3 convolutions (+ batch
  norm + ReLU) per level, max-pooling down, transposed convolutions up, five levels: MONAI
  ``BasicUNet``;
- ResU-Net: MONAI ``UNet`` with two residual units per level (Kerfoot et al. 2018);
- Attention U-Net (Oktay et al. 2018): MONAI ``AttentionUnet``, attention gates on the skips;
- DeepLabV3+ (Chen et al. 2018) with a ResNet encoder: smp ``DeepLabV3Plus``.

Every model takes ``(images (B, 1, H, W), genes)`` and ignores the genes, so the trainer calls
all methods alike; outputs are logits (B, 1, H, W).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class ImageOnly(nn.Module):
    """Wraps an image -> logits network in the (images, genes) interface."""

    def __init__(self, *, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, images: torch.Tensor, genes: torch.Tensor | None = None) -> torch.Tensor:
        """images: (B, 1, H, W); genes ignored -> logits (B, 1, H, W)."""
        return self.net(images)


def _monai_2d(channels: Sequence[int]) -> dict:
    """Arguments shared by MONAI's U-Nets: 2-D, one channel in and out, halving per level."""
    return {
        "spatial_dims": 2,
        "in_channels": 1,
        "out_channels": 1,
        "channels": tuple(channels),
        "strides": (2,) * (len(channels) - 1),
    }


def _monai_unet(channels: Sequence[int], num_res_units: int) -> ImageOnly:
    from monai.networks.nets import UNet

    return ImageOnly(net=UNet(**_monai_2d(channels), num_res_units=num_res_units))


def build_unet(*, channels: Sequence[int] = (32, 64, 128, 256, 512)) -> ImageOnly:
    """U-Net: MONAI ``BasicUNet`` (two 3x3 conv + batch norm + ReLU per level, as Buda et al.),
    whose five levels take ``channels`` (the last decoder level has ``channels[0]``)."""
    from monai.networks.nets import BasicUNet

    if len(channels) != 5:
        raise ValueError(
            f"the U-Net has 5 levels: model.baselines.channels needs 5, got {channels}"
        )
    net = BasicUNet(
        spatial_dims=2,
        in_channels=1,
        out_channels=1,
        features=(*channels, channels[0]),
        act="relu",
        norm="batch",
    )
    return ImageOnly(net=net)


def build_resunet(*, channels: Sequence[int] = (32, 64, 128, 256, 512)) -> ImageOnly:
    """ResU-Net: MONAI U-Net whose units are residual (two residual units per level)."""
    return _monai_unet(channels, num_res_units=2)


def build_attention_unet(*, channels: Sequence[int] = (32, 64, 128, 256, 512)) -> ImageOnly:
    """MONAI Attention U-Net (attention gates on the skips)."""
    from monai.networks.nets import AttentionUnet

    return ImageOnly(net=AttentionUnet(**_monai_2d(channels)))


def build_deeplabv3plus(*, encoder: str = "resnet34") -> ImageOnly:
    """segmentation_models_pytorch DeepLabV3+ with a random-init (ResNet) encoder (no download)."""
    import segmentation_models_pytorch as smp

    net = smp.DeepLabV3Plus(encoder_name=encoder, encoder_weights=None, in_channels=1, classes=1)
    return ImageOnly(net=net)
