"""Cross-modal retrieval on the test patients: does the image find its patient's genes?

Two levels, both reported:

``patient``  each patient's image embedding is the mean of its slices' (L2-normalised) image
             embeddings, renormalised; queries and candidates are the P test patients, in both
             directions (image->gene, gene->image).
``slice``    every test slice queries the P gene embeddings (image->gene only; a gene vector
             has no single slice to find).

Top-k accuracy is the share of queries whose own partner ranks among the k most similar (cosine)
candidates; chance is k / P. Which test slices take part is the caller's choice; pre-training
picks them without the test masks (:func:`mgi.data.brain_slices`).
"""

from __future__ import annotations

import logging

import pandas as pd
import torch
import torch.nn.functional as F

from mgi.data import SliceGeneDataset
from mgi.train.loop import autocast, collate

log = logging.getLogger(__name__)

KS = (1, 5)


@torch.no_grad()
def embed(
    model: torch.nn.Module, dataset: SliceGeneDataset, batch_size: int, precision: str = "bf16"
):
    """Image embeddings per slice (N, E), gene embeddings per patient (P, E), patient (N,)."""
    model.eval()
    device = next(model.parameters()).device
    images, genes = [], {}
    for start in range(0, len(dataset), batch_size):
        idx = list(range(start, min(start + batch_size, len(dataset))))
        batch = collate(dataset, idx, device)
        with autocast(device, precision):
            image_emb, gene_emb = model(batch["image"], batch["genes"])
        images.append(F.normalize(image_emb.float(), dim=-1).cpu())
        for p, g in zip(batch["patient"].tolist(), gene_emb.float().cpu(), strict=True):
            genes.setdefault(p, F.normalize(g, dim=-1))
    patients = sorted(genes)
    return torch.cat(images), torch.stack([genes[p] for p in patients]), dataset.patient.clone()


def topk_accuracy(similarity: torch.Tensor, target: torch.Tensor, k: int) -> float:
    """Share of rows of ``similarity`` (Q, C) whose ``target`` column is among the top ``k``."""
    k = min(k, similarity.shape[1])
    top = similarity.topk(k, dim=1).indices  # (Q, k)
    return float((top == target[:, None]).any(dim=1).float().mean())


def retrieval(
    model: torch.nn.Module, dataset: SliceGeneDataset, batch_size: int = 64, precision="bf16"
):
    """Top-1/top-5 table: direction, level, k, accuracy, chance, n_queries, n_candidates."""
    image, gene, patient = embed(model, dataset, batch_size, precision)
    n = gene.shape[0]
    mean = torch.zeros(n, image.shape[1]).index_add_(0, patient, image)
    per_patient = F.normalize(mean, dim=-1)
    own = torch.arange(n)
    cases = [
        ("image->gene", "patient", per_patient @ gene.T, own),
        ("gene->image", "patient", gene @ per_patient.T, own),
        ("image->gene", "slice", image @ gene.T, patient),
    ]
    rows = []
    for direction, level, sim, target in cases:
        for k in KS:
            rows.append(
                {
                    "direction": direction,
                    "level": level,
                    "k": k,
                    "accuracy": topk_accuracy(sim, target, k),
                    "chance": min(k, n) / n,
                    "n_queries": sim.shape[0],
                    "n_candidates": n,
                }
            )
    table = pd.DataFrame(rows)
    for r in table.itertuples():
        log.info(
            "retrieval %s %s top-%d: %.3f (chance %.3f)",
            r.direction,
            r.level,
            r.k,
            r.accuracy,
            r.chance,
        )
    return table
