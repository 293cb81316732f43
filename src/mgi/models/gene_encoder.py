"""Gene encoder: expression vector (B, G) -> token sequence (B, L, C) -> residual blocks.

The token of gene group i is ``value_embed(x[group i]) + identity[i]``: a linear map of the
``patch_size`` neighbouring values plus a learned embedding of which genes these are (the order
of the matrix columns is fixed by the data, so position i always means the same genes).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class GeneTokenizer(nn.Module):
    """(B, G) expression -> (B, ceil(G / patch_size), dim) tokens (zero-padded at the end)."""

    def __init__(self, *, n_genes: int, dim: int, patch_size: int = 1) -> None:
        super().__init__()
        if n_genes < 1 or patch_size < 1:
            raise ValueError(
                f"gene tokenizer: n_genes={n_genes}, patch_size={patch_size} must be >= 1"
            )
        self.n_genes = n_genes
        self.patch_size = patch_size
        self.n_tokens = math.ceil(n_genes / patch_size)
        self.value_embed = nn.Linear(patch_size, dim)
        self.identity = nn.Parameter(torch.randn(self.n_tokens, dim) * 0.02)

    def forward(self, genes: torch.Tensor) -> torch.Tensor:
        """genes: (B, G) -> tokens (B, L, dim) with L = ceil(G / patch_size)."""
        if genes.dim() != 2 or genes.shape[1] != self.n_genes:
            raise ValueError(
                f"gene encoder expects (B, {self.n_genes}) expression, got {tuple(genes.shape)}"
            )
        pad = self.n_tokens * self.patch_size - self.n_genes
        x = F.pad(genes, (0, pad)).view(genes.shape[0], self.n_tokens, self.patch_size)
        return self.value_embed(x) + self.identity  # B x L x dim


class GeneEncoder(nn.Module):
    """Tokenizer -> residual blocks -> final norm: (B, G) -> (B, L, dim)."""

    def __init__(self, *, tokenizer: GeneTokenizer, blocks: list[nn.Module], dim: int) -> None:
        super().__init__()
        self.tokenizer = tokenizer
        self.blocks = nn.ModuleList(blocks)
        self.norm = nn.LayerNorm(dim)
        self.dim = dim

    def forward(self, genes: torch.Tensor) -> torch.Tensor:
        """genes: (B, G) float -> tokens (B, L, dim)."""
        x = self.tokenizer(genes)
        for block in self.blocks:
            x = block(x)
        return self.norm(x)
