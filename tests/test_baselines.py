"""The baselines are built as their papers built them (structure, not just shapes)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mgi.models import baselines as seg

CHANNELS = (4, 8, 16, 32, 64)


def _convs(module: nn.Module) -> list[nn.Conv2d]:
    return [m for m in module.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)]


def test_unet_has_two_3x3_convolutions_with_batch_norm_per_level():
    net = seg.build_unet(channels=CHANNELS).net
    levels = [net.conv_0, *(getattr(net, f"down_{i}").convs for i in range(1, 5))]
    for level, width in zip(levels, CHANNELS, strict=True):
        convs = _convs(level)
        assert len(convs) == 2 and all(c.out_channels == width for c in convs)  # two per level
        assert all(c.stride == (1, 1) for c in convs)  # downsampling is max-pooling, not strides
        assert sum(isinstance(m, nn.BatchNorm2d) for m in level.modules()) == 2
        assert sum(isinstance(m, nn.ReLU) for m in level.modules()) == 2
    for i in range(1, 5):  # the decoder too: two convolutions after each skip concatenation
        assert len(_convs(getattr(net, f"upcat_{i}").convs)) == 2
    assert sum(isinstance(m, nn.MaxPool2d) for m in net.modules()) == 4
    with pytest.raises(ValueError, match="5 levels"):
        seg.build_unet(channels=(4, 8, 16))


def test_paper_unet_is_buda_sized():
    net = seg.build_unet()  # the paper's (32, 64, 128, 256, 512), Buda et al.'s 7.76 M
    assert 7.5e6 < sum(p.numel() for p in net.parameters()) < 8.0e6


def test_resunet_has_residual_units():
    from monai.networks.blocks import ResidualUnit

    net = seg.build_resunet(channels=CHANNELS)
    units = [m for m in net.modules() if isinstance(m, ResidualUnit)]
    encoder = [u for u in units if len(_convs(u.conv)) == 2]  # two convolutions + the skip
    assert len(encoder) == len(CHANNELS)  # every encoder level and the bottom
    x = torch.rand(1, 1, 8, 8)
    unit = units[0].eval()
    torch.testing.assert_close(unit(x), unit.conv(x) + unit.residual(x))  # out = F(x) + x


def test_attention_unet_gates_every_skip():
    from monai.networks.nets.attentionunet import AttentionBlock

    net = seg.build_attention_unet(channels=CHANNELS)
    gates = [m for m in net.modules() if isinstance(m, AttentionBlock)]
    assert len(gates) == len(CHANNELS) - 1


def test_deeplabv3plus_has_a_resnet_encoder():
    net = seg.build_deeplabv3plus(encoder="resnet18").net
    assert type(net).__name__ == "DeepLabV3Plus"
    assert type(net.encoder).__name__ == "ResNetEncoder" and hasattr(net.encoder, "layer4")


@pytest.mark.parametrize("build", [seg.build_unet, seg.build_resunet, seg.build_attention_unet])
def test_u_nets_keep_the_input_size(build):
    net = build(channels=CHANNELS).eval()
    assert net(torch.rand(2, 1, 32, 32)).shape == (2, 1, 32, 32)
