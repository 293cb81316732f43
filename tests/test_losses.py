"""Contrastive losses against hand-computed values."""

import math

import pytest
import torch

from mgi.losses import build_loss, clamp_logit_scale_

# two unit vectors per side: cos(I_i, G_k) = [[1, 0], [0, 1]] (orthogonal pairs)
IMG = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
GEN = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
SCALE = torch.tensor(math.log(2.0))  # 1 / tau = 2


def test_clip_hand_computed():
    # each row: logits [2, 0] -> CE = -log(e^2 / (e^2 + 1)); same per column; mean of both = same
    expected = -math.log(math.exp(2) / (math.exp(2) + 1))
    assert build_loss("clip")(IMG, GEN, SCALE).item() == pytest.approx(expected, rel=1e-6)


def test_clip_asymmetric_case():
    img = torch.tensor([[1.0, 0.0], [0.6, 0.8]])
    gen = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    s = 1.0  # logit scale 0 -> 1 / tau = 1; logits = [[1, 0], [0.6, 0.8]]
    rows = -math.log(math.e / (math.e + 1)) - math.log(
        math.exp(0.8) / (math.exp(0.6) + math.exp(0.8))
    )
    cols = -math.log(math.e / (math.e + math.exp(0.6))) - math.log(
        math.exp(0.8) / (1 + math.exp(0.8))
    )
    expected = (rows / 2 + cols / 2) / 2
    got = build_loss("clip")(img, gen, torch.tensor(math.log(s)))
    assert got.item() == pytest.approx(expected, rel=1e-6)


def test_mgi_eq1_hand_computed():
    # logits [[2, 0], [0, 2]]: denominator over all 4 pairs = 2 e^2 + 2
    denom = 2 * math.exp(2) + 2
    expected = -2 * math.log(math.exp(2) / denom)
    assert build_loss("mgi_eq1")(IMG, GEN, SCALE).item() == pytest.approx(expected, rel=1e-6)


def test_mgi_eq1_minimum_is_b_log_b():
    big = torch.tensor(math.log(100.0))
    got = build_loss("mgi_eq1")(IMG, GEN, big).item()
    assert got == pytest.approx(2 * math.log(2), rel=1e-3)


def test_losses_backpropagate_to_logit_scale():
    scale = torch.tensor(math.log(1 / 0.07), requires_grad=True)
    for name in ("clip", "mgi_eq1"):
        build_loss(name)(IMG, GEN.flip(0), scale).backward()
        assert scale.grad is not None and torch.isfinite(scale.grad)


def test_errors_and_clamp():
    with pytest.raises(ValueError, match="unknown loss"):
        build_loss("triplet")
    with pytest.raises(ValueError, match="must both be"):
        build_loss("clip")(IMG, GEN[:1], SCALE)
    p = torch.nn.Parameter(torch.tensor(9.0))
    clamp_logit_scale_(p)
    assert p.item() == pytest.approx(math.log(100))
    p.data.fill_(-1.0)
    clamp_logit_scale_(p)
    assert p.item() == 0.0


@pytest.mark.parametrize("name", ["clip", "mgi_eq1"])
def test_loss_under_bf16_autocast_equals_fp32(name):
    """Logits and loss run in float32 with autocast off: at logit scale 100, bf16 logits would
    be quantised in steps of 0.25-0.5 and the loss off by far more than 1e-4."""
    g = torch.Generator().manual_seed(0)
    img = torch.nn.functional.normalize(torch.randn(32, 64, generator=g), dim=-1)
    gen = torch.nn.functional.normalize(img + 0.5 * torch.randn(32, 64, generator=g), dim=-1)
    scale = torch.tensor(math.log(100.0))
    loss = build_loss(name)
    expected = loss(img, gen, scale)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = loss(img, gen, scale)
    assert got.dtype == torch.float32
    assert got.item() == pytest.approx(expected.item(), rel=1e-4)
