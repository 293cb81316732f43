"""One training step of a run's model at the run's real shapes, on random inputs.

Builds the models exactly as the workflow does (sizes from the config, through
:mod:`mgi.config.keys`) and runs one forward + backward pass with the stage's loss, so shape and
memory errors of a paper-scale config show on a CPU before anyone rents a GPU. Used by
``tests/test_paper_scale.py`` and ``benchmarks/paper_scale_step.py``.
"""

from __future__ import annotations

import time
from typing import Any

import torch

from mgi.config import keys

# The models of a run's Table 1 path: MGI's pre-training, its fine-tuned runs, the baselines.
MODELS = (
    "pretrain:mamba",
    "mgi",
    "image_only",
    "unet",
    "resunet",
    "attention_unet",
    "deeplabv3plus",
)


def n_genes(config: dict[str, Any], default: int = 16384) -> int:
    """The genes the models see: ``expression.top_k_variance`` (or ``default`` without one)."""
    return config["expression"]["top_k_variance"] or default


def build(config: dict[str, Any], name: str, genes: int) -> torch.nn.Module:
    """``pretrain:<encoder>`` or a fine-tuning run name -> its model, sized by ``config``."""
    size = config["imaging"]["size"]
    if name.startswith("pretrain:"):
        from mgi.train.pretrain import build_pretrain_model

        encoder = name.split(":", 1)[1]
        model = keys.pretrain_model(config, encoder)
        return build_pretrain_model(encoder, n_genes=genes, img_size=size, model=model)
    from mgi.train.finetune import Run, build_segmentation_model

    run = Run.parse(name, config["finetune"]["gene_encoder"])
    model = keys.finetune_model(config, name)
    return build_segmentation_model(run, n_genes=genes, img_size=size, model=model)


def step(config: dict[str, Any], name: str, *, batch: int = 2, seed: int = 0) -> dict[str, Any]:
    """Build ``name`` and run one forward + backward (+ AdamW step); returns sizes and seconds."""
    from monai.losses import DiceCELoss

    from mgi.losses import build_loss

    torch.manual_seed(seed)
    genes = n_genes(config)
    size = config["imaging"]["size"]
    started = time.perf_counter()
    model = build(config, name, genes)
    built = time.perf_counter()
    images = torch.rand(batch, 1, size, size)
    expression = torch.randn(batch, genes)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    if name.startswith("pretrain:"):
        image_emb, gene_emb = model(images, expression)
        loss = build_loss(config["pretrain"]["loss"])(image_emb, gene_emb, model.logit_scale)
    else:
        masks = (torch.rand(batch, 1, size, size) > 0.9).float()
        uses_genes = name.startswith("mgi")
        logits = model(images, expression if uses_genes else None)
        assert logits.shape == (batch, 1, size, size), f"{name}: logits {tuple(logits.shape)}"
        loss = DiceCELoss(sigmoid=True, batch=True)(logits, masks)
    loss.backward()
    optimizer.step()
    done = time.perf_counter()
    if not torch.isfinite(loss):
        raise RuntimeError(f"{name}: non-finite loss {loss.item()}")
    return {
        "model": name,
        "parameters": sum(p.numel() for p in model.parameters()),
        "genes": genes,
        "size": size,
        "batch": batch,
        "build_s": built - started,
        "step_s": done - built,
        "loss": float(loss),
    }
