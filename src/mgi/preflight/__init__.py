"""Preflight: measure a run on this machine before the long run (``mgi preflight``).

For the config of a run it reports the machine (:mod:`.environment`), the gene encoder's scan
and its parity against the CPU reference (:func:`mgi.models.scan.scan_report`), and for each
distinct training job of the DAG (:mod:`.jobs`) ``steps`` timed steps after ``warmup`` at the
configured batch size and real shapes (:mod:`.measure`): steps/s, peak device memory, the
loader's items/s against what the model consumes. From the cohort's size it estimates the
wall time of the whole run: steps per job x step time, summed over jobs and folds, divided
over ``gpus``. Needs no cohort on disk (the inputs are synthetic, the sizes estimated where no
slice store exists) and runs on the CPU too.

Failures, one plain line each: CUDA asked for and absent (raised before anything runs:
:class:`~.environment.NoCuda`), a scan that cannot run or is the slow one not explicitly
allowed, out of memory at the configured batch (with the largest batch that fits), a
non-finite loss.
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path
from typing import Any

from mgi.preflight.environment import NoCuda, describe, pick
from mgi.preflight.jobs import cohort, n_genes, repeats, steps, training_jobs, training_share

log = logging.getLogger(__name__)

__all__ = ["NoCuda", "preflight"]


def preflight(
    config: dict[str, Any],
    *,
    device: str = "auto",
    steps_timed: int = 20,
    warmup: int = 3,
    gpus: int | None = None,
    store: str | Path | None = None,
    jobs: list[str] | None = None,
) -> dict[str, Any]:
    """The preflight report of ``config`` on ``device`` (a JSON-ready dict; ``failures``: the
    lines that fail it, none when it passes). ``jobs``: measure only these labels."""
    import torch

    from mgi.models.scan import scan_report, set_mode
    from mgi.preflight.measure import measure

    dev = pick(device)  # NoCuda before anything else
    set_mode(config["model"]["genes"]["scan"])
    if not gpus:  # on a CPU: the jobs that run side by side (cores / threads per job)
        parallel = (os.cpu_count() or 1) // max(1, int(config["finetune"]["threads"]))
        gpus = torch.cuda.device_count() if dev.type == "cuda" else max(1, parallel)
    report: dict[str, Any] = {"environment": describe(dev), "failures": []}
    failures = report["failures"]
    todo = [j for j in training_jobs(config) if not jobs or j.label in jobs]
    if "mamba" in config["pretrain"]["gene_encoders"]:  # (finetune.gene_encoder is one of them)
        block = config["model"]["genes"]["block"]
        scan = scan_report(dev, config["model"]["genes"]["scan"], block)
        report["scan"] = scan
        if not scan["ok"]:
            failures.append(_first_line(scan["error"] or _parity_line(scan)))
    genes = n_genes(config)
    sizes = cohort(config, store)
    share, folds = training_share(config)
    report["cohort"] = {**sizes, "training_share": share, "folds": folds, "genes": genes}
    report["jobs"] = []
    for job in todo:
        log.info("preflight: %s", job.label)
        try:
            figures = measure(job, config, dev, steps=steps_timed, warmup=warmup, n_genes=genes)
        except (RuntimeError, ValueError) as err:  # the scan (ScanUnavailable), a bad shape
            figures = {"job": job.label, "stage": job.stage, "name": job.name, "error": str(err)}
            log.debug("%s", job.label, exc_info=True)
        figures["steps_per_run"] = steps(job, config, sizes)
        figures["runs"] = folds * repeats(job, config)  # folds x seeds
        seconds = figures.get("step_seconds")
        runs = figures["runs"]
        figures["hours"] = figures["steps_per_run"] * runs * seconds / 3600 if seconds else None
        if figures["error"] and _first_line(figures["error"]) not in failures:
            failures.append(_first_line(figures["error"]))
        report["jobs"].append(figures)
    hours = [j["hours"] for j in report["jobs"] if j["hours"] is not None]
    total = sum(hours) if len(hours) == len(report["jobs"]) else math.nan
    report["estimate"] = {
        "device_hours": total,
        "gpus": gpus,
        "wall_hours": total / gpus,
        "note": "training steps only (validation, prediction and evaluation add a few %); "
        "a job runs on one device, so more devices than jobs do not help",
    }
    report["ok"] = not failures
    return report


def _parity_line(scan: dict[str, Any]) -> str:
    return (
        f"scan: {scan['scan']} on {scan['device']} differs from the CPU reference "
        f"(max abs error {scan['parity_max_abs_err']:.3g})"
    )


def _first_line(text: str) -> str:
    return " ".join(text.split())  # one plain line


def write(report: dict[str, Any], out: str | Path) -> tuple[Path, Path]:
    """``out``/preflight.json and preflight.md, atomically."""
    from mgi.preflight.report import write_report

    return write_report(report, Path(out))
