"""Mixed pooling of token sequences and the projection into the joint embedding space."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class MixedPooling(nn.Module):
    """sigmoid(w) * mean + (1 - sigmoid(w)) * max over tokens; w learned (init 0: half each).

    tokens (B, L, C) -> (B, C).
    """

    def __init__(self) -> None:
        super().__init__()
        self.mix = nn.Parameter(torch.zeros(()))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens: (B, L, C) -> (B, C)."""
        alpha = torch.sigmoid(self.mix)
        return alpha * tokens.mean(1) + (1 - alpha) * tokens.amax(1)


class ProjectionHead(nn.Module):
    """Mixed pooling -> linear projection -> L2 normalisation: (B, L, C) -> (B, E)."""

    def __init__(self, *, in_dim: int, embed_dim: int) -> None:
        super().__init__()
        self.pool = MixedPooling()
        self.proj = nn.Linear(in_dim, embed_dim)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens: (B, L, C) -> unit vectors (B, E)."""
        return F.normalize(self.proj(self.pool(tokens)), dim=-1)


class TokenPooling(nn.Module):
    """K learned queries cross-attend to a long token sequence: (B, L, C) -> (B, K, C).

    Used to hand the fusion decoder K gene tokens (self-attention over 60k tokens would not fit).
    """

    def __init__(self, *, dim: int, tokens: int, heads: int) -> None:
        super().__init__()
        self.queries = nn.Parameter(torch.randn(tokens, dim) * 0.02)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm = nn.LayerNorm(dim)

    def forward(self, seq: torch.Tensor) -> torch.Tensor:
        """seq: (B, L, C) -> (B, K, C)."""
        q = self.queries.expand(seq.shape[0], -1, -1)
        out, _ = self.attn(q, seq, seq, need_weights=False)
        return self.norm(out + q)
