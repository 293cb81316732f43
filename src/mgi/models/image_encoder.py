"""Image encoder: a timm Vision Transformer on one-channel slices, never downloading weights."""

from __future__ import annotations

from typing import Literal

import torch
from timm.models.vision_transformer import VisionTransformer
from torch import nn

Preset = Literal["tiny", "small", "base"]
# width, depth, heads of timm's vit_{tiny,small,base}
PRESETS: dict[str, tuple[int, int, int]] = {
    "tiny": (192, 12, 3),
    "small": (384, 12, 6),
    "base": (768, 12, 12),
}


class ImageEncoder(nn.Module):
    """ViT: image (B, 1, H, W) -> patch tokens (B, C, H/p, W/p) and pooled vector (B, C)."""

    def __init__(self, *, vit: VisionTransformer) -> None:
        super().__init__()
        self.vit = vit
        self.dim = vit.embed_dim
        self.grid = vit.patch_embed.grid_size  # (H/p, W/p)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """images: (B, 1, H, W) -> (patch tokens (B, C, h, w), pooled (B, C))."""
        x = self.vit.forward_features(images)  # B x (prefix + h*w) x C
        pooled = self.vit.forward_head(x, pre_logits=True)  # B x C (class token)
        tokens = x[:, self.vit.num_prefix_tokens :]
        h, w = self.grid
        return tokens.transpose(1, 2).reshape(x.shape[0], self.dim, h, w), pooled


def build_image_encoder(
    preset: Preset = "tiny", *, img_size: int, patch_size: int = 16, depth: int | None = None
) -> ImageEncoder:
    """timm ViT of a size ``preset`` (tiny/small/base), in_chans=1, no pretrained weights.

    ``depth`` overrides the preset's 12 blocks (small CPU runs); ``img_size`` must be a multiple
    of ``patch_size``.
    """
    if preset not in PRESETS:
        raise ValueError(f"unknown image encoder preset {preset!r}; known: {sorted(PRESETS)}")
    if img_size % patch_size:
        raise ValueError(f"img_size {img_size} is not a multiple of patch_size {patch_size}")
    width, default_depth, heads = PRESETS[preset]
    vit = VisionTransformer(
        img_size=img_size,
        patch_size=patch_size,
        in_chans=1,
        num_classes=0,
        embed_dim=width,
        depth=depth or default_depth,
        num_heads=heads,
    )
    return ImageEncoder(vit=vit)
