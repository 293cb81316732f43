"""Timed optimiser steps of one training job on synthetic inputs of the run's real shapes.

The job's own model (``mgi.config.keys`` options, as its Snakemake job builds it), task (loss,
batch draw, augmentation), optimiser, loader (``workers``) and step (:mod:`mgi.train.loop`);
only the data are random: slices of ``imaging.size``, ``n_genes`` genes, enough patients for
distinct-patient batches. ``warmup`` steps first (cuDNN autotuning, allocator, kernels), then
``steps`` timed ones between two device syncs, on batches loaded beforehand: that is what the
model consumes. The loader (``workers`` processes, the job's augmentation) is timed apart; a
job's step then takes compute + loading with ``workers: 0``, the longer of the two with
workers that prefetch.
"""

from __future__ import annotations

import gc
import logging
import resource
import time
from typing import Any

import numpy as np
import torch

from mgi.config import keys
from mgi.data import Cohort, SliceGeneDataset
from mgi.models.scan import check_scan
from mgi.preflight.jobs import Job
from mgi.train.loader import batch_loader, to_device
from mgi.train.loop import _step, _trainer, fast_cuda
from mgi.train.specs import FinetuneSpec, Optim, PretrainSpec, from_mapping

log = logging.getLogger(__name__)

OOM = torch.cuda.OutOfMemoryError  # (torch.OutOfMemoryError from torch 2.5 on)


