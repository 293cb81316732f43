"""The epoch loop both training stages share.

AdamW (no weight decay on norms, biases, embeddings and tokens: :mod:`mgi.train.optim`) + cosine
schedule (linear warm-up) stepped per batch, bf16/fp16 autocast on CUDA (fp16 with a grad
scaler; fp32 on CPU), gradient clipping, a checkpoint after every epoch and on SIGTERM/SIGUSR1,
and resume from the newest checkpoint of the same configuration. A resumed run replays exactly
what an uninterrupted one does: batch order (and augmentation) depends only on ``(seed, epoch)``
and the RNG states (and the fp16 grad scaler's) travel with the checkpoint. Written by hand (not
Lightning/Ignite) because that exact-replay guarantee, mid-epoch signal checkpoints and no extra
dependency are the whole point here.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch.utils.data import Dataset, default_collate
from tqdm import tqdm

from mgi.provenance import config_hash, provenance
from mgi.train import checkpoint
from mgi.train.optim import autocast, grad_scaler, param_groups
from mgi.train.signals import StopFlag, StopRequested
from mgi.train.specs import Optim

log = logging.getLogger(__name__)

Batch = dict[str, torch.Tensor]


def pick_device(name: str = "auto") -> torch.device:
    """``auto`` -> cuda when available, else cpu."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {name!r} requested but CUDA is not available")
    return torch.device(name)


