"""AdamW parameter groups and mixed precision of the training loop.

Weight decay: timm's ``param_groups_weight_decay`` decides which parameters decay (not 1-D
ones: norms, biases, scalars such as ``logit_scale``; not the names in :data:`NO_WEIGHT_DECAY`:
embeddings, position/class tokens, learned queries); the groups are then split by learning rate
(pre-trained children at ``lr``, new heads at ``lr * head_lr_mult``).

Precision: ``bf16`` or ``fp16`` autocast on CUDA (nothing is autocast on a CPU, which trains in
fp32); ``fp16`` also scales the loss with ``torch.amp.GradScaler`` (fp16's range is too narrow
for small gradients), whose state travels with the checkpoints.
"""

from __future__ import annotations

import contextlib
from typing import Any, Literal

import torch

Precision = Literal["bf16", "fp16", "fp32"]
DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}

# Parameters that never decay besides timm's 1-D rule (fnmatch patterns on parameter names):
# shrinking an embedding or a token towards 0 is no regulariser, only a bias.
NO_WEIGHT_DECAY = (
    "*pos_embed",  # ViT position embedding (timm's no_weight_decay())
    "*cls_token",  # ViT class token
    "*dist_token",  # (distilled ViTs)
    "*tokenizer.identity",  # gene-identity embedding of the gene tokenizer
    "*queries",  # learned queries of the gene-token pooling
    "*mask_token",  # the fusion decoder's mask token
    "*A_log",  # Mamba's state matrix (mamba-ssm marks it _no_weight_decay; D is 1-D)
    "logit_scale",  # the contrastive temperature (0-D: timm's rule catches it too)
)


def param_groups(
    model: torch.nn.Module,
    *,
    lr: float,
    weight_decay: float,
    head_lr_mult: float = 1.0,
    pretrained: tuple[str, ...] = (),
) -> list[dict[str, Any]]:
    """AdamW groups: (pre-trained, new) x (decay, no decay), non-empty ones, in that order.

    Children named in ``pretrained`` train at ``lr``, the rest at ``lr * head_lr_mult``, so the
    first group is always at ``lr``. Each group has ``names`` (its parameters' names).
    """
    from timm.optim import param_groups_weight_decay

    decided = param_groups_weight_decay(model, weight_decay, no_weight_decay_list=NO_WEIGHT_DECAY)
    decay_of = {id(p): g["weight_decay"] for g in decided for p in g["params"]}
    groups: dict[tuple[bool, bool], dict[str, Any]] = {}
    for old in (True, False):
        for decays in (True, False):
            rate = lr if old else lr * head_lr_mult
            wd = weight_decay if decays else 0.0
            groups[old, decays] = {"params": [], "names": [], "lr": rate, "weight_decay": wd}
    for name, p in model.named_parameters():
        if id(p) not in decay_of:  # frozen
            continue
        old = name.split(".")[0] in pretrained
        group = groups[old, bool(decay_of[id(p)])]
        group["params"].append(p)
        group["names"].append(name)
    return [g for g in groups.values() if g["params"]]


def autocast(device: torch.device, precision: Precision = "bf16"):
    """Autocast to ``precision`` on CUDA; plain fp32 on other devices and with ``fp32``."""
    if device.type == "cuda" and precision in DTYPES:
        return torch.autocast("cuda", dtype=DTYPES[precision])
    return contextlib.nullcontext()


def grad_scaler(device: torch.device, precision: Precision) -> torch.amp.GradScaler:
    """A loss scaler, enabled for ``fp16`` on CUDA only (disabled, it passes everything through:
    ``scale(loss)`` is ``loss``, ``step(opt)`` is ``opt.step()``)."""
    enabled = precision == "fp16" and device.type == "cuda"
    return torch.amp.GradScaler(device.type, enabled=enabled)
