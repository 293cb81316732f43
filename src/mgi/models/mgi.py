"""MGI: contrastive pre-training model (paper Sec. 2.2) and the segmenter (Sec. 2.4)."""

from __future__ import annotations

import logging
import math

import torch
from torch import nn

from mgi.models.fusion_decoder import FusionDecoder
from mgi.models.image_encoder import ImageEncoder
from mgi.models.pooling import ProjectionHead, TokenPooling

log = logging.getLogger(__name__)


class MGIPretrain(nn.Module):
    """Image encoder + gene encoder, each with mixed pooling + projection; learnable logit scale.

    forward(images (B, 1, H, W), genes (B, G)) -> (image_emb (B, E), gene_emb (B, E)), both
    L2-normalised. ``logit_scale`` (scalar parameter, init log(1/0.07), open_clip's) is clamped
    by the trainer (:func:`mgi.losses.clamp_logit_scale_`).
    """

    def __init__(
        self, *, image_encoder: ImageEncoder, gene_encoder: nn.Module, gene_dim: int, embed_dim: int
    ) -> None:
        super().__init__()
        self.image_encoder = image_encoder
        self.gene_encoder = gene_encoder
        self.image_head = ProjectionHead(in_dim=image_encoder.dim, embed_dim=embed_dim)
        self.gene_head = ProjectionHead(in_dim=gene_dim, embed_dim=embed_dim)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """images (B, 1, H, W) -> unit embeddings (B, E) (mixed pooling over patch tokens)."""
        tokens, _ = self.image_encoder(images)  # B x C x h x w
        return self.image_head(tokens.flatten(2).transpose(1, 2))

    def encode_genes(self, genes: torch.Tensor) -> torch.Tensor:
        """genes (B, G) -> unit embeddings (B, E)."""
        return self.gene_head(self.gene_encoder(genes))

    def forward(
        self, images: torch.Tensor, genes: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """images (B, 1, H, W), genes (B, G) -> (image_emb (B, E), gene_emb (B, E))."""
        return self.encode_image(images), self.encode_genes(genes)


class MGISegmenter(nn.Module):
    """ViT + (optional) gene encoder + K pooled gene tokens + fusion decoder -> logits (B, 1, H, W).

    ``gene_encoder=None`` is the image-only model (same ViT and decoder, no genes).

    ``no_genes_token=True`` (a model trained with ``finetune.gene_dropout``) adds a learned
    "no genes" token set (K, C_gene) that stands in for the pooled gene tokens of items without
    genes: ``forward(images, None)`` then predicts in the mode it was trained in, and
    ``forward(images, genes, drop)`` replaces the tokens of the items where ``drop`` (B,) is true.
    A gene model without it refuses ``genes=None`` (it was never trained without genes).
    """

    def __init__(
        self,
        *,
        image_encoder: ImageEncoder,
        gene_encoder: nn.Module | None,
        gene_pool: TokenPooling | None,
        decoder: FusionDecoder,
        no_genes_token: bool = False,
    ) -> None:
        super().__init__()
        self.image_encoder = image_encoder
        self.gene_encoder = gene_encoder
        self.gene_pool = gene_pool
        self.decoder = decoder
        self.no_genes = None
        if no_genes_token:
            if gene_pool is None:
                raise ValueError("a no-genes token needs a gene model (not image_only)")
            k, c = gene_pool.queries.shape
            self.no_genes = nn.Parameter(torch.randn(1, k, c) * 0.02)

    @property
    def needs_genes(self) -> bool:
        """True if this model cannot predict without an expression vector."""
        return self.gene_encoder is not None and self.no_genes is None

    def forward(
        self,
        images: torch.Tensor,
        genes: torch.Tensor | None = None,
        drop: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """images (B, 1, H, W), genes (B, G) or None, drop (B,) bool or None -> mask logits
        (B, 1, H, W). ``drop`` marks items whose gene tokens become the no-genes token."""
        image_tokens, _ = self.image_encoder(images)  # B x C x h x w
        gene_tokens = None
        if self.gene_encoder is not None:
            if genes is None:
                if self.no_genes is None:
                    raise ValueError(
                        "this model was trained with genes only: it needs an expression vector"
                    )
                gene_tokens = self.no_genes.expand(images.shape[0], -1, -1)
            else:
                gene_tokens = self.gene_pool(self.gene_encoder(genes))  # B x K x C_gene
                if drop is not None and self.no_genes is not None:
                    gene_tokens = torch.where(drop[:, None, None], self.no_genes, gene_tokens)
        return self.decoder(image_tokens, gene_tokens, images.shape[-2:])

    def load_pretrained(self, state_dict: dict[str, torch.Tensor]) -> None:
        """Copy ``image_encoder.*`` (and ``gene_encoder.*`` if this model has one) from an
        :class:`MGIPretrain` state dict; raises RuntimeError naming missing/mismatched keys."""
        parts = {"image_encoder": self.image_encoder}
        if self.gene_encoder is not None:
            parts["gene_encoder"] = self.gene_encoder
        for prefix, module in parts.items():
            sub = {
                k[len(prefix) + 1 :]: v for k, v in state_dict.items() if k.startswith(prefix + ".")
            }
            if not sub:
                raise RuntimeError(f"pre-trained state dict has no {prefix}.* weights")
            try:
                module.load_state_dict(sub, strict=True)
            except RuntimeError as err:
                raise RuntimeError(
                    f"pre-trained {prefix} does not match this model: {err}"
                ) from err
            log.info("loaded %d pre-trained %s tensors", len(sub), prefix)
