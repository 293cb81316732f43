"""Two-way attention between gene tokens and image tokens, after SAM's ``modeling/transformer.py``.

Each block (paper Fig. 2, "attention interaction module"): (1) self-attention on the gene
tokens, (2) cross-attention gene tokens -> image, (3) MLP on the gene tokens, (4) cross-attention
image -> gene tokens. A final gene -> image attention follows the blocks.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Attention(nn.Module):
    """Multi-head attention with separate q/k/v projections to ``dim // downsample`` (SAM)."""

    def __init__(self, *, dim: int, heads: int, downsample: int = 1) -> None:
        super().__init__()
        self.inner = dim // downsample
        if self.inner % heads:
            raise ValueError(f"attention: inner dim {self.inner} not divisible by heads {heads}")
        self.heads = heads
        self.q_proj, self.k_proj, self.v_proj = (nn.Linear(dim, self.inner) for _ in range(3))
        self.out_proj = nn.Linear(self.inner, dim)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        return x.view(b, n, self.heads, c // self.heads).transpose(1, 2)  # B x heads x N x C'

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """q: (B, Nq, C), k, v: (B, Nk, C) -> (B, Nq, C)."""
        q, k, v = (
            self._split(self.q_proj(q)),
            self._split(self.k_proj(k)),
            self._split(self.v_proj(v)),
        )
        out = F.scaled_dot_product_attention(q, k, v)  # B x heads x Nq x C'
        return self.out_proj(out.transpose(1, 2).flatten(2))


class TwoWayBlock(nn.Module):
    """One attention interaction module; returns updated (tokens, image keys)."""

    def __init__(self, *, dim: int, heads: int, mlp_dim: int, skip_first_pe: bool = False) -> None:
        super().__init__()
        self.self_attn = Attention(dim=dim, heads=heads)
        self.norm1 = nn.LayerNorm(dim)
        self.cross_token_to_image = Attention(dim=dim, heads=heads, downsample=2)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_dim), nn.ReLU(), nn.Linear(mlp_dim, dim))
        self.norm3 = nn.LayerNorm(dim)
        self.cross_image_to_token = Attention(dim=dim, heads=heads, downsample=2)
        self.norm4 = nn.LayerNorm(dim)
        self.skip_first_pe = skip_first_pe

    def forward(self, tokens, keys, token_pe, key_pe):
        """tokens, token_pe: (B, K, C); keys, key_pe: (B, h*w, C) -> (tokens, keys)."""
        # (1) Self attention block on the gene tokens
        if self.skip_first_pe:
            tokens = self.self_attn(tokens, tokens, tokens)
        else:
            q = tokens + token_pe
            tokens = tokens + self.self_attn(q, q, tokens)
        tokens = self.norm1(tokens)
        # (2) Cross attention block, tokens attending to image embedding
        q, k = tokens + token_pe, keys + key_pe
        tokens = self.norm2(tokens + self.cross_token_to_image(q, k, keys))
        # (3) MLP block on the tokens
        tokens = self.norm3(tokens + self.mlp(tokens))
        # (4) Cross attention block, image embedding attending to tokens
        q, k = tokens + token_pe, keys + key_pe
        keys = self.norm4(keys + self.cross_image_to_token(k, q, tokens))
        return tokens, keys


class TwoWayTransformer(nn.Module):
    """``depth`` :class:`TwoWayBlock` then a final tokens -> image attention."""

    def __init__(self, *, depth: int, dim: int, heads: int, mlp_dim: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            TwoWayBlock(dim=dim, heads=heads, mlp_dim=mlp_dim, skip_first_pe=i == 0)
            for i in range(depth)
        )
        self.final_attn = Attention(dim=dim, heads=heads, downsample=2)
        self.norm_final = nn.LayerNorm(dim)

    def forward(self, image: torch.Tensor, image_pe: torch.Tensor, tokens: torch.Tensor):
        """image, image_pe: (B, C, h, w); tokens: (B, K, C) -> tokens (B, K, C), keys (B, hw, C)."""
        keys = image.flatten(2).transpose(1, 2)  # B x h*w x C
        key_pe = image_pe.flatten(2).transpose(1, 2)
        queries = tokens
        for layer in self.layers:
            queries, keys = layer(queries, keys, tokens, key_pe)
        # Final attention layer from the tokens to the image
        q, k = queries + tokens, keys + key_pe
        queries = self.norm_final(queries + self.final_attn(q, k, keys))
        return queries, keys