def synthetic_dataset(items: int, patients: int, size: int, genes: int, seed: int = 0):
    """A :class:`SliceGeneDataset` of random slices (half with a square tumour) and genes."""
    rng = np.random.default_rng(seed)
    images = rng.random((items, size, size), dtype=np.float32).astype(np.float16)
    masks = np.zeros((items, size, size), np.uint8)
    masks[::2, size // 4 : size // 2, size // 4 : size // 2] = 1  # every other slice: tumour
    patient = np.arange(items) % patients
    cohort = Cohort(
        case_ids=tuple(f"SYN-{p:04d}" for p in range(patients)),
        rows=np.arange(items, dtype=np.int64),
        patient=patient.astype(np.int64),
        genes=rng.standard_normal((patients, genes), dtype=np.float32),
        gene_ids=tuple(f"G{g}" for g in range(genes)),
    )
    return SliceGeneDataset(images, masks, cohort)


def _build(job: Job, config: dict[str, Any], batch: int, dataset, device: torch.device):
    """(model, task, opt) of ``job`` at batch size ``batch``, as its training script builds them."""
    section = {**config[job.stage], "batch_size": batch, "device": str(device)}
    opt = from_mapping(Optim, section)
    size, genes = int(dataset.images.shape[-1]), dataset.genes.shape[1]
    torch.manual_seed(opt.seed)
    if job.stage == "pretrain":
        from mgi.train.pretrain import build_pretrain_model, contrastive_task

        spec = from_mapping(PretrainSpec, section, gene_encoder=job.name)
        model_config = keys.pretrain_model(config, job.name)
        model = build_pretrain_model(job.name, n_genes=genes, img_size=size, model=model_config)
        return model, contrastive_task(dataset, spec, opt.seed), opt
    from mgi.train import finetune as ft

    spec = from_mapping(FinetuneSpec, section)
    run = ft.Run.parse(job.name, config["finetune"]["gene_encoder"])
    model = ft.build_segmentation_model(
        run,
        n_genes=genes,
        img_size=size,
        model=keys.finetune_model(config, job.name),
        no_genes_token=ft.has_no_genes_token(run, spec),
    )
    return model, ft.segmentation_task(dataset, run, spec, opt.seed), opt


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _peak_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def _batches(task, need: int) -> list[list[int]]:
    """``need`` batches of the task's draw (epochs 0, 1, ... as many as it takes)."""
    out: list[list[int]] = []
    epoch = 0
    while len(out) < need:
        out += task.batches(epoch)
        epoch += 1
    return out[:need]


def loader_rate(dataset, batches, workers: int, device: torch.device) -> float:
    """Items per second the job's loader delivers (``workers`` processes; the first batch,
    which starts the workers, is not timed)."""
    loader, keys_ = batch_loader(dataset, workers, device)
    keys_.set(0, batches)
    items, tic = 0, None
    for i, batch in enumerate(loader):
        if i == 0:
            tic = time.perf_counter()
            continue
        items += len(next(iter(batch.values())))
    seconds = time.perf_counter() - tic if tic is not None else 0.0
    return items / seconds if seconds > 0 else float("nan")


def timed_steps(
    job: Job, config: dict[str, Any], device: torch.device, *, batch: int, steps: int,
    warmup: int, dataset,
) -> dict[str, Any]:  # fmt: skip
    """Train ``warmup + steps`` steps of ``job`` at ``batch``; time the last ``steps``."""
    model, task, opt = _build(job, config, batch, dataset, device)
    scan = check_scan(model, device)  # raises ScanUnavailable like the job would
    fast_cuda(device)
    model.to(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    trainer = _trainer(model, task, opt, warmup + steps)
    batches = _batches(task, warmup + steps)
    loader, keys_ = batch_loader(task.dataset, 0, device)
    keys_.set(0, batches)
    loaded = list(loader)  # beforehand: the steps time the model alone
    losses, tic = [], time.perf_counter()
    model.train()
    for i, b in enumerate(loaded):
        if i == warmup:
            _sync(device)
            tic = time.perf_counter()
        losses.append(_step(trainer, task, opt, to_device(b, device), device))
    _sync(device)
    seconds = (time.perf_counter() - tic) / steps
    loss = torch.stack(losses).float().cpu()
    return {
        "scan": scan,
        "compute_seconds": seconds,
        "model_items_per_s": batch / seconds,
        "peak_memory_mb": _peak_mb(device),
        "memory_kind": "max_memory_allocated" if device.type == "cuda" else "process peak RSS",
        "loss_first": float(loss[0]),
        "loss_last": float(loss[-1]),
        "finite": bool(torch.isfinite(loss).all()),
        "batches": batches,
        "task": task,
    }


def free(device: torch.device) -> None:
    """Give memory back between jobs (and after an out-of-memory error)."""
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def largest_batch(fits, batch: int, smallest: int = 1) -> int | None:
    """The largest batch below ``batch`` (halving, then the exact boundary by bisection) for
    which ``fits(b)`` is True; None if not even ``smallest`` fits."""
    lo, hi = None, batch  # hi: known not to fit
    b = batch // 2
    while b >= smallest:
        if fits(b):
            lo = b
            break
        hi, b = b, b // 2
    if lo is None:
        return None
    while hi - lo > 1:  # bisect between a fitting and a failing size
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return lo


def measure(
    job: Job, config: dict[str, Any], device: torch.device, *, steps: int, warmup: int,
    n_genes: int,
) -> dict[str, Any]:  # fmt: skip
    """The figures of ``job`` at its configured batch size (``error``: one line, else None)."""
    section = config[job.stage]
    batch = int(section["batch_size"])
    size = int(config["imaging"]["size"])
    need = max(warmup + steps, 3)  # the loader's rate needs a few batches
    dataset = synthetic_dataset(need * batch, max(2 * batch, 4), size, n_genes)
    threads = torch.get_num_threads()
    if device.type == "cpu":  # as the job runs: its threads
        torch.set_num_threads(int(section["threads"]))
    out: dict[str, Any] = {"job": job.label, "stage": job.stage, "name": job.name}
    out.update(batch_size=batch, workers=int(section["workers"]), error=None)
    try:
        r = timed_steps(job, config, device, batch=batch, steps=steps, warmup=warmup,
                        dataset=dataset)  # fmt: skip
    except OOM:
        r = None
    finally:
        torch.set_num_threads(threads)
    if r is None:
        free(device)
        out["largest_batch"] = _search(job, config, device, batch, size, n_genes)
        fit = out["largest_batch"]
        out["error"] = (
            f"{job.label}: out of memory at {job.stage}.batch_size {batch} on {device}; "
            + (f"the largest batch that fits is {fit}" if fit else "not even the smallest fits")
        )
        return out
    rate = loader_rate(r["task"].dataset, _batches(r["task"], need), out["workers"], device)
    out.update({k: v for k, v in r.items() if k not in ("batches", "task")})
    load = batch / rate if rate > 0 else 0.0
    step = r["compute_seconds"] + load if out["workers"] == 0 else max(r["compute_seconds"], load)
    out.update(loader_items_per_s=rate, loader_bound=bool(load > r["compute_seconds"]))
    out.update(step_seconds=step, steps_per_s=1 / step)
    if not r["finite"]:
        out["error"] = (
            f"{job.label}: the loss is not finite within {warmup + steps} steps "
            f"(last {out['loss_last']}); lower {job.stage}.lr or check the inputs"
        )
    free(device)
    return out


def _search(job, config, device, batch: int, size: int, n_genes: int) -> int | None:
    smallest = 2 if job.stage == "pretrain" else 1  # contrastive pairs need a negative

    def fits(b: int) -> bool:
        data = synthetic_dataset(2 * b, max(2 * b, 4), size, n_genes)
        try:
            timed_steps(job, config, device, batch=b, steps=1, warmup=1, dataset=data)
        except OOM:
            ok = False
        else:
            ok = True
        free(device)
        log.info("%s: batch %d %s", job.label, b, "fits" if ok else "does not fit")
        return ok

    return largest_batch(fits, batch, smallest)
