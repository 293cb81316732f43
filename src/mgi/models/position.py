"""SAM's random Fourier-feature positional encoding (``modeling/prompt_encoder.py``).

Written out rather than imported: SAM is not a pip dependency here and its class is 14 lines.
Fixed (a buffer, not learned): every position is distinct from the first step, so the fusion
decoder can tie what the genes say to *where* in the image from the start, instead of waiting
for a learned embedding initialised near zero to grow.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class PositionEmbeddingRandom(nn.Module):
    """(h, w) -> (2 * feats, h, w): sin/cos of random projections of the pixel-centre coordinates.

    Coordinates are normalised to [-1, 1], so the encoding of a grid does not depend on its size.
    Computed in float32 with autocast off (in bf16 the phase error, ~0.06 rad, is the spacing of
    neighbouring pixels at 64 x 64) and cached per grid: it depends on nothing but the buffer.
    """

    def __init__(self, feats: int, scale: float = 1.0) -> None:
        super().__init__()
        self.register_buffer("gaussian", scale * torch.randn(2, feats))
        self._cache: dict[tuple[int, int], torch.Tensor] = {}  # (h, w) -> encoding
        self._cache_of: tuple = ()  # the buffer the cache was computed from

    def forward(self, h: int, w: int) -> torch.Tensor:
        """Encoding of an h x w grid: (2 * feats, h, w), float32 (do not modify in place)."""
        g = self.gaussian
        of = (g.device, g.dtype, g.data_ptr(), g._version)  # moved or loaded: recompute
        if of != self._cache_of:
            self._cache, self._cache_of = {}, of
        if (h, w) not in self._cache:
            self._cache[h, w] = self._encode(h, w).detach()
        return self._cache[h, w]

    def _encode(self, h: int, w: int) -> torch.Tensor:
        dev = self.gaussian.device
        with torch.autocast(dev.type, enabled=False):
            ys = (torch.arange(h, device=dev, dtype=torch.float32) + 0.5) / h
            xs = (torch.arange(w, device=dev, dtype=torch.float32) + 0.5) / w
            grid = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1)  # h x w x 2 (x, y)
            proj = 2 * math.pi * ((2 * grid - 1) @ self.gaussian.float())  # h x w x feats
            return torch.cat([proj.sin(), proj.cos()], dim=-1).permute(2, 0, 1)
