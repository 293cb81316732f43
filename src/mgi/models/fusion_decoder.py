"""Multimodal fusion decoder (paper Sec. 2.4, Fig. 2), after SAM's ``modeling/mask_decoder.py``.

Image tokens and K gene tokens go through the two-way transformer; the image tokens are then
upsampled by transposed convolutions, a learned mask token (SAM's) that attended to the genes
and the image is mapped by an MLP to the upsampled width, and the mask is their point-wise
product, resized to the input. Without gene tokens only the mask token attends to the image:
the image-only decoder of the ablation, with the same weights.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mgi.models.two_way_transformer import TwoWayTransformer


class LayerNorm2d(nn.Module):
    """LayerNorm over channels of (B, C, H, W) (SAM's)."""

    def __init__(self, channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, C, H, W) -> (B, C, H, W)."""
        u = x.mean(1, keepdim=True)
        s = (x - u).pow(2).mean(1, keepdim=True)
        x = (x - u) / torch.sqrt(s + self.eps)
        return self.weight[:, None, None] * x + self.bias[:, None, None]


class FusionDecoder(nn.Module):
    """Image tokens (B, C_img, h, w) + gene tokens (B, K, C_g) or None -> logits (B, 1, H, W)."""

    def __init__(
        self,
        *,
        transformer: TwoWayTransformer,
        dim: int,
        image_dim: int,
        gene_dim: int,
        grid: tuple[int, int],
    ) -> None:
        super().__init__()
        self.transformer = transformer
        self.image_in = nn.Conv2d(image_dim, dim, kernel_size=1)
        self.gene_in = nn.Linear(gene_dim, dim)
        self.image_pe = nn.Parameter(torch.randn(1, dim, *grid) * 0.02)
        self.mask_token = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.output_upscaling = nn.Sequential(
            nn.ConvTranspose2d(dim, dim // 4, kernel_size=2, stride=2),
            LayerNorm2d(dim // 4),
            nn.GELU(),
            nn.ConvTranspose2d(dim // 4, dim // 8, kernel_size=2, stride=2),
            nn.GELU(),
        )
        self.mask_mlp = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, dim // 8))

    def forward(
        self, image: torch.Tensor, genes: torch.Tensor | None, out_size: tuple[int, int]
    ) -> torch.Tensor:
        """image: (B, C_img, h, w); genes: (B, K, C_gene) or None -> logits (B, 1, *out_size)."""
        b = image.shape[0]
        src = self.image_in(image)  # B x dim x h x w
        tokens = self.mask_token.expand(b, -1, -1)
        if genes is not None:
            tokens = torch.cat([tokens, self.gene_in(genes)], dim=1)  # B x (1 + K) x dim
        pe = self.image_pe.expand(b, -1, -1, -1)
        tokens, keys = self.transformer(src, pe, tokens)
        # Mask module: upsample the image tokens, product with the mask token's MLP output
        h, w = src.shape[-2:]
        up = self.output_upscaling(keys.transpose(1, 2).reshape(b, -1, h, w))  # B x dim/8 x 4h x 4w
        weights = self.mask_mlp(tokens[:, 0])  # B x dim/8
        masks = torch.einsum("bc,bchw->bhw", weights, up)[:, None]
        return F.interpolate(masks, size=out_size, mode="bilinear", align_corners=False)
