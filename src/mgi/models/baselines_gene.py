"""Gene-encoder baselines behind the gene-encoder interface (B, G) -> (B, L, C).

* MLP (as ContIG/Taleb et al.): the whole vector through an MLP, reshaped into ``tokens`` tokens;
* Transformer: pre-norm blocks of full self-attention (PyTorch SDPA) over the gene tokens;
* group attention (GiMP, Jin et al. 2023, "group multi-head self-attention gene encoder"):
  genes are embedded in groups (the tokenizer's ``patch_size``), tokens are split into contiguous
  groups of ``group_size``; each block attends within a group, then the group means attend to
  each other and are added back: global structure at ~linear cost. GiMP's code is unpublished
  (huangwudiduan/GIMP holds only a README), so this follows the paper's description.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SelfAttention(nn.Module):
    """Multi-head self-attention via ``F.scaled_dot_product_attention``: (B, L, C) -> (B, L, C)."""

    def __init__(self, *, dim: int, heads: int) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"attention: dim {dim} is not divisible by heads {heads}")
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, L, C) -> (B, L, C)."""
        b, n, c = x.shape
        qkv = self.qkv(x).view(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])  # B x heads x L x C/heads
        return self.proj(out.transpose(1, 2).reshape(b, n, c))


class TransformerBlock(nn.Module):
    """Pre-norm transformer block: x + attn(norm x), then x + mlp(norm x)."""

    def __init__(self, *, dim: int, heads: int, mlp_ratio: int = 4) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = SelfAttention(dim=dim, heads=heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(
            nn.Linear(dim, mlp_ratio * dim), nn.GELU(), nn.Linear(mlp_ratio * dim, dim)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, L, dim) -> (B, L, dim)."""
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class GroupAttention(nn.Module):
    """Attention inside groups of ``group_size`` tokens plus attention among group means."""

    def __init__(self, *, dim: int, heads: int, group_size: int) -> None:
        super().__init__()
        self.group_size = group_size
        self.local = SelfAttention(dim=dim, heads=heads)
        self.group_norm = nn.LayerNorm(dim)
        self.between = SelfAttention(dim=dim, heads=heads)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, L, C) -> (B, L, C)."""
        b, n, c = x.shape
        pad = -n % self.group_size
        xg = F.pad(x, (0, 0, 0, pad)).view(b, -1, self.group_size, c)  # B x groups x size x C
        n_groups = xg.shape[1]
        local = self.local(xg.reshape(b * n_groups, self.group_size, c))
        local = local.view(b, n_groups, self.group_size, c)
        summary = self.between(self.group_norm(local.mean(2)))  # B x groups x C
        out = (local + summary[:, :, None]).reshape(b, -1, c)
        return out[:, :n]


class GroupAttentionBlock(TransformerBlock):
    """:class:`TransformerBlock` whose attention is :class:`GroupAttention`."""

    def __init__(self, *, dim: int, heads: int, group_size: int, mlp_ratio: int = 4) -> None:
        super().__init__(dim=dim, heads=heads, mlp_ratio=mlp_ratio)
        self.attn = GroupAttention(dim=dim, heads=heads, group_size=group_size)


class MLPGeneEncoder(nn.Module):
    """(B, G) -> MLP over all genes -> (B, tokens, dim)."""

    def __init__(self, *, n_genes: int, dim: int, hidden: int, layers: int, tokens: int) -> None:
        super().__init__()
        widths = [n_genes] + [hidden] * layers
        mods: list[nn.Module] = []
        for w_in, w_out in zip(widths[:-1], widths[1:], strict=True):
            mods += [nn.Linear(w_in, w_out), nn.LayerNorm(w_out), nn.GELU()]
        self.mlp = nn.Sequential(*mods, nn.Linear(widths[-1], tokens * dim))
        self.norm = nn.LayerNorm(dim)
        self.n_genes, self.tokens, self.dim = n_genes, tokens, dim

    def forward(self, genes: torch.Tensor) -> torch.Tensor:
        """genes: (B, G) -> tokens (B, tokens, dim)."""
        if genes.dim() != 2 or genes.shape[1] != self.n_genes:
            raise ValueError(
                f"MLP gene encoder expects (B, {self.n_genes}), got {tuple(genes.shape)}"
            )
        return self.norm(self.mlp(genes).view(genes.shape[0], self.tokens, self.dim))