def cosine_schedule(optimizer, total_steps: int, warmup_steps: int, min_ratio: float):
    """``LambdaLR``: linear warm-up to the peak, cosine decay to ``min_ratio`` x peak."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        t = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * t))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def collate(dataset: Dataset, indices: Sequence[int], device: torch.device) -> Batch:
    """Stack items ``indices`` of ``dataset`` and move them to ``device``."""
    batch = default_collate([dataset[i] for i in indices])
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


@dataclass
class Task:
    """What a stage plugs into :func:`fit`.

    ``batches(epoch)`` -> index lists; ``loss(model, batch)`` -> scalar; ``after_step(model)``
    (e.g. clamp logit_scale); ``metrics(model)`` -> extra per-epoch columns; ``start_epoch(epoch)``
    is called before an epoch's (or a resumed epoch's) first step (e.g. to seed augmentation).
    """

    dataset: Dataset
    batches: Callable[[int], list[list[int]]]
    loss: Callable[[torch.nn.Module, Batch], torch.Tensor]
    after_step: Callable[[torch.nn.Module], None] | None = None
    metrics: Callable[[torch.nn.Module], dict[str, float]] | None = None
    desc: str = "train"
    head_lr_mult: float = 1.0  # lr multiplier of parameters outside ``pretrained`` modules
    pretrained: tuple[str, ...] = ()  # names of child modules that start from pre-training
    start_epoch: Callable[[int], None] | None = None


@dataclass
class Trainer:
    """The stateful training objects (all saved in checkpoints)."""

    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler


def _trainer(model: torch.nn.Module, task: Task, opt: Optim, steps: int) -> Trainer:
    groups = param_groups(
        model,
        lr=opt.lr,
        weight_decay=opt.weight_decay,
        head_lr_mult=task.head_lr_mult,
        pretrained=task.pretrained,
    )
    optimizer = torch.optim.AdamW(groups, lr=opt.lr, weight_decay=opt.weight_decay)
    total, warmup = steps * opt.epochs, round(steps * opt.warmup_epochs)
    scheduler = cosine_schedule(optimizer, total, max(1, warmup), opt.min_lr_ratio)
    device = next(model.parameters()).device
    return Trainer(model, optimizer, scheduler, grad_scaler(device, opt.precision))


def _state(t: Trainer, epoch, step, history, partial, key, config, seed) -> dict[str, Any]:
    return {
        "epoch": epoch,
        "step": step,
        "model": t.model.state_dict(),
        "optimizer": t.optimizer.state_dict(),
        "scheduler": t.scheduler.state_dict(),
        "scaler": t.scaler.state_dict(),
        "rng": checkpoint.rng_state(),
        "history": history,
        "partial": partial,
        "config_hash": key,
        "provenance": provenance(config, seed),
    }


def fit(
    model: torch.nn.Module, task: Task, opt: Optim, *, ckpt_dir: str | Path, config: dict[str, Any]
) -> pd.DataFrame:
    """Train ``model`` in place; returns the history (epoch, train_loss, lr, seconds, ...).

    ``config`` (everything that defines the run, inputs' fingerprints included) is hashed: a
    checkpoint in ``ckpt_dir`` with the same hash is resumed, others are ignored. Raises
    :class:`StopRequested` after checkpointing when SIGTERM/SIGUSR1 arrives.
    """
    device = pick_device(opt.device)
    model.to(device)
    key = config_hash({**config, "optim": asdict(opt)})
    t = _trainer(model, task, opt, len(task.batches(0)))
    history: list[dict[str, float]] = []
    start_epoch, start_step, partial = 0, 0, _fresh()
    state = checkpoint.latest(ckpt_dir, key)
    if state is not None:
        start_epoch, start_step, history, partial = _restore(state, t)
    with StopFlag() as stop:
        for epoch in range(start_epoch, opt.epochs):
            model.train()
            tic = time.perf_counter() - partial["seconds"]
            batches = task.batches(epoch)
            if task.start_epoch is not None:
                task.start_epoch(epoch)
            first = start_step if epoch == start_epoch else 0
            desc = f"{task.desc} {epoch + 1}/{opt.epochs}"
            bar = tqdm(total=len(batches), initial=first, unit="batch", leave=False, desc=desc)
            for i in range(first, len(batches)):
                loss = _step(t, task, opt, batches[i], device)
                partial["loss"] += loss * len(batches[i])
                partial["n"] += len(batches[i])
                bar.update()
                bar.set_postfix(loss=f"{loss:.4f}")
                if stop.signum is not None:  # checkpoint mid-epoch, then leave non-zero
                    partial["seconds"] = time.perf_counter() - tic
                    at = (epoch, i + 1, history, partial, key, config, opt.seed)
                    path = checkpoint.save(ckpt_dir, _state(t, *at))
                    raise StopRequested(stop.signum, str(path))
            bar.close()
            history.append(_epoch_row(task, model, epoch, partial, t.scheduler, tic))
            partial = _fresh()
            at = (epoch + 1, 0, history, partial, key, config, opt.seed)
            checkpoint.save(ckpt_dir, _state(t, *at))
    return pd.DataFrame(history)


def _fresh() -> dict[str, float]:
    """Running sums of the epoch in progress."""
    return {"loss": 0.0, "n": 0, "seconds": 0.0}


def _restore(state: dict[str, Any], t: Trainer):
    """Load a checkpoint into the training objects; returns (epoch, step, history, partial)."""
    t.model.load_state_dict(state["model"])
    t.optimizer.load_state_dict(state["optimizer"])
    t.scheduler.load_state_dict(state["scheduler"])
    if state.get("scaler"):  # fp16 on CUDA (a disabled scaler's state is empty)
        t.scaler.load_state_dict(state["scaler"])
    checkpoint.set_rng_state(state["rng"])
    return state["epoch"], state["step"], state["history"], state["partial"]


def _epoch_row(task: Task, model, epoch: int, partial, scheduler, tic: float) -> dict[str, float]:
    """The history row of a finished epoch (logged)."""
    row = {
        "epoch": epoch + 1,
        "train_loss": partial["loss"] / max(1, partial["n"]),
        "lr": scheduler.get_last_lr()[0],
        "seconds": time.perf_counter() - tic,
    }
    row.update(task.metrics(model) if task.metrics else {})
    log.info(
        "%s epoch %d: %s", task.desc, epoch + 1, ", ".join(f"{k}={v:.4g}" for k, v in row.items())
    )
    return row


def _step(t: Trainer, task: Task, opt: Optim, indices, device) -> float:
    """One optimiser step on the batch ``indices``; returns the loss. With fp16 the scaler
    skips a step whose gradients overflowed (and lowers its scale)."""
    batch = collate(task.dataset, indices, device)
    with autocast(device, opt.precision):
        loss = task.loss(t.model, batch)
    if not torch.isfinite(loss):
        raise RuntimeError(f"{task.desc}: loss is {loss.item()} (diverged); lower the lr")
    t.optimizer.zero_grad(set_to_none=True)
    t.scaler.scale(loss).backward()
    if opt.grad_clip > 0:
        t.scaler.unscale_(t.optimizer)  # clip the true gradients
        torch.nn.utils.clip_grad_norm_(t.model.parameters(), opt.grad_clip)
    t.scaler.step(t.optimizer)
    t.scaler.update()
    t.scheduler.step()
    if task.after_step is not None:
        task.after_step(t.model)
    return float(loss.detach())
