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


def test_encoding_is_float32_under_bf16_autocast_and_cached():
    torch.manual_seed(0)
    enc = PositionEmbeddingRandom(8, scale=4.0)
    fp32 = enc(64, 64).clone()
    enc._cache.clear()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = enc(64, 64)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, fp32, rtol=0, atol=0)  # bf16 would be ~0.06 rad off
    assert enc(64, 64) is got  # cached


def test_cached_encoding_follows_a_loaded_buffer():
    torch.manual_seed(0)
    a, b = PositionEmbeddingRandom(4), PositionEmbeddingRandom(4)
    before = b(5, 5).clone()
    b.load_state_dict(a.state_dict())  # in-place copy into the buffer: the cache is stale
    torch.testing.assert_close(b(5, 5), a(5, 5))
    assert not torch.equal(b(5, 5), before)
