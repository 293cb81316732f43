"""SAM's Fourier positional encoding and the fusion decoder's use of it."""

import pytest
import torch

from mgi.models.fusion_decoder import FusionDecoder
from mgi.models.position import PositionEmbeddingRandom
from mgi.models.two_way_transformer import TwoWayTransformer


def test_encoding_shape_range_and_distinct_positions():
    torch.manual_seed(0)
    pe = PositionEmbeddingRandom(8)(6, 5)
    assert pe.shape == (16, 6, 5)
    assert pe.abs().max() <= 1.0
    flat = pe.flatten(1).T  # 30 positions x 16
    assert torch.cdist(flat, flat).add(torch.eye(30) * 10).min() > 1e-3  # no two alike


def test_encoding_is_fixed_and_saved_with_the_model():
    torch.manual_seed(0)
    a = PositionEmbeddingRandom(4)
    assert not list(a.parameters())  # nothing for the optimiser to move
    b = PositionEmbeddingRandom(4)
    b.load_state_dict(a.state_dict())
    torch.testing.assert_close(a(4, 4), b(4, 4))


def test_encoding_is_resolution_independent():
    """The centre pixel of a 3x3 and of a 9x9 grid sit at the same normalised point."""
    enc = PositionEmbeddingRandom(4)
    torch.testing.assert_close(enc(3, 3)[:, 1, 1], enc(9, 9)[:, 4, 4])


def _decoder(dim: int) -> FusionDecoder:
    return FusionDecoder(
        transformer=TwoWayTransformer(depth=1, dim=dim, heads=2, mlp_dim=16),
        dim=dim,
        image_dim=8,
        gene_dim=4,
    )


def test_mask_depends_on_position_for_a_uniform_image():
    """A uniform image embedding still gives a spatially varying mask: the decoder knows where."""
    torch.manual_seed(0)
    logits = _decoder(32).eval()(torch.ones(1, 8, 4, 4), torch.randn(1, 3, 4), (16, 16))
    assert logits.shape == (1, 1, 16, 16)
    assert logits.std() > 1e-4


def test_decoder_width_must_be_a_multiple_of_16():
    with pytest.raises(ValueError, match="multiple of 16"):
        _decoder(24)
