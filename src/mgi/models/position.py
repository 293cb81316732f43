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
    """

    def __init__(self, feats: int, scale: float = 1.0) -> None:
        super().__init__()
        self.register_buffer("gaussian", scale * torch.randn(2, feats))

    def forward(self, h: int, w: int) -> torch.Tensor:
        """Encoding of an h x w grid: (2 * feats, h, w)."""
        dev = self.gaussian.device
        ys = (torch.arange(h, device=dev, dtype=torch.float32) + 0.5) / h
        xs = (torch.arange(w, device=dev, dtype=torch.float32) + 0.5) / w
        grid = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1)  # h x w x 2 (x, y)
        proj = 2 * math.pi * ((2 * grid - 1) @ self.gaussian)  # h x w x feats
        return torch.cat([proj.sin(), proj.cos()], dim=-1).permute(2, 0, 1)
