"""The epoch loop both training stages share.

AdamW (no weight decay on norms, biases, embeddings and tokens: :mod:`mgi.train.optim`) + cosine
schedule (linear warm-up) stepped per batch, bf16/fp16 autocast on CUDA (fp16 with a grad
scaler; fp32 on CPU), gradient clipping, a checkpoint every ``checkpoint_minutes`` (mid-epoch
too), on SIGTERM/SIGUSR1 and at the end, and resume from the newest checkpoint of the same
configuration. A resumed run replays exactly what an uninterrupted one does: batch order (and
augmentation) depends only on ``(seed, epoch)`` and the RNG states (and the fp16 grad scaler's)
travel with the checkpoint. Written by hand (not Lightning/Ignite) because that exact-replay
guarantee, mid-epoch signal checkpoints and no extra dependency are the whole point here.

Keeping a GPU fed (:class:`mgi.train.specs.Loop`): batches come from a ``DataLoader`` with
``workers`` prefetching processes (:mod:`mgi.train.loader`; the same batches for any number);
the loss is summed on the device and checked for a non-finite value every ``check_every``
steps, at each checkpoint and at the end of an epoch, so a step never waits for the host. On
CUDA: cuDNN autotuning, TF32 for float32 matmuls and convolutions, fused AdamW.
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

from mgi.models.scan import check_scan
from mgi.provenance import config_hash, provenance
from mgi.train import checkpoint
from mgi.train.loader import batch_loader, to_device
from mgi.train.optim import autocast, grad_scaler, param_groups
from mgi.train.signals import StopFlag, StopRequested
from mgi.train.specs import Loop, Optim
from mgi.train.watch import Watch

log = logging.getLogger(__name__)

Batch = dict[str, torch.Tensor]

clock = time.monotonic  # the checkpoint timer (tests replace it)


def pick_device(name: str = "auto") -> torch.device:
    """``auto`` -> cuda when available, else cpu (on CUDA with :func:`fast_cuda`'s settings:
    training, prediction and the probe's embeddings alike)."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {name!r} requested but CUDA is not available")
    device = torch.device(name)
    fast_cuda(device)
    return device


def fast_cuda(device: torch.device) -> None:
    """On CUDA: cuDNN picks the fastest convolution algorithms for the (fixed) batch shapes,
    and float32 matmuls/convolutions (autocast's fp32 islands, fp32 runs) use TF32."""
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True


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
    device = next(model.parameters()).device
    fused = device.type == "cuda"  # one kernel for all parameters instead of a loop over them
    optimizer = torch.optim.AdamW(groups, lr=opt.lr, weight_decay=opt.weight_decay, fused=fused)
    total, warmup = steps * opt.epochs, round(steps * opt.warmup_epochs)
    scheduler = cosine_schedule(optimizer, total, max(1, warmup), opt.min_lr_ratio)
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
        "partial": {**partial, "loss": float(partial["loss"])},  # (a device sum in training)
        "config_hash": key,
        "provenance": provenance(config, seed),
    }


def fit(
    model: torch.nn.Module,
    task: Task,
    opt: Optim,
    *,
    ckpt_dir: str | Path,
    config: dict[str, Any],
    loop: Loop | None = None,
) -> pd.DataFrame:
    """Train ``model`` in place; returns the history (epoch, train_loss, lr, seconds, ...).

    ``config`` (everything that defines the run, inputs' fingerprints included) is hashed: a
    checkpoint in ``ckpt_dir`` with the same hash is resumed, others are ignored. Raises
    :class:`StopRequested` after checkpointing when SIGTERM/SIGUSR1 arrives. ``loop``: workers,
    checkpoint interval, TensorBoard (none of them changes a result).
    """
    loop = loop or Loop()
    device = pick_device(opt.device)
    check_scan(model, device)  # logs which scan runs; stops here if it cannot (no kernel)
    model.to(device)
    key = config_hash({**config, "optim": asdict(opt)})
    t = _trainer(model, task, opt, len(task.batches(0)))
    history: list[dict[str, float]] = []
    start_epoch, start_step, partial = 0, 0, _fresh(device)
    state = checkpoint.latest(ckpt_dir, key)
    if state is not None:
        start_epoch, start_step, history, partial = _restore(state, t, device)
    loader, keys = batch_loader(task.dataset, loop.workers, device)
    watch = Watch(loop.tensorboard)
    saved = clock()
    try:
        with StopFlag() as stop:
            for epoch in range(start_epoch, opt.epochs):
                model.train()
                tic = time.perf_counter() - partial["seconds"]
                batches = task.batches(epoch)
                if task.start_epoch is not None:
                    task.start_epoch(epoch)
                first = start_step if epoch == start_epoch else 0
                keys.set(epoch, batches, first)
                desc = f"{task.desc} {epoch + 1}/{opt.epochs}"
                bar = tqdm(total=len(batches), initial=first, unit="batch", leave=False, desc=desc)
                lap = (time.perf_counter(), first)
                for i, batch in enumerate(loader, start=first):
                    loss = _step(t, task, opt, to_device(batch, device), device)
                    partial["loss"] += loss.double() * len(batches[i])  # on the device: no sync
                    partial["n"] += len(batches[i])
                    bar.update()
                    if (i + 1) % loop.check_every == 0:
                        _finite(task, partial)
                        bar.set_postfix(loss=f"{float(loss):.4f}")
                        lap = _watch_steps(watch, t, loss, lap, i + 1, epoch * len(batches))
                    at = (epoch, i + 1, history, partial, key, config, opt.seed)
                    if stop.signum is not None:  # checkpoint mid-epoch, then leave non-zero
                        partial["seconds"] = time.perf_counter() - tic
                        path = _save(ckpt_dir, t, task, at)
                        raise StopRequested(stop.signum, str(path))
                    if i + 1 < len(batches) and _due(saved, loop):  # by time, mid-epoch
                        partial["seconds"] = time.perf_counter() - tic
                        _save(ckpt_dir, t, task, at)
                        saved = clock()
                bar.close()
                _finite(task, partial)
                history.append(_epoch_row(task, model, epoch, partial, t.scheduler, tic))
                watch.scalars(
                    "epoch", {k: v for k, v in history[-1].items() if k != "epoch"}, epoch + 1
                )
                partial = _fresh(device)
                last = epoch + 1 == opt.epochs
                if last or loop.checkpoint_minutes <= 0 or _due(saved, loop):
                    at = (epoch + 1, 0, history, partial, key, config, opt.seed)
                    _save(ckpt_dir, t, task, at)
                    saved = clock()
    finally:
        watch.close()
    return pd.DataFrame(history)


