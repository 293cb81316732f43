"""Image-gene contrastive losses (paper Sec. 2.3).

Both take ``(image_emb (B, E), gene_emb (B, E), logit_scale)``, embeddings L2-normalised (so the
dot product is the cosine) and ``logit_scale`` = log(1 / tau), a scalar the model owns (open_clip).

* ``clip``: the standard symmetric InfoNCE (CLIP/open_clip): for each image, softmax over the
  batch's genes, and for each gene vector, softmax over the batch's images; mean of the two
  cross-entropies.
* ``mgi_eq1``: the paper's eq. (1) as printed, negated so it is minimised:
  ``-sum_i log( exp(s_ii) / sum_j sum_k exp(s_jk) )`` with ``s = cos / tau``. Unlike InfoNCE, the
  denominator runs over all B^2 pairs (one softmax over the whole similarity matrix, not per
  row/column) and the sum is not averaged, so its value grows with B and its minimum is
  ``B log B`` (all mass equally on the diagonal), not 0.

Both compute in float32 with autocast off, whatever the embeddings' dtype.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

MAX_LOGIT_SCALE = math.log(100.0)


def _logits(image_emb: torch.Tensor, gene_emb: torch.Tensor, logit_scale: torch.Tensor):
    """B x B logits in float32 (call with autocast off: see :func:`_fp32`)."""
    if image_emb.shape != gene_emb.shape or image_emb.dim() != 2:
        raise ValueError(
            f"contrastive loss: embeddings {tuple(image_emb.shape)} and "
            f"{tuple(gene_emb.shape)} must both be (B, E)"
        )
    image_emb, gene_emb = image_emb.float(), gene_emb.float()
    return logit_scale.float().exp() * image_emb @ gene_emb.t()  # [i, k] = cos(I_i, G_k) / tau


def _fp32(loss: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    """Run ``loss`` with autocast off, so logits and loss are float32 whatever the training
    precision (in bf16, logits at scale 100 are quantised in steps of 0.25-0.5)."""

    @functools.wraps(loss)
    def wrapped(image_emb, gene_emb, logit_scale):
        with torch.autocast(image_emb.device.type, enabled=False):
            return loss(image_emb, gene_emb, logit_scale)

    return wrapped


@_fp32
def clip_loss(
    image_emb: torch.Tensor, gene_emb: torch.Tensor, logit_scale: torch.Tensor
) -> torch.Tensor:
    """Symmetric InfoNCE: (CE(rows) + CE(columns)) / 2 with labels arange(B) -> scalar."""
    logits = _logits(image_emb, gene_emb, logit_scale)
    labels = torch.arange(logits.shape[0], device=logits.device)
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels)) / 2


@_fp32
def mgi_eq1_loss(
    image_emb: torch.Tensor, gene_emb: torch.Tensor, logit_scale: torch.Tensor
) -> torch.Tensor:
    """Paper eq. (1), negated: -sum_i [s_ii - logsumexp_{j,k} s_jk] -> scalar."""
    logits = _logits(image_emb, gene_emb, logit_scale)
    return -(logits.diagonal() - torch.logsumexp(logits.flatten(), dim=0)).sum()


LOSSES: dict[str, Callable[..., torch.Tensor]] = {"clip": clip_loss, "mgi_eq1": mgi_eq1_loss}


def build_loss(name: str) -> Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]:
    """The loss ``name`` (clip or mgi_eq1): loss(image_emb, gene_emb, logit_scale) -> scalar."""
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; known: {sorted(LOSSES)}")
    return LOSSES[name]


@torch.no_grad()
def clamp_logit_scale_(logit_scale: torch.Tensor, max_value: float = MAX_LOGIT_SCALE) -> None:
    """In place: keep logit_scale in [0, log 100] (temperature between 0.01 and 1), as CLIP."""
    logit_scale.clamp_(0.0, max_value)