def _due(saved: float, loop: Loop) -> bool:
    """Whether ``checkpoint_minutes`` have passed since the last checkpoint (0: never by time)."""
    return loop.checkpoint_minutes > 0 and clock() - saved >= loop.checkpoint_minutes * 60


def _save(ckpt_dir, t: Trainer, task: Task, at) -> Path:
    """Checkpoint ``at`` = (epoch, step, history, partial, key, config, seed), a finite run only."""
    _finite(task, at[3])
    return checkpoint.save(ckpt_dir, _state(t, *at))


def _finite(task: Task, partial) -> None:
    """Stop if a loss since the epoch began was not finite (one host sync)."""
    total = partial["loss"]
    if not bool(torch.isfinite(total)):
        raise RuntimeError(f"{task.desc}: loss is {float(total)} (diverged); lower the lr")


def _watch_steps(watch: Watch, t: Trainer, loss, lap, step: int, offset: int):
    """TensorBoard scalars at a check: the last loss, the lr, the mean step time since ``lap``."""
    now = time.perf_counter()
    seconds = (now - lap[0]) / max(1, step - lap[1])
    values = {"loss": float(loss), "lr": t.scheduler.get_last_lr()[0], "step_seconds": seconds}
    watch.scalars("train", values, offset + step)
    return now, step


def _fresh(device: torch.device) -> dict[str, Any]:
    """Running sums of the epoch in progress (the loss sum on the device, float64)."""
    loss = torch.zeros((), dtype=_sum_dtype(device), device=device)
    return {"loss": loss, "n": 0, "seconds": 0.0}


def _sum_dtype(device: torch.device) -> torch.dtype:
    return torch.float32 if device.type == "mps" else torch.float64  # (MPS has no float64)


def _restore(state: dict[str, Any], t: Trainer, device: torch.device):
    """Load a checkpoint into the training objects; returns (epoch, step, history, partial)."""
    t.model.load_state_dict(state["model"])
    t.optimizer.load_state_dict(state["optimizer"])
    t.scheduler.load_state_dict(state["scheduler"])
    if state.get("scaler"):  # fp16 on CUDA (a disabled scaler's state is empty)
        t.scaler.load_state_dict(state["scaler"])
    checkpoint.set_rng_state(state["rng"])
    partial = dict(state["partial"])
    partial["loss"] = torch.tensor(partial["loss"], dtype=_sum_dtype(device), device=device)
    return state["epoch"], state["step"], state["history"], partial


def _epoch_row(task: Task, model, epoch: int, partial, scheduler, tic: float) -> dict[str, float]:
    """The history row of a finished epoch (logged)."""
    row = {
        "epoch": epoch + 1,
        "train_loss": float(partial["loss"]) / max(1, partial["n"]),
        "lr": scheduler.get_last_lr()[0],
        "seconds": time.perf_counter() - tic,
    }
    row.update(task.metrics(model) if task.metrics else {})
    log.info(
        "%s epoch %d: %s", task.desc, epoch + 1, ", ".join(f"{k}={v:.4g}" for k, v in row.items())
    )
    return row


def _step(t: Trainer, task: Task, opt: Optim, batch: Batch, device) -> torch.Tensor:
    """One optimiser step on ``batch`` (on the device); returns the detached loss, without
    waiting for it. With fp16 the scaler skips a step whose gradients overflowed (and lowers
    its scale)."""
    with autocast(device, opt.precision):
        loss = task.loss(t.model, batch)
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
    return loss.detach()
